/**
 * Each version's workload, with spec.workload: the engine says which Deployment should run at what
 * size, and when a version is retired; the reconciler applies it (server-side apply, idempotent).
 * - A release applies the canary's Deployment (and its DestinationRule subset) before any traffic;
 *   readiness gating (readiness.ts) then holds every weight until its pods are ready. While a step
 *   waits, the apply is repeated with the weight it waits for (so scaleWithWeight grows the canary).
 * - After promotion the old stable is scaled to 0 and deleted after scaleDownDelay (sidecars drain);
 *   after a rollback or abort the canary is scaled to 0 after the same delay and kept, so a retry
 *   is fast. Retirements live in status.retiring, so a restart does not forget them.
 * - A Rollout removed from git leaves its workloads where they are, and says so.
 */
import type { ReleaseStatus } from "../status.js";
import { scaleDownDelayMs, workloadName } from "../workload.js";
import type { Draft } from "./context.js";

export function managesWorkloads(draft: Draft): boolean {
  return draft.rollout.spec.workload !== undefined;
}

/** Asks for the canary's Deployment sized for `weight`% (once per decision), and cancels its retirement. */
export function applyCanary(draft: Draft, release: ReleaseStatus, weight: number): void {
  if (!managesWorkloads(draft)) return;
  cancelRetirement(draft, release.version);
  const last = draft.effects.findLast((e) => e.type === "applyWorkload" && e.version === release.version);
  if (last && last.type === "applyWorkload" && last.weight >= weight) return;
  draft.effects.push({ type: "applyWorkload", version: release.version, weight });
}

/** Retires `version` after scaleDownDelay: scaled to 0, and deleted when `remove`. */
export function retire(draft: Draft, version: string, remove: boolean): void {
  const workload = draft.rollout.spec.workload;
  if (!workload || version === draft.status.stableVersion) return;
  const at = new Date(draft.now + scaleDownDelayMs(workload)).toISOString();
  const others = (draft.status.retiring ?? []).filter((r) => r.version !== version);
  draft.status.retiring = [...others, { version, at, delete: remove }];
}

function cancelRetirement(draft: Draft, version: string): void {
  const retiring = draft.status.retiring;
  if (!retiring?.some((r) => r.version === version)) return;
  const rest = retiring.filter((r) => r.version !== version);
  if (rest.length > 0) draft.status.retiring = rest;
  else delete draft.status.retiring;
}

/** Carries out the retirements that are due, and asks to be woken for the next one. */
export function retireDue(draft: Draft): void {
  const retiring = draft.status.retiring;
  if (!retiring || retiring.length === 0) return;
  const inUse = new Set([draft.status.stableVersion, ...(draft.release ? [draft.release.version] : [])]);
  const kept = retiring.filter((r) => {
    if (inUse.has(r.version)) return false; // serving again: never retire it
    const at = Date.parse(r.at);
    if (at > draft.now) {
      draft.wakeAt(at);
      return true;
    }
    draft.effects.push({ type: "retireWorkload", version: r.version, delete: r.delete });
    return false;
  });
  if (kept.length > 0) draft.status.retiring = kept;
  else delete draft.status.retiring;
}

/** The Deployments this Rollout made and that a removal leaves in place: "reviews-v1, reviews-v2". */
export function leftWorkloads(draft: Draft): string[] {
  const versions = new Set([draft.status.stableVersion, ...(draft.release ? [draft.release.version] : []), ...(draft.status.retiring ?? []).map((r) => r.version)]);
  return [...versions].map((v) => workloadName(draft.rollout.spec, v));
}
