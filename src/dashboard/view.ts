/**
 * What the page shows of one Rollout: a pure function of the Rollout object, its Events and the
 * checks recorded over time. Only these fields reach the browser (never the raw object: its
 * managedFields, workload template or annotations other than Tideway's own facts).
 */
import type { RolloutObject } from "../kube/rollouts.js";
import { INVALID_ANNOTATION } from "../rollout/annotations.js";
import { commitFromAnnotations, type Commit } from "../rollout/commit.js";
import { metricThresholds, normalizeSteps, type NormalizedStep } from "../rollout/model.js";
import { RolloutSpecSchema } from "../rollout/schema.js";
import { RolloutStatusSchema, type CheckCounts, type CommandRecord, type HistoryEntry, type RolloutStatus, type VersionReadiness } from "../rollout/status.js";
import type { MetricSample, ReleaseSeries } from "./series.js";

/** The buttons: each is one command annotation (see actions.ts). */
export const ACTIONS = ["promote", "promote-full", "pause", "resume", "retry", "abort"] as const;
export type ActionName = (typeof ACTIONS)[number];

export interface RolloutEvent {
  type: string;
  reason: string;
  message: string;
  at: string;
  count: number;
}

export interface MetricView {
  name: string;
  min?: number;
  max?: number;
  /** With `compare`: how much worse than stable the canary may be. */
  maxIncrease?: number;
  lastOutcome?: string;
  lastValue?: number | null;
  lastMessage?: string;
  lastCheckedAt?: string;
  /** Checks of the release in flight; absent without one. */
  counts?: CheckCounts;
  /** With `compare`: requests and bad requests of each version so far in the release. */
  evidence?: { canary: { requests: number; bad: number }; stable: { requests: number; bad: number } };
  samples: MetricSample[];
}

export interface RolloutView {
  namespace: string;
  name: string;
  resourceVersion: string;
  phase: string;
  message: string;
  stableVersion: string;
  canaryVersion?: string;
  canaryWeight: number;
  headerRoute: boolean;
  /** "2/4", empty when no release is in flight. */
  step: string;
  /** Index into steps of the step in progress; steps.length while the final check runs. */
  stepIndex?: number;
  steps: string[];
  pauseReason?: string;
  waitingFor?: string;
  releaseId?: number;
  releaseStartedAt?: string;
  metrics: MetricView[];
  /** The release the checks' samples belong to (the last one once it has ended). */
  checksOfRelease?: number;
  readiness: VersionReadiness[];
  history: HistoryEntry[];
  commands: CommandRecord[];
  commit?: Commit;
  /** The parse error of its file in git, while the last good spec stays in force. */
  invalid?: string;
  events: RolloutEvent[];
  /** The buttons that apply now (the controller ignores the others and says so). */
  actions: ActionName[];
}

/** Events shown per Rollout, newest first. */
export const EVENT_LIMIT = 20;

export function stepText(step: NormalizedStep): string {
  switch (step.kind) {
    case "setWeight":
      return `setWeight ${step.weight}%`;
    case "pause":
      return step.durationMs === undefined ? "pause until promoted (manual gate)" : `pause ${formatMs(step.durationMs)}`;
    case "setHeaderRoute":
      return `header route: ${Object.entries(step.route.headers)
        .map(([header, match]) => `${header} ${Object.entries(match).map(([how, value]) => `${how} "${String(value)}"`)[0] ?? ""}`)
        .join(", ")}`;
    case "setMirrorRoute":
      return `mirror ${step.mirror.percentage}% to the canary${step.mirror.headers ? ` (${Object.keys(step.mirror.headers).join(", ")} matching)` : ""}`;
  }
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

/** The buttons that make sense in this phase. */
export function availableActions(status: RolloutStatus | undefined): ActionName[] {
  switch (status?.phase) {
    case "Progressing":
      return ["promote", "promote-full", "pause", "abort"];
    case "Paused":
      return ["promote", "promote-full", "resume", "abort"];
    case "RolledBack":
    case "Aborted":
      return ["retry"];
    default:
      return [];
  }
}

export function rolloutView(object: RolloutObject, events: readonly RolloutEvent[], series: ReleaseSeries | undefined): RolloutView {
  const parsedStatus = RolloutStatusSchema.safeParse(object.status);
  const status = parsedStatus.success ? parsedStatus.data : undefined;
  const parsedSpec = RolloutSpecSchema.safeParse(object.spec);
  const spec = parsedSpec.success ? parsedSpec.data : undefined;
  const release = status?.release;
  // The release in flight's checks, or after it ended the last release's.
  const samples = series && (!release || series.releaseId === release.id) ? series.metrics : {};
  const metrics: MetricView[] = (spec?.analysis?.metrics ?? []).map((metric) => {
    const state = release?.metrics.find((m) => m.name === metric.name);
    const thresholds = metricThresholds(metric);
    return {
      name: metric.name,
      ...thresholds,
      ...(metric.compare ? { maxIncrease: metric.compare.maxIncrease } : {}),
      ...(state?.lastOutcome !== undefined ? { lastOutcome: state.lastOutcome } : {}),
      ...(state?.lastValue !== undefined ? { lastValue: state.lastValue } : {}),
      ...(state?.lastMessage !== undefined ? { lastMessage: state.lastMessage } : {}),
      ...(state?.lastCheckedAt !== undefined ? { lastCheckedAt: state.lastCheckedAt } : {}),
      ...(state ? { counts: state.counts } : {}),
      ...(state?.evidence ? { evidence: { canary: state.evidence.canary, stable: state.evidence.stable } } : {}),
      samples: samples[metric.name] ?? [],
    };
  });
  const annotations = object.metadata.annotations ?? {};
  const commit = commitFromAnnotations(annotations);
  const invalid = annotations[INVALID_ANNOTATION];
  return {
    namespace: object.metadata.namespace,
    name: object.metadata.name,
    resourceVersion: object.metadata.resourceVersion,
    phase: status?.phase ?? "Pending",
    message: status?.message ?? (object.status === undefined ? "waiting for the controller" : "status not understood by this version of tideway"),
    stableVersion: status?.stableVersion ?? "",
    ...(status?.canaryVersion !== undefined ? { canaryVersion: status.canaryVersion } : {}),
    canaryWeight: status?.canaryWeight ?? 0,
    headerRoute: release?.headerRoute ?? false,
    step: status?.step ?? "",
    ...(release ? { stepIndex: release.stepIndex, releaseId: release.id, releaseStartedAt: release.startedAt } : {}),
    steps: spec ? normalizeSteps(spec).map(stepText) : [],
    ...(release?.pauseReason !== undefined ? { pauseReason: release.pauseReason } : {}),
    ...(release?.waitingFor !== undefined ? { waitingFor: release.waitingFor } : {}),
    metrics,
    ...(series && (!release || series.releaseId === release.id) ? { checksOfRelease: series.releaseId } : {}),
    readiness: status?.readiness ?? [],
    history: [...(status?.history ?? [])].reverse(),
    commands: [...(status?.commands ?? [])].reverse().slice(0, 5),
    ...(commit ? { commit } : {}),
    ...(invalid !== undefined ? { invalid } : {}),
    events: [...events].sort((a, b) => b.at.localeCompare(a.at)).slice(0, EVENT_LIMIT),
    actions: availableActions(status),
  };
}
