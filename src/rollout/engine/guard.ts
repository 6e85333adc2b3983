/**
 * The guard: between analysis runs, a quick look at the canary's error ratio that rolls back a
 * gross failure at once. It keeps no state in status: its runs fall on a fixed grid of
 * `guard.interval`, so a resync asks for the same next run and the queue keeps one of each.
 * It never promotes, never counts as a check, and ignores no data and Prometheus errors (the
 * analysis runs judge those).
 */
import type { Draft } from "./context.js";
import { failRelease } from "./progress.js";
import type { Observation } from "./types.js";

type GuardObservation = Extract<Observation, { type: "guard" }>;

/**
 * True while the release's canary is meant to take traffic. Whether that traffic is confirmed
 * does not matter: while a weight change fails to apply, the canary keeps the traffic it had,
 * and a canary that has none yet simply shows no requests.
 */
function watching(draft: Draft): boolean {
  const release = draft.release;
  return release !== undefined && draft.guard !== undefined && (release.canaryWeight > 0 || release.headerRoute);
}

/** Asks for the guard's next run on its grid, while the canary takes traffic. */
export function scheduleGuard(draft: Draft): void {
  const release = draft.release;
  const guard = draft.guard;
  if (!release || !guard || !watching(draft)) return;
  const at = (Math.floor(draft.now / guard.intervalMs) + 1) * guard.intervalMs;
  if (draft.effects.some((e) => e.type === "runGuard" && e.at === at && e.releaseId === release.id)) return;
  draft.effects.push({ type: "runGuard", at, releaseId: release.id, version: release.version });
}

export function recordGuard(draft: Draft, observation: GuardObservation): void {
  const release = draft.release;
  const guard = draft.guard;
  if (!release || !guard || release.id !== observation.releaseId || !watching(draft)) return;
  if ("error" in observation || observation.requests < guard.minRequests) return;
  const ratio = observation.errors / observation.requests;
  if (!(ratio >= guard.errorRatio)) return;
  const percent = (value: number) => `${Math.round(value * 1_000) / 10}%`;
  const reason = `guard: ${percent(ratio)} of ${Math.round(observation.requests)} canary requests failed (limit ${percent(guard.errorRatio)})`;
  failRelease(draft, "rolled-back", reason, { errorRatio: ratio, requests: Math.round(observation.requests), guardErrorRatio: guard.errorRatio });
}
