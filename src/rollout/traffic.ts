/** The traffic a Rollout's status asks for: what the traffic adapter drives the mesh to. */
import { headerRouteAt, type HeaderRoute, type Rollout } from "./model.js";
import type { RolloutStatus } from "./status.js";

export interface Traffic {
  stableVersion: string;
  /** Absent when no release is in flight: 100% goes to stable. */
  canaryVersion?: string;
  /** Integer 0..100; stable gets the rest. */
  canaryWeight: number;
  /** Requests matching this go to the canary whatever the weights. */
  headerRoute?: HeaderRoute;
}

export function desiredTraffic(rollout: Rollout, status: RolloutStatus): Traffic {
  const release = status.release;
  if (!release) return { stableVersion: status.stableVersion, canaryWeight: 0 };
  const headerRoute = release.headerRoute ? headerRouteAt(rollout.spec, release.stepIndex) : undefined;
  return {
    stableVersion: status.stableVersion,
    canaryVersion: release.version,
    canaryWeight: release.canaryWeight,
    ...(headerRoute ? { headerRoute } : {}),
  };
}

/** Same routing outcome (used to match a traffic report with what status wants). */
export function sameTraffic(a: Traffic, b: Traffic): boolean {
  return (
    a.stableVersion === b.stableVersion &&
    (a.canaryVersion ?? "") === (b.canaryVersion ?? "") &&
    a.canaryWeight === b.canaryWeight &&
    JSON.stringify(a.headerRoute ?? null) === JSON.stringify(b.headerRoute ?? null)
  );
}
