/**
 * Each version's workload, from spec.workload: the Deployment `<service>-<version>` Tideway
 * server-side-applies, the DestinationRule subset that selects its pods, and how many pods it
 * gets. Pure: src/kube/workloads.ts writes what these functions render.
 */
import { ROLLOUT_LABEL, VERSION_LABEL } from "./annotations.js";
import { destinationFor } from "./destination.js";
import { parseDuration } from "./duration.js";
import type { Rollout } from "./model.js";
import type { PodTemplate, Workload } from "./schema.js";
import { renderTemplate } from "./template.js";

/** What Tideway knows of one version's Deployment: its size, readiness, and why it cannot come up. */
export interface WorkloadState {
  exists: boolean;
  /** spec.replicas: pods wanted. */
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  /** Available as `kubectl rollout status` means it: this spec seen, every pod updated and available. */
  available: boolean;
  /**
   * Why the version cannot become available, in words a person reads: "reviews-v2: container
   * reviews ImagePullBackOff: <kubelet's message>". Undefined while it may still come up.
   */
  failure?: string;
}

/** The subset of spec.service's DestinationRule that selects a version's pods. */
export interface Subset {
  name: string;
  labels: Record<string, string>;
}

/** The apps/v1 Deployment of a version, as server-side apply takes it. */
export interface DeploymentManifest {
  apiVersion: "apps/v1";
  kind: "Deployment";
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: PodTemplate & { metadata: { labels: Record<string, string>; annotations?: Record<string, string> } };
  };
}

const VERSION_PLACEHOLDER = /\{\{\s*version\s*\}\}/;
const DEPLOYMENT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The Deployment of `version`: `<service>-<version>`. */
export function workloadName(spec: { service: string }, version: string): string {
  return `${spec.service}-${version}`;
}

/**
 * Why `version` cannot name a Deployment (versions may hold upper-case letters and "_", names
 * may not), or undefined when it can.
 */
export function workloadNameProblem(spec: { service: string }, version: string): string | undefined {
  const name = workloadName(spec, version);
  if (name.length <= 253 && DEPLOYMENT_NAME.test(name)) return undefined;
  return `version "${version}" cannot name its Deployment "${name}": with spec.workload a version may hold only lower-case letters, digits, "-" and "."`;
}

/** Milliseconds a retired version keeps its pods: spec.workload.scaleDownDelay (30s by default). */
export function scaleDownDelayMs(workload: Workload): number {
  return parseDuration(workload.scaleDownDelay) ?? 30_000;
}

/** Pods of a version at full size: spec.workload.replicas, else the stable version's, else 1. */
export function fullReplicas(workload: Workload, stableReplicas: number | undefined): number {
  return workload.replicas ?? (stableReplicas !== undefined && stableReplicas > 0 ? stableReplicas : 1);
}

/**
 * Pods of the canary at `weight` percent: full size, or with scaleWithWeight
 * ceil(weight% x full size), at least 1 so there is a pod to become ready before any traffic.
 */
export function canaryReplicas(workload: Workload, stableReplicas: number | undefined, weight: number): number {
  const full = fullReplicas(workload, stableReplicas);
  if (!workload.scaleWithWeight) return full;
  const share = Math.min(100, Math.max(0, weight));
  return Math.max(1, Math.ceil((share * full) / 100));
}

/** The template's values: `{{ service }}` and `{{ version }}`. */
function values(rollout: Rollout, version: string): Record<string, string> {
  return { service: rollout.spec.service, version };
}

function renderMap(map: Readonly<Record<string, string>> | undefined, vars: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).map(([key, value]) => [key, renderTemplate(value, vars)]));
}

/**
 * The labels that tell `version`'s pods apart from other versions': the template's pod labels
 * whose value carries `{{ version }}` (e.g. `version: "{{ version }}"`, which Istio's telemetry
 * reads), else Tideway's own version label.
 */
export function versionLabels(rollout: Rollout, version: string): Record<string, string> {
  const workload = rollout.spec.workload;
  const templated = { ...workload?.labels, ...workload?.template.metadata?.labels };
  const carrying = Object.fromEntries(Object.entries(templated).filter(([, value]) => VERSION_PLACEHOLDER.test(value)));
  if (Object.keys(carrying).length === 0) return { [VERSION_LABEL]: version };
  return renderMap(carrying, values(rollout, version));
}

/** The labels Tideway manages on every Deployment and pod of a Rollout; the Deployment's selector. */
export function managedLabels(rollout: Rollout, version: string): Record<string, string> {
  return { [ROLLOUT_LABEL]: rollout.name, [VERSION_LABEL]: version };
}

/** Selects the Deployments of a Rollout (`tideway.io/rollout=<name>`). */
export function rolloutSelector(rollout: Rollout): string {
  return `${ROLLOUT_LABEL}=${rollout.name}`;
}

/**
 * The Deployment of `version` with `replicas` pods, from spec.workload: `{{ service }}` and
 * `{{ version }}` rendered in labels, annotations, images and env values. Its selector is
 * Tideway's own labels, which no other Deployment carries. Throws when the Rollout has no
 * workload or the version cannot name a Deployment.
 */
export function renderDeployment(rollout: Rollout, version: string, replicas: number): DeploymentManifest {
  const workload = rollout.spec.workload;
  if (workload === undefined) throw new Error(`Rollout ${rollout.namespace}/${rollout.name} has no spec.workload: Tideway manages no Deployment for it`);
  const problem = workloadNameProblem(rollout.spec, version);
  if (problem !== undefined) throw new Error(problem);
  const vars = values(rollout, version);
  const managed = managedLabels(rollout, version);
  const extra = renderMap(workload.labels, vars);
  const template = workload.template;
  const annotations = template.metadata?.annotations;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: workloadName(rollout.spec, version), namespace: rollout.namespace, labels: { ...extra, ...managed } },
    spec: {
      replicas,
      selector: { matchLabels: managed },
      template: {
        ...template,
        metadata: {
          labels: { ...extra, ...renderMap(template.metadata?.labels, vars), ...managed },
          ...(annotations !== undefined ? { annotations: renderMap(annotations, vars) } : {}),
        },
        spec: {
          ...template.spec,
          containers: template.spec.containers.map((container) => renderContainer(container, vars)),
          ...(template.spec.initContainers !== undefined ? { initContainers: template.spec.initContainers.map((container) => renderContainer(container, vars)) } : {}),
        },
      },
    },
  };
}

type Container = PodTemplate["spec"]["containers"][number];

function renderContainer(container: Container, vars: Record<string, string>): Container {
  return {
    ...container,
    image: renderTemplate(container.image, vars),
    ...(container.env !== undefined ? { env: container.env.map((env) => (env.value !== undefined ? { ...env, value: renderTemplate(env.value, vars) } : env)) } : {}),
  };
}

/**
 * The DestinationRule subset of `version`: its name as the VirtualService routes to it
 * (trafficRouting.istio.subset, "{{ version }}" by default) and the labels of its pods.
 * Undefined in host mode (`trafficRouting.istio.host`): each version is a Service of its own there.
 */
export function renderSubset(rollout: Rollout, version: string): Subset | undefined {
  const subset = destinationFor(rollout, version).subset;
  if (subset === undefined) return undefined;
  return { name: subset, labels: versionLabels(rollout, version) };
}

/**
 * Where a workload's versions cannot be told apart: no pod label carries `{{ version }}`, so
 * Istio's telemetry (destination_version, from the pod's `version` label) mixes them. For
 * `tideway validate`; the field path points at the template's labels.
 */
export function workloadWarnings(rollout: Rollout): { path: (string | number)[]; message: string }[] {
  const workload = rollout.spec.workload;
  if (workload === undefined) return [];
  const warnings: { path: (string | number)[]; message: string }[] = [];
  const labels = { ...workload.labels, ...workload.template.metadata?.labels };
  if (!Object.values(labels).some((value) => VERSION_PLACEHOLDER.test(value))) {
    const path = workload.template.metadata?.labels !== undefined ? ["spec", "workload", "template", "metadata", "labels"] : ["spec", "workload", "template"];
    warnings.push({
      path,
      message:
        'no pod label carries "{{ version }}": Istio\'s telemetry and the built-in metrics cannot tell the versions apart; add version: "{{ version }}" to spec.workload.template.metadata.labels',
    });
  }
  const nameProblem = workloadNameProblem(rollout.spec, rollout.spec.version);
  if (nameProblem !== undefined) warnings.push({ path: ["spec", "version"], message: nameProblem });
  return warnings;
}

/**
 * A DestinationRule's subsets with `subset` in them: its labels set on the subset of that name
 * (its other fields, such as a trafficPolicy, kept), or the subset added at the end. Every other
 * subset stays as it was. Undefined when the subset is already there as wanted.
 */
export function withSubset(subsets: readonly unknown[], subset: Subset): unknown[] | undefined {
  const index = subsets.findIndex((entry) => typeof entry === "object" && entry !== null && "name" in entry && entry.name === subset.name);
  if (index < 0) return [...subsets, { name: subset.name, labels: subset.labels }];
  const entry = subsets[index] as Record<string, unknown>;
  if (sameLabels(entry.labels, subset.labels)) return undefined;
  return subsets.map((other, i) => (i === index ? { ...entry, labels: subset.labels } : other));
}

function sameLabels(found: unknown, wanted: Record<string, string>): boolean {
  if (typeof found !== "object" || found === null) return false;
  const entries = Object.entries(found);
  return entries.length === Object.keys(wanted).length && entries.every(([key, value]) => wanted[key] === value);
}
