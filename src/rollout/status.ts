/**
 * The Rollout's `.status`: the source of truth for where a release stands. Written only by the
 * controller (never from git), validated when read back from the API server.
 */
import { z } from "zod";
import { RELEASE_EVENT_KINDS } from "./schema.js";

/** Refused: a route it names is managed by another Rollout; it drives no traffic until that ends. */
export const PHASES = ["Healthy", "Progressing", "Paused", "RolledBack", "Aborted", "Refused"] as const;
export type Phase = (typeof PHASES)[number];

export const OUTCOMES = ["pass", "fail", "inconclusive", "error"] as const;
export type CheckOutcome = (typeof OUTCOMES)[number];

const timestamp = z.iso.datetime();

export const CheckCountsSchema = z.strictObject({
  passed: z.int().min(0),
  failed: z.int().min(0),
  inconclusive: z.int().min(0),
  errored: z.int().min(0),
});
export type CheckCounts = z.output<typeof CheckCountsSchema>;

const CountsSchema = z.strictObject({ requests: z.number().min(0), bad: z.number().min(0) });

/** A comparison's evidence so far in the release (see rollout/judgment.ts): running totals and log likelihood ratios. */
export const EvidenceSchema = z.strictObject({
  maxIncrease: z.number(),
  canary: CountsSchema,
  stable: CountsSchema,
  logWorse: z.array(z.number()),
  logNoWorse: z.array(z.number()),
});

export const MetricStatusSchema = z.strictObject({
  name: z.string(),
  counts: CheckCountsSchema,
  /** With `compare`: the evidence against stable, accumulated over the release. */
  evidence: EvidenceSchema.optional(),
  lastOutcome: z.enum(OUTCOMES).optional(),
  lastValue: z.number().nullable().optional(),
  lastMessage: z.string().optional(),
  lastCheckedAt: timestamp.optional(),
});
export type MetricStatus = z.output<typeof MetricStatusSchema>;

export const ReleaseStatusSchema = z.strictObject({
  /** Increases with every release of this Rollout; analysis results name the release they are for. */
  id: z.int().min(1),
  version: z.string(),
  startedAt: timestamp,
  /** Index into spec.steps; equal to steps.length while the final check before promotion runs. */
  stepIndex: z.int().min(0),
  /** When the current step's traffic was in place; undefined until traffic is confirmed. */
  stepStartedAt: timestamp.optional(),
  /** Set while paused by hand, by a limit, or at a manual gate, to freeze the step's clock. */
  pausedAt: timestamp.optional(),
  pauseReason: z.enum(["manual", "gate", "inconclusive", "error", "deadline"]).optional(),
  /** Since when the release has waited for its next progress (started, step begun, resumed); the progress deadline counts from it. */
  progressAt: timestamp.optional(),
  /** What the current step waits for before its traffic can move, e.g. "v2: 0/3 pods ready". */
  waitingFor: z.string().optional(),
  /** Traffic this release wants: canary weight and whether the header route is on. */
  canaryWeight: z.int().min(0).max(100),
  headerRoute: z.boolean(),
  /** Whether the mirror (setMirrorRoute) is on; absent when never. */
  mirrorRoute: z.boolean().optional(),
  /** Whether the traffic above is confirmed applied. */
  trafficApplied: z.boolean(),
  /** Checks in the current step, and in the whole release, and the current streaks. */
  stepChecks: CheckCountsSchema,
  checks: CheckCountsSchema,
  inconclusiveStreak: z.int().min(0),
  errorStreak: z.int().min(0),
  nextAnalysisAt: timestamp.optional(),
  metrics: z.array(MetricStatusSchema),
});
export type ReleaseStatus = z.output<typeof ReleaseStatusSchema>;

export const ConditionSchema = z.strictObject({
  type: z.string(),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: timestamp,
});
export type Condition = z.output<typeof ConditionSchema>;

export const RELEASE_OUTCOMES = ["promoted", "rolled-back", "aborted", "superseded", "reverted", "removed"] as const;
export type ReleaseOutcome = (typeof RELEASE_OUTCOMES)[number];

export const HistoryEntrySchema = z.strictObject({
  id: z.int().min(1),
  version: z.string(),
  fromVersion: z.string(),
  outcome: z.enum(RELEASE_OUTCOMES),
  reason: z.string(),
  startedAt: timestamp,
  finishedAt: timestamp,
  /** Each check's last verdict in the release, kept past its end (e.g. "v2 error rate 0.41% vs v1 0.38% over 1,204 requests: no worse"). */
  checks: z.array(z.strictObject({ name: z.string(), outcome: z.enum(OUTCOMES).optional(), message: z.string() })).optional(),
});
export type HistoryEntry = z.output<typeof HistoryEntrySchema>;

export const COMMANDS = ["abort", "promote", "pause", "resume", "retry"] as const;
export type CommandName = (typeof COMMANDS)[number];
export const ClaimedCommandSchema = z.strictObject({
  id: z.string().min(1),
  command: z.enum(COMMANDS),
  value: z.string(),
  user: z.string().optional(),
});
export type ClaimedCommand = z.output<typeof ClaimedCommandSchema>;

export const CommandRecordSchema = z.strictObject({
  command: z.enum(COMMANDS),
  value: z.string(),
  source: z.enum(["annotation", "git", "cli"]),
  user: z.string().optional(),
  at: timestamp,
  result: z.string(),
  /** The claim's id (see CLAIMED_ANNOTATION in annotations.ts) for a command given by annotation. */
  id: z.string().optional(),
});
export type CommandRecord = z.output<typeof CommandRecordSchema>;

export const MetricResultSchema = z.strictObject({
  name: z.string(),
  outcome: z.enum(OUTCOMES),
  value: z.number().nullable(),
  message: z.string(),
});

/** An announcement (Event, log line, Slack) as status records it until it has been made. */
export const ReleaseEventSchema = z.strictObject({
  id: z.string(),
  kind: z.enum(RELEASE_EVENT_KINDS),
  severity: z.enum(["normal", "warning"]),
  message: z.string(),
  rollout: z.strictObject({ name: z.string(), namespace: z.string() }),
  version: z.string(),
  stableVersion: z.string(),
  releaseId: z.int().min(1).optional(),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(MetricResultSchema)])),
});

/** Announcements kept in the outbox at most; the oldest are dropped past it (a long outage of the API server). */
export const OUTBOX_LIMIT = 50;

/** Ready endpoints of one version, as the readiness gate last saw them. */
export const VersionReadinessSchema = z.strictObject({
  version: z.string(),
  ready: z.int().min(0),
  /** Endpoints (ready or not) of the version. */
  total: z.int().min(0),
  /** Why its pods do not run (CrashLoopBackOff, ImagePullBackOff, ...), when known. */
  failure: z.string().optional(),
});
export type VersionReadiness = z.output<typeof VersionReadinessSchema>;

export const RolloutStatusSchema = z.strictObject({
  phase: z.enum(PHASES),
  message: z.string(),
  stableVersion: z.string(),
  /** The version in flight, or the one that last failed (RolledBack, Aborted). */
  canaryVersion: z.string().optional(),
  canaryWeight: z.int().min(0).max(100),
  /** "2/5" for display; empty when no release is in flight. */
  step: z.string(),
  releaseCount: z.int().min(0),
  release: ReleaseStatusSchema.optional(),
  conditions: z.array(ConditionSchema),
  history: z.array(HistoryEntrySchema),
  commands: z.array(CommandRecordSchema),
  observedGeneration: z.int().min(0).optional(),
  /** Events announced so far; numbers each event so a replayed reconcile announces it once. */
  eventCount: z.int().min(0).optional(),
  /**
   * Events this status records as having happened but not yet announced: written with the status
   * that makes them true, announced next (idempotently), then cleared, so a crash in between
   * delays an announcement to the next reconcile on any replica instead of losing it.
   */
  outbox: z.array(ReleaseEventSchema).optional(),
  /** Versions whose Deployments (spec.workload) are retired at `at`: scaled to 0, and deleted when `delete`. */
  retiring: z.array(z.strictObject({ version: z.string(), at: timestamp, delete: z.boolean() })).optional(),
  /** Ready endpoints of the stable and canary versions; absent until a readiness source reported. */
  readiness: z.array(VersionReadinessSchema).optional(),
});
export type RolloutStatus = z.output<typeof RolloutStatusSchema>;

/** History and command records kept in status; older ones are dropped. */
export const HISTORY_LIMIT = 10;
export const COMMAND_LIMIT = 10;

export function emptyCounts(): CheckCounts {
  return { passed: 0, failed: 0, inconclusive: 0, errored: 0 };
}
