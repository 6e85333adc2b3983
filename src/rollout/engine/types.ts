/** What the release engine is told (observations) and what it asks for (effects). */
import type { CheckOutcome, CommandName, RolloutStatus } from "../status.js";
import type { ComparisonSample } from "../judgment.js";
import type { ReleaseEventKind } from "../schema.js";
import type { Traffic } from "../traffic.js";

/** One metric's result in one analysis run. */
export interface MetricResult {
  name: string;
  outcome: CheckOutcome;
  /** The measured value; null when there was none (no data, NaN). */
  value: number | null;
  /** Human-readable, e.g. "0.91 < 0.99" or "12 requests < 20". */
  message: string;
  /** For a metric with `compare`: both versions' counts in this run's window, which the engine adds to the evidence. */
  comparison?: MetricComparison;
}

/** One run's counts of the canary and the stable version, for judgment against stable. */
export interface MetricComparison {
  sample: ComparisonSample;
  /** latency-p99: the bound (ms) above which a request counted as bad (slow). */
  slowerThanMs?: number;
  /**
   * How far back before the run the counts reach (the built-ins' range, which can be longer than
   * the interval). A sample reaching back before the step's traffic was in place mixes two traffic
   * splits, which the test cannot tell apart, and is left out of the evidence.
   */
  windowMs?: number;
}

export type Observation =
  /**
   * The Rollout was created or edited (new version, new steps, annotations held in git). On
   * first sighting, `liveVersion` is the version the VirtualService sends most traffic to now,
   * and `routeConflict` says another Rollout manages a route this one names.
   */
  | { type: "specChanged"; liveVersion?: string; routeConflict?: RouteConflict }
  /** While Refused: the VirtualService looked at again, as on first sighting. */
  | { type: "routeCheck"; liveVersion?: string; routeConflict?: RouteConflict }
  /** The Rollout is gone from git: stop managing it. */
  | { type: "removed" }
  /** A timer fired, or a resync: re-evaluate against the clock. */
  | { type: "tick" }
  /** Results of the analysis run scheduled for `scheduledFor` (ms) in release `releaseId`. */
  | { type: "analysis"; releaseId: number; stepIndex: number; scheduledFor: number; results: MetricResult[] }
  /**
   * The guard's look at the canary's last two guard intervals of traffic in release `releaseId`:
   * request and 5xx counts, or why there are none (no data, Prometheus unreachable).
   */
  | { type: "guard"; releaseId: number; requests: number; errors: number }
  | { type: "guard"; releaseId: number; error: string }
  /** A manual command, from an annotation on the live object, from git, or the CLI. */
  | { type: "command"; command: CommandName; value: string; source: "annotation" | "git" | "cli"; user?: string; id?: string }
  /** The traffic adapter applied (or failed to apply) `traffic`. */
  | { type: "traffic"; traffic: Traffic; applied: true }
  | { type: "traffic"; traffic: Traffic; applied: false; error: string; cause?: TrafficFailureCause; routeConflict?: RouteConflict };

/**
 * Why traffic could not be applied, as a condition reason: what a failure is grouped by in a
 * summary, and what must change for a repeated failure to be told again. "ApplyFailed" when unknown.
 */
export type TrafficFailureCause = "NoDestinationRule" | "MissingSubset" | "NoVirtualService" | "ApplyFailed";

/** Another Rollout ("namespace/name") manages a route this one names; `message` says which and what to do. */
export interface RouteConflict {
  ownedBy: string;
  message: string;
}

export type { ReleaseEventKind as EventKind } from "../schema.js";

/** Something people should hear about: becomes a Kubernetes Event, a log line and a Slack message. */
export interface ReleaseEvent {
  /** Unique for this Rollout ("7": the 7th event it announced); prefix it with the object's uid to make it global. */
  id: string;
  kind: ReleaseEventKind;
  severity: "normal" | "warning";
  message: string;
  rollout: { name: string; namespace: string };
  version: string;
  stableVersion: string;
  releaseId?: number;
  /** e.g. step "2/5", weight, metric results, reason, user. */
  details: Record<string, string | number | boolean | MetricResult[]>;
}

export type Effect =
  /** Drive the mesh to this traffic (idempotent; report back with a traffic observation). */
  | { type: "setTraffic"; traffic: Traffic }
  /** Query the metrics at `at` (ms) and report back with an analysis observation. */
  | { type: "runAnalysis"; at: number; releaseId: number; stepIndex: number; version: string; stableVersion: string }
  /** Look at the canary's error ratio at `at` (ms) and report back with a guard observation. */
  | { type: "runGuard"; at: number; releaseId: number; version: string }
  | { type: "notify"; event: ReleaseEvent }
  /** spec.workload: apply the Deployment (and DestinationRule subset) of `version`, sized for `weight`% of traffic. */
  | { type: "applyWorkload"; version: string; weight: number }
  /** spec.workload: scale `version`'s Deployment to 0, and delete it when `delete`. */
  | { type: "retireWorkload"; version: string; delete: boolean };

export interface Decision {
  /** The next status; undefined when the Rollout is no longer managed. */
  status: RolloutStatus | undefined;
  effects: Effect[];
  /** When to call the engine again with a tick (ms), besides scheduled analysis runs. */
  requeueAt?: number;
}
