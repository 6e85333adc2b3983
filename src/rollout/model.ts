/** The Rollout as the engine sees it: validated, defaults applied, steps normalised. */
import { ABORT_ANNOTATION } from "./annotations.js";
import { parseDuration } from "./duration.js";
import type { VersionReadiness } from "./status.js";
import { GuardSchema, type Guard, type HeaderMatch, type Metric, type RolloutDocument, type RolloutSpec, type Step } from "./schema.js";

export interface Rollout {
  name: string;
  namespace: string;
  spec: RolloutSpec;
  /** Reason from a `tideway.io/abort` annotation committed in git: holds spec.version aborted. */
  heldAbort?: string;
  /** The problem of the Rollout's file in git ("file:line:col: ..."), while its last good spec stays in force. */
  invalidFile?: string;
  /**
   * Ready endpoints of its versions as the cluster shows them at this reconcile (the reconciler
   * reads them); undefined when no readiness source is wired, and then nothing is gated.
   */
  readiness?: VersionReadiness[];
}

/** Which Rollout: what the informer reports and the reconcile queue schedules. */
export interface RolloutRef {
  namespace: string;
  name: string;
}

export const DEFAULT_NAMESPACE = "default";

export function toRollout(document: RolloutDocument, defaultNamespace = DEFAULT_NAMESPACE): Rollout {
  const heldAbort = document.metadata.annotations?.[ABORT_ANNOTATION];
  return {
    name: document.metadata.name,
    namespace: document.metadata.namespace ?? defaultNamespace,
    spec: document.spec,
    ...(heldAbort !== undefined ? { heldAbort } : {}),
  };
}

export interface HeaderRoute {
  name: string;
  headers: Record<string, HeaderMatch>;
}

/** Shadow traffic: `percentage` of the stable's requests (those matching `headers`, when given) copied to the canary. */
export interface MirrorRoute {
  percentage: number;
  headers?: Record<string, HeaderMatch>;
}

export type NormalizedStep =
  { kind: "setWeight"; weight: number } | { kind: "pause"; durationMs: number | undefined } | { kind: "setHeaderRoute"; route: HeaderRoute } | { kind: "setMirrorRoute"; mirror: MirrorRoute };

/** The step as a tagged union; `pause: {}` (no duration) is a manual gate. */
export function normalizeStep(step: Step, serviceName: string): NormalizedStep {
  if (step.setWeight !== undefined) return { kind: "setWeight", weight: step.setWeight };
  if (step.setHeaderRoute !== undefined) {
    return { kind: "setHeaderRoute", route: { name: step.setHeaderRoute.name ?? defaultHeaderRouteName(serviceName), headers: step.setHeaderRoute.headers } };
  }
  if (step.setMirrorRoute !== undefined) {
    const { percentage, match } = step.setMirrorRoute;
    return { kind: "setMirrorRoute", mirror: { percentage, ...(match !== undefined ? { headers: match.headers } : {}) } };
  }
  const pause = step.pause;
  const text = typeof pause === "string" ? pause : pause?.duration;
  return { kind: "pause", durationMs: text === undefined ? undefined : parseDuration(text) };
}

export function normalizeSteps(spec: RolloutSpec): NormalizedStep[] {
  return spec.steps.map((step) => normalizeStep(step, spec.service));
}

function defaultHeaderRouteName(serviceName: string): string {
  return `${serviceName}-canary-header`;
}

/**
 * The name of the http route Tideway adds for A/B header routing: its steps' name, or the
 * default. A Rollout without header steps still owns (and removes) a route of that name.
 */
export function headerRouteName(spec: RolloutSpec): string {
  for (const step of normalizeSteps(spec)) if (step.kind === "setHeaderRoute") return step.route.name;
  return defaultHeaderRouteName(spec.service);
}

/** The header route in force at `stepIndex`: the last setHeaderRoute at or before it. */
export function headerRouteAt(spec: RolloutSpec, stepIndex: number): HeaderRoute | undefined {
  let route: HeaderRoute | undefined;
  normalizeSteps(spec)
    .slice(0, stepIndex + 1)
    .forEach((step) => {
      if (step.kind === "setHeaderRoute") route = step.route;
    });
  return route;
}

/** The mirror in force at `stepIndex`: the last setMirrorRoute at or before it. */
export function mirrorRouteAt(spec: RolloutSpec, stepIndex: number): MirrorRoute | undefined {
  let mirror: MirrorRoute | undefined;
  for (const step of normalizeSteps(spec).slice(0, stepIndex + 1)) if (step.kind === "setMirrorRoute") mirror = step.mirror;
  return mirror;
}

/** The name of the route Tideway adds to mirror only matching requests: `<service>-canary-mirror`. */
export function mirrorRouteName(spec: RolloutSpec): string {
  return `${spec.service}-canary-mirror`;
}

/** Milliseconds between checks, or undefined when the Rollout has no analysis. */
export function analysisIntervalMs(spec: RolloutSpec): number | undefined {
  return spec.analysis ? parseDuration(spec.analysis.interval) : undefined;
}

/** The guard's settings when it runs (analysis present and not disabled), defaults filled in. */
export function guardOf(spec: RolloutSpec): (Guard & { intervalMs: number }) | undefined {
  if (!spec.analysis) return undefined;
  const guard = GuardSchema.parse(spec.analysis.guard ?? {});
  if (!guard.enabled) return undefined;
  return { ...guard, intervalMs: parseDuration(guard.interval) ?? 15_000 };
}

/** Built-in metrics' thresholds when none is given: success-rate >= 0.99, latency-p99 <= 500 ms. */
export const BUILT_IN_THRESHOLDS: Record<string, { min?: number; max?: number }> = {
  "success-rate": { min: 0.99 },
  "latency-p99": { max: 500 },
};

/** The thresholds a metric is checked against: its own, or the built-in default (none when it compares with stable). */
export function metricThresholds(metric: Metric): { min?: number; max?: number } {
  if (metric.min !== undefined || metric.max !== undefined) {
    return { ...(metric.min !== undefined ? { min: metric.min } : {}), ...(metric.max !== undefined ? { max: metric.max } : {}) };
  }
  if (metric.compare !== undefined) return {};
  return BUILT_IN_THRESHOLDS[metric.name] ?? {};
}
