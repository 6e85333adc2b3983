/**
 * Where a version's traffic goes, from spec.trafficRouting: with istio, a DestinationRule subset
 * of spec.service (`subset:`, "{{ version }}" by default) or a Service of its own (`host:`); with
 * gatewayAPI always a Service of its own (`host:`, "{{ service }}-{{ version }}" by default). The
 * traffic adapter routes to it, the analysis queries its telemetry: both derive it here.
 */
import type { Rollout } from "./model.js";
import { renderTemplate } from "./template.js";

export interface Destination {
  host: string;
  subset?: string;
}

const DEFAULT_SUBSET = "{{ version }}";
const DEFAULT_SERVICE_PER_VERSION = "{{ service }}-{{ version }}";

/** The template of a version's destination: its host (a Service per version), or its subset of spec.service. */
function destinationTemplate(rollout: Rollout): { host: string } | { subset: string } {
  const { istio, gatewayAPI } = rollout.spec.trafficRouting;
  if (gatewayAPI !== undefined) return { host: gatewayAPI.host ?? DEFAULT_SERVICE_PER_VERSION };
  if (istio?.host !== undefined) return { host: istio.host };
  return { subset: istio?.subset ?? DEFAULT_SUBSET };
}

/** Whether each version is a Service of its own (no DestinationRule subsets). */
export function servicePerVersion(rollout: Rollout): boolean {
  return "host" in destinationTemplate(rollout);
}

/** The destination of `version`'s requests, as a VirtualService route names it. */
export function destinationFor(rollout: Rollout, version: string): Destination {
  const template = destinationTemplate(rollout);
  const values = { service: rollout.spec.service, namespace: rollout.namespace, version };
  if ("host" in template) return { host: renderTemplate(template.host, values) };
  return { host: rollout.spec.service, subset: renderTemplate(template.subset, values) };
}

/**
 * The short name of the Service `version`'s requests are addressed to, as Istio's telemetry labels
 * it (destination_service_name): spec.service with subsets, e.g. "reviews-v2" with `host:`.
 */
export function destinationServiceName(rollout: Rollout, version: string): string {
  const { host } = destinationFor(rollout, version);
  return host.split(".")[0] ?? host;
}

/** Whether a host, short or qualified ("reviews.bookinfo.svc.cluster.local"), names spec.service. */
export function namesService(rollout: Rollout, host: string): boolean {
  const service = rollout.spec.service;
  return host === service || host.startsWith(`${service}.`);
}

/**
 * The DestinationRule of spec.service among `rules` (a list's items): of those whose spec.host
 * names it, the one named as the service if there is one (the rule the controller reads by name,
 * src/kube/destination-rules.ts), else the first. Where subsets are checked before routing and
 * where Tideway adds a version's subset, so both take the same rule when two name the host.
 */
export function destinationRuleOf(rollout: Rollout, rules: readonly unknown[]): { metadata?: unknown; spec: { subsets?: unknown; [field: string]: unknown }; [field: string]: unknown } | undefined {
  let first: { metadata?: unknown; spec: { subsets?: unknown; [field: string]: unknown }; [field: string]: unknown } | undefined;
  for (const rule of rules) {
    if (typeof rule !== "object" || rule === null || !("spec" in rule)) continue;
    const spec = rule.spec;
    if (typeof spec !== "object" || spec === null || !("host" in spec) || typeof spec.host !== "string" || !namesService(rollout, spec.host)) continue;
    const found = { ...rule, spec };
    const metadata = "metadata" in rule ? rule.metadata : undefined;
    if (typeof metadata === "object" && metadata !== null && "name" in metadata && metadata.name === rollout.spec.service) return found;
    first ??= found;
  }
  return first;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A regex that matches a rendered template and captures the version. */
function templatePattern(template: string, values: Record<string, string>): RegExp {
  const parts = template.split(/\{\{\s*version\s*\}\}/);
  const literal = parts.map((part) => escapeRegex(renderTemplate(part, values)));
  return new RegExp(`^${literal.join("(.+?)")}$`);
}

/**
 * The inverse of destinationFor: the version a destination found in a VirtualService belongs to,
 * or undefined when it does not look like one of this Rollout's.
 */
export function versionOfDestination(rollout: Rollout): (destination: { host?: unknown; subset?: unknown }) => string | undefined {
  const template = destinationTemplate(rollout);
  const values = { service: rollout.spec.service, namespace: rollout.namespace };
  if ("host" in template) {
    const pattern = templatePattern(template.host, values);
    return ({ host }) => {
      if (typeof host !== "string") return undefined;
      const short = host.split(".")[0] ?? host;
      return pattern.exec(host)?.[1] ?? pattern.exec(short)?.[1];
    };
  }
  const pattern = templatePattern(template.subset, values);
  return ({ host, subset }) => {
    if (typeof host !== "string" || typeof subset !== "string" || !namesService(rollout, host)) return undefined;
    return pattern.exec(subset)?.[1];
  };
}
