/**
 * The progress deadline: every release ends. `spec.progressDeadline` bounds how long a release
 * may go without progress (started, a step completed, resumed) while it waits for readiness, for
 * traffic that fails to apply, or at a step that cannot advance. A timed pause counts from its
 * end; a paused release (a manual gate, a person, a limit) waits for a person and is excluded.
 */
import { formatDuration, parseDuration } from "../duration.js";
import type { ReleaseStatus } from "../status.js";
import type { Draft } from "./context.js";
import { failRelease, pauseRelease } from "./progress.js";

export const DEFAULT_PROGRESS_DEADLINE_MS = 10 * 60_000;

/** When the release in flight runs out of time, or undefined when it is not waiting on the clock. */
export function deadlineAt(draft: Draft, release: ReleaseStatus): number | undefined {
  if (draft.status.phase !== "Progressing") return undefined;
  const deadline = parseDuration(draft.rollout.spec.progressDeadline ?? "10m") ?? DEFAULT_PROGRESS_DEADLINE_MS;
  const since = Date.parse(release.progressAt ?? release.stepStartedAt ?? release.startedAt);
  const step = draft.steps[release.stepIndex];
  // A timed pause is meant to take its time: the deadline counts from its end.
  const pause = step?.kind === "pause" && step.durationMs !== undefined && release.stepStartedAt !== undefined ? step.durationMs : 0;
  return since + pause + deadline;
}

/** Ends (or pauses) a release past its deadline, naming what it waited for; otherwise asks to be woken then. */
export function checkProgressDeadline(draft: Draft): void {
  const release = draft.release;
  if (!release) return;
  const at = deadlineAt(draft, release);
  if (at === undefined) return;
  if (draft.now < at) {
    draft.wakeAt(at);
    return;
  }
  const deadline = formatDuration(parseDuration(draft.rollout.spec.progressDeadline ?? "10m") ?? DEFAULT_PROGRESS_DEADLINE_MS);
  const reason = `progress deadline ${deadline} passed: ${waitedFor(draft, release)}`;
  if ((draft.rollout.spec.onProgressDeadline ?? "rollback") === "pause") {
    draft.setCondition("Progressing", "False", "ProgressDeadlineExceeded", reason);
    pauseRelease(draft, "deadline", reason);
  } else failRelease(draft, "rolled-back", reason);
}

function waitedFor(draft: Draft, release: ReleaseStatus): string {
  if (release.waitingFor !== undefined) return `waited for ${release.waitingFor}`;
  if (!release.trafficApplied) {
    const failing = draft.status.conditions.find((c) => c.type === "TrafficApplied" && c.status === "False");
    return failing ? `traffic not applied: ${failing.message}` : `traffic for step ${draft.stepLabel(release.stepIndex)} not confirmed`;
  }
  const step = draft.steps[release.stepIndex];
  if (step === undefined) return "no passing check before promotion";
  if (step.kind === "pause") return `no passing check at step ${draft.stepLabel(release.stepIndex)}`;
  return `step ${draft.stepLabel(release.stepIndex)} did not complete`;
}
