/**
 * How long a BullMQ job stays with a replica that stops answering. The running worker renews its
 * lock every `lockDuration / 2` while it lives; another replica's stall check, every
 * `stalledInterval`, hands a job whose lock lapsed back to the queue. So a replica SIGKILLed
 * mid-job has its job carried on elsewhere within lockDuration + stalledInterval (BullMQ's
 * defaults, 30 s + 30 s, would leave a release standing for up to a minute).
 *
 * A lock only lapses under a live worker if its event loop stalls for longer than
 * lockDuration / 2 (2.5 s here); then a second replica may run the job too, which every handler
 * allows (status writes carry a resourceVersion precondition, announcements have ids).
 */
import type { WorkerOptions } from "bullmq";

export const WORKER_LOCK = {
  lockDuration: 5_000,
  stalledInterval: 1_000,
  // A job counted stalled more often than this fails for good; a few allow for a replica or two dying mid-job.
  maxStalledCount: 3,
} as const satisfies Pick<WorkerOptions, "lockDuration" | "stalledInterval" | "maxStalledCount">;
