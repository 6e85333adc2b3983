/**
 * Which reconcile work goes first. A Rollout with a release in flight, a command waiting, or a
 * spec change to act on is "release" work: people are waiting for it. Everything else (first
 * sightings of new Rollouts, resyncs, retries of a Rollout with nothing in flight) is "bulk" and
 * runs when no release work waits, so a commit of thousands of Rollouts cannot hold up a release.
 * Traffic still to be put right after a release (a promotion or rollback whose write failed) is
 * release work too; a Rollout that never had a release and cannot get its traffic applied is not.
 */
import { CLAIMED_ANNOTATION, commandAnnotation } from "./annotations.js";
import { COMMANDS } from "./status.js";

export type Lane = "release" | "bulk";

const COMMAND_ANNOTATIONS = [CLAIMED_ANNOTATION, ...COMMANDS.map(commandAnnotation)];

/** The lane of a Rollout object as the API server has it (status unparsed: only two fields are read). */
export function laneOf(object: { metadata?: { generation?: number; annotations?: Record<string, string> }; status?: unknown }): Lane {
  const annotations = object.metadata?.annotations ?? {};
  if (COMMAND_ANNOTATIONS.some((a) => annotations[a] !== undefined)) return "release";
  const status = typeof object.status === "object" && object.status !== null ? (object.status as LaneStatus & { observedGeneration?: unknown }) : undefined;
  if (status === undefined || Object.keys(status).length === 0) return "bulk"; // first sighting: adoption
  const generation = object.metadata?.generation;
  if (generation !== undefined && status.observedGeneration !== generation) return "release"; // a spec change to act on
  return laneOfStatus(status);
}

/** What the lane is read from in status (unparsed in the informer, parsed in the reconciler). */
interface LaneStatus {
  release?: unknown;
  releaseCount?: unknown;
  conditions?: unknown;
}

/** The lane of a Rollout's next wake-up, by its status: release work while a release is in flight or its traffic is not yet right. */
export function laneOfStatus(status: LaneStatus | undefined): Lane {
  if (status === undefined) return "bulk";
  if (status.release !== undefined && status.release !== null) return "release";
  const trafficFailing = Array.isArray(status.conditions) && status.conditions.some((c: { type?: unknown; status?: unknown }) => c.type === "TrafficApplied" && c.status === "False");
  return trafficFailing && typeof status.releaseCount === "number" && status.releaseCount > 0 ? "release" : "bulk";
}
