/**
 * Readiness gating: no weight, header route or promotion goes to a version with fewer ready
 * endpoints than it needs. The reconciler reads the endpoints of the stable and the canary at the
 * start of every pass and hands them over as `Rollout.readiness`; without that (the engine driven
 * without a cluster) nothing is gated. A step that waits for readiness holds, it does not fail;
 * the progress deadline (deadline.ts) bounds the wait.
 */
import type { ReleaseStatus, VersionReadiness } from "../status.js";
import type { Draft } from "./context.js";
import { applyCanary } from "./workload.js";

/** How often a step that waits for readiness looks again when no endpoint change wakes it first. */
export const READINESS_RECHECK_MS = 5_000;

/** What the cluster shows of `version`, or undefined when no readiness source reports (nothing is gated). */
export function readinessOf(draft: Draft, version: string): VersionReadiness | undefined {
  const seen = draft.rollout.readiness;
  if (seen === undefined) return undefined;
  return seen.find((r) => r.version === version) ?? { version, ready: 0, total: 0 };
}

/**
 * Ready endpoints the canary needs to take `weight`% of traffic: with the capacity check (the
 * default) weight% of the stable's ready endpoints, rounded up; at least one either way.
 */
export function endpointsNeeded(draft: Draft, weight: number): number {
  const capacity = draft.rollout.spec.readiness?.capacity ?? true;
  if (!capacity) return 1;
  const stable = readinessOf(draft, draft.status.stableVersion);
  return Math.max(1, Math.ceil(((stable?.ready ?? 0) * weight) / 100));
}

/** "v2: 0/3 pods ready", with the capacity it needs when more than one. */
export function describeWait(draft: Draft, readiness: VersionReadiness, needed: number, weight: number): string {
  const base = `${readiness.version}: ${readiness.ready}/${readiness.total} pod${readiness.total === 1 ? "" : "s"} ready`;
  if (needed <= 1) return base;
  const stable = readinessOf(draft, draft.status.stableVersion);
  return `${base}, needs ${needed} for ${weight}% of ${draft.status.stableVersion}'s ${stable?.ready ?? 0}`;
}

/**
 * Whether the canary can take `weight`% now (a header route asks with weight 0: one endpoint).
 * When it cannot, the release records what it waits for, says so once, and looks again soon.
 */
export function readyFor(draft: Draft, release: ReleaseStatus, weight: number): boolean {
  const readiness = readinessOf(draft, release.version);
  if (readiness === undefined) return true;
  const needed = endpointsNeeded(draft, weight);
  if (readiness.ready >= needed) {
    delete release.waitingFor;
    return true;
  }
  // With spec.workload the canary's Deployment is (re)applied at the size this weight needs.
  applyCanary(draft, release, weight === 0 ? 1 : weight);
  const waiting = describeWait(draft, readiness, needed, weight);
  if (release.waitingFor === undefined) {
    draft.notify(
      "waiting",
      `${draft.rollout.name} ${release.version}: step ${draft.stepLabel(release.stepIndex)} waits for ${waiting}`,
      { step: draft.stepLabel(release.stepIndex), weight: release.canaryWeight, waitingFor: waiting },
      "warning",
    );
  }
  release.waitingFor = waiting;
  draft.wakeAt(draft.now + READINESS_RECHECK_MS);
  return false;
}

/**
 * Records what the cluster shows in status (the versions that matter: stable and canary) and the
 * StableReady condition. Returns why the release must end now: the canary lost every ready
 * endpoint while it took traffic, or its pods cannot run.
 */
export function recordReadiness(draft: Draft): string | undefined {
  const seen = draft.rollout.readiness;
  if (seen === undefined) return undefined;
  const status = draft.status;
  const release = status.release;
  const versions = [status.stableVersion, ...(release ? [release.version] : [])];
  const shown = versions.map((v) => readinessOf(draft, v) as VersionReadiness);
  if (JSON.stringify(shown) !== JSON.stringify(status.readiness ?? [])) status.readiness = shown;
  const stable = shown[0] as VersionReadiness;
  if (stable.ready === 0) draft.setCondition("StableReady", "False", "NoReadyEndpoints", `${describeWait(draft, stable, 1, 0)}: it cannot serve the traffic it gets`);
  else draft.setCondition("StableReady", "True", "Ready", `${describeWait(draft, stable, 1, 0)}`);
  if (!release || draft.status.phase === "Refused") return undefined;
  const canary = shown[1] as VersionReadiness;
  if (canary.failure !== undefined) return `${canary.version} cannot run: ${canary.failure}`;
  const takesTraffic = release.canaryWeight > 0 || release.headerRoute;
  if (takesTraffic && canary.ready === 0) {
    return `${canary.version} has no ready pods (0/${canary.total}) while it takes ${release.headerRoute && release.canaryWeight === 0 ? "the header route's" : `${release.canaryWeight}% of`} traffic`;
  }
  return undefined;
}

/** Before traffic goes 100% back to stable: a stable with no ready endpoint is said out loud, never silently routed into. */
export function warnIfStableUnready(draft: Draft): void {
  const stable = readinessOf(draft, draft.status.stableVersion);
  if (stable === undefined || stable.ready > 0) return;
  const what = describeWait(draft, stable, 1, 0);
  draft.notify(
    "stable-unready",
    `${draft.rollout.name}: stable ${draft.status.stableVersion} has no ready pods (${stable.ready}/${stable.total}): 100% of traffic goes to a version that cannot serve`,
    { reason: what },
    "warning",
  );
}
