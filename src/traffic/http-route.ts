/**
 * The pure part of Gateway API routing: given an HTTPRoute's `spec.rules` as the API server has
 * them and the traffic a Rollout wants, the rules to write. Each version is a Service of its own
 * (a backendRef; HTTPRoute has no subsets). Only the managed rules' backendRefs of the Rollout's
 * versions and their weights change, plus Tideway's own header rule; every other rule, field and
 * backendRef is carried over as it was. Weights are integers; the managed rule's sum to 100.
 */
import { destinationFor, versionOfDestination } from "../rollout/destination.js";
import type { HeaderMatch } from "../rollout/schema.js";
import { mirrorRouteName, type Rollout } from "../rollout/model.js";
import type { HttpRouteRef } from "../rollout/routing.js";
import type { Traffic } from "../rollout/traffic.js";
import { isObject, partitionEntries, RoutingError, splitWeights, type Json, type JsonObject } from "./virtual-service.js";

/** The rules Tideway manages in `route`: those named in the Rollout, or the only one there is besides its header rule. */
export function managedRuleIndexes(rules: Json[], route: Pick<HttpRouteRef, "name" | "rules" | "where">, ownRules?: string | readonly string[]): number[] {
  const names = route.rules;
  const own: readonly string[] = ownRules === undefined ? [] : typeof ownRules === "string" ? [ownRules] : ownRules;
  if (names === undefined) {
    // Tideway's own rules (header rule, mirror rule) are never the one rule it manages.
    const candidates = rules.flatMap((rule, index) => (isObject(rule) && typeof rule.name === "string" && own.includes(rule.name) ? [] : [index]));
    if (candidates.length !== 1) throw new RoutingError(`HTTPRoute ${route.name} has ${candidates.length} rules; name the ones Tideway manages (rules[].name) in ${route.where}.rules`);
    return candidates;
  }
  return names.map((name) => {
    const index = rules.findIndex((rule) => isObject(rule) && rule.name === name);
    if (index < 0) {
      const known = rules.flatMap((rule) => (isObject(rule) && typeof rule.name === "string" ? [rule.name] : []));
      throw new RoutingError(`HTTPRoute ${route.name} has no rule named "${name}" (it has: ${known.join(", ") || "no named rules"})`);
    }
    return index;
  });
}

/** The version a backendRef is, when it is a Service of this Rollout's naming. */
function versionOfBackend(rollout: Rollout): (entry: Json | undefined) => string | undefined {
  const versionOf = versionOfDestination(rollout);
  return (entry) => {
    if (!isObject(entry) || typeof entry.name !== "string") return undefined;
    if (entry.kind !== undefined && entry.kind !== "Service") return undefined;
    if (entry.group !== undefined && entry.group !== "") return undefined;
    return versionOf({ host: entry.name });
  };
}

/** A backendRef's weight as Gateway API reads it: 1 when absent. */
const weightOf = (entry: Json | undefined): number => (isObject(entry) && typeof entry.weight === "number" ? entry.weight : 1);

function rewriteRule(rule: JsonObject, rollout: Rollout, route: HttpRouteRef, traffic: Traffic, formerVersions: readonly string[]): JsonObject {
  const backends = Array.isArray(rule.backendRefs) ? rule.backendRefs : [];
  const versionAt = versionOfBackend(rollout);
  const known = new Set([traffic.stableVersion, ...(traffic.canaryVersion !== undefined ? [traffic.canaryVersion] : []), ...formerVersions]);
  const { managed, others, othersBeforeFirstManaged, unrelatedWeight } = partitionEntries(backends, versionAt, known, weightOf);
  if (unrelatedWeight >= 100) throw new RoutingError(`HTTPRoute ${route.name}: other backendRefs of a managed rule already take a weight of ${unrelatedWeight} of 100`);
  const canaryVersion = traffic.canaryVersion !== traffic.stableVersion ? traffic.canaryVersion : undefined;
  const split = splitWeights(100 - unrelatedWeight, canaryVersion === undefined ? 0 : traffic.canaryWeight);
  const template = managed.get(traffic.stableVersion) ?? managed.values().next().value;
  const entryFor = (version: string, weight: number): JsonObject => {
    const own = managed.get(version);
    if (own) return { ...own, weight }; // its other fields (port, filters) stay exactly as they were
    return { ...(template ?? {}), name: destinationFor(rollout, version).host, weight };
  };
  const ours = [entryFor(traffic.stableVersion, split.stable)];
  // A canary at 0% needs no backendRef: starting and ending a release then writes nothing.
  if (canaryVersion !== undefined && split.canary > 0) ours.push(entryFor(canaryVersion, split.canary));
  const stableBefore = managed.get(traffic.stableVersion);
  if (ours.length === 1 && others.length === 0 && stableBefore && stableBefore.weight === undefined && ours[0]) delete ours[0].weight; // a lone backend needs no weight
  const at = othersBeforeFirstManaged < 0 ? 0 : othersBeforeFirstManaged;
  return { ...rule, backendRefs: [...others.slice(0, at), ...ours, ...others.slice(at)] };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Gateway API header matches: Exact, or RegularExpression (a prefix becomes one). */
function headerMatches(headers: Record<string, HeaderMatch>): JsonObject[] {
  return Object.entries(headers).map(([name, rule]): JsonObject => {
    if (rule.exact !== undefined) return { type: "Exact", name, value: rule.exact };
    if (rule.prefix !== undefined) return { type: "RegularExpression", name, value: `${escapeRegex(rule.prefix)}.*` };
    return { type: "RegularExpression", name, value: rule.regex ?? "" };
  });
}

/**
 * The HTTPRoute `spec.rules` to write for `traffic`; throws RoutingError when it cannot be routed.
 * The header rule takes the first managed rule's matches, each with the header matches added, so
 * it covers no request the managed rule does not; Gateway API prefers it (more header matches)
 * and it is placed first besides.
 */
export function routeHttpTraffic(rules: Json[], rollout: Rollout, route: HttpRouteRef, traffic: Traffic, headerRuleName: string, formerVersions: readonly string[] = []): Json[] {
  const mirrorName = mirrorRouteName(rollout.spec);
  const own = [headerRuleName, mirrorName];
  const indexes = managedRuleIndexes(rules, route, own);
  const versionAt = versionOfBackend(rollout);
  const known = new Set([traffic.stableVersion, ...(traffic.canaryVersion !== undefined ? [traffic.canaryVersion] : []), ...formerVersions]);
  const canaryVersion = traffic.canaryVersion;
  const mirrorAll = traffic.mirror !== undefined && traffic.mirror.headers === undefined && canaryVersion !== undefined ? traffic.mirror.percentage : undefined;
  const next = rules.map((rule, index) => {
    if (!indexes.includes(index) || !isObject(rule)) return rule;
    const rewritten = rewriteRule(rule, rollout, route, traffic, formerVersions);
    return withMirrorFilter(rewritten, rollout, known, mirrorAll !== undefined && canaryVersion !== undefined ? { version: canaryVersion, percentage: mirrorAll } : undefined);
  });
  const withoutOwn = next.filter((rule) => !(isObject(rule) && typeof rule.name === "string" && own.includes(rule.name)));
  if (canaryVersion === undefined) return withoutOwn;
  const first = Math.min(...managedRuleIndexes(withoutOwn, route, own));
  const base = withoutOwn[first];
  const baseMatches = isObject(base) && Array.isArray(base.matches) && base.matches.length > 0 ? base.matches : [{}];
  const matching = (headers: Record<string, HeaderMatch>): Json[] =>
    baseMatches.map((match): Json => {
      const given = isObject(match) ? match : {};
      return { ...given, headers: [...(Array.isArray(given.headers) ? given.headers : []), ...headerMatches(headers)] };
    });
  const baseBackends = isObject(base) && Array.isArray(base.backendRefs) ? base.backendRefs : [];
  const template = baseBackends.find((entry) => versionAt(entry) !== undefined);
  const canary: JsonObject = { ...(isObject(template) ? template : {}), name: destinationFor(rollout, canaryVersion).host };
  const added: JsonObject[] = [];
  if (traffic.headerRoute) added.push({ name: headerRuleName, matches: matching(traffic.headerRoute.headers), backendRefs: [{ ...canary, weight: 100 }] });
  if (traffic.mirror?.headers !== undefined) {
    // Matching requests are answered by the managed rule's backends, as written above, and copied to the canary.
    added.push({ name: mirrorName, matches: matching(traffic.mirror.headers), backendRefs: baseBackends, filters: [mirrorFilter(canary, traffic.mirror.percentage)] });
  }
  if (added.length === 0) return withoutOwn;
  return [...withoutOwn.slice(0, first), ...added, ...withoutOwn.slice(first)];
}

/** A RequestMirror filter to `backend`: `percent` when whole, else a fraction of 10,000. */
function mirrorFilter(backend: JsonObject, percentage: number): JsonObject {
  const ref: JsonObject = { ...backend };
  delete ref.weight;
  delete ref.filters;
  const share: JsonObject = Number.isInteger(percentage) ? { percent: percentage } : { fraction: { numerator: Math.round(percentage * 100), denominator: 10_000 } };
  return { type: "RequestMirror", requestMirror: { backendRef: ref, ...share } };
}

/** The version a RequestMirror filter copies requests to, when it is one of this Rollout's Services. */
function mirroredVersion(filter: Json, rollout: Rollout): string | undefined {
  if (!isObject(filter) || filter.type !== "RequestMirror" || !isObject(filter.requestMirror)) return undefined;
  return versionOfBackend(rollout)(filter.requestMirror.backendRef);
}

/** The managed rule with Tideway's RequestMirror filter set (`wanted`) or removed; other filters stay as they were. */
function withMirrorFilter(rule: JsonObject, rollout: Rollout, known: ReadonlySet<string>, wanted: { version: string; percentage: number } | undefined): JsonObject {
  const filters = Array.isArray(rule.filters) ? rule.filters : [];
  const kept = filters.filter((filter) => {
    const version = mirroredVersion(filter, rollout);
    return version === undefined || !known.has(version);
  });
  if (wanted === undefined) {
    if (kept.length === filters.length) return rule;
    const rest: JsonObject = { ...rule };
    delete rest.filters;
    return kept.length > 0 ? { ...rest, filters: kept } : rest;
  }
  const backends = Array.isArray(rule.backendRefs) ? rule.backendRefs : [];
  const template = backends.find((entry) => versionOfBackend(rollout)(entry) !== undefined);
  const canary: JsonObject = { ...(isObject(template) ? template : {}), name: destinationFor(rollout, wanted.version).host };
  return { ...rule, filters: [...kept, mirrorFilter(canary, wanted.percentage)] };
}

/** What the managed rules send where now: for verifying a write and for the first sighting. */
export function observedHttpWeights(
  rules: Json[],
  rollout: Rollout,
  route: HttpRouteRef,
  headerRuleName: string,
): { weights: Record<string, number>; headerRoute: boolean; mirrors?: Record<string, number> } {
  const versionAt = versionOfBackend(rollout);
  const weights: Record<string, number> = {};
  const mirrors: Record<string, number> = {};
  for (const rule of rules) {
    for (const filter of isObject(rule) && Array.isArray(rule.filters) ? rule.filters : []) {
      const version = mirroredVersion(filter, rollout);
      if (version === undefined || !isObject(filter) || !isObject(filter.requestMirror)) continue;
      const { percent, fraction } = filter.requestMirror;
      const share =
        typeof percent === "number"
          ? percent
          : isObject(fraction) && typeof fraction.numerator === "number"
            ? (fraction.numerator * 100) / (typeof fraction.denominator === "number" ? fraction.denominator : 100)
            : 100;
      mirrors[version] = Math.max(mirrors[version] ?? 0, share);
    }
  }
  for (const index of managedRuleIndexes(rules, route, [headerRuleName, mirrorRouteName(rollout.spec)])) {
    const rule = rules[index];
    const backends = isObject(rule) && Array.isArray(rule.backendRefs) ? rule.backendRefs : [];
    const total = backends.reduce<number>((sum, entry) => sum + weightOf(entry), 0);
    for (const entry of backends) {
      const version = versionAt(entry);
      if (version === undefined) continue;
      const weight = total > 0 ? Math.round((weightOf(entry) * 100) / total) : 0;
      weights[version] = Math.max(weights[version] ?? 0, weight);
    }
  }
  const headerRoute = rules.some((rule) => isObject(rule) && rule.name === headerRuleName);
  return { weights, headerRoute, ...(Object.keys(mirrors).length > 0 ? { mirrors } : {}) };
}

/** The rules a Rollout claims on its HTTPRoute: its managed rules and its header rule. */
export function claimedRules(rules: Json[], rollout: Rollout, route: HttpRouteRef, headerRuleName: string): string[] {
  const mirrorName = mirrorRouteName(rollout.spec);
  const mirror = rollout.spec.steps.some((step) => step.setMirrorRoute?.match !== undefined) ? [mirrorName] : [];
  const managed = managedRuleIndexes(rules, route, [headerRuleName, mirrorName]).map((index) => {
    const rule = rules[index];
    return isObject(rule) && typeof rule.name === "string" ? rule.name : "(unnamed)";
  });
  return [...new Set([...managed, headerRuleName, ...mirror])];
}
