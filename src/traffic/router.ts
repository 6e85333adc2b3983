/**
 * The traffic router: the one port through which a Rollout's traffic reaches the mesh. A router
 * claims the routes a Rollout manages, sets their weights and header route in one write guarded by
 * a precondition, reads back what it wrote to verify it took, and gives the routes up when the
 * Rollout goes. One file per router: the Istio VirtualService router (istio.ts); routers.ts picks
 * a Rollout's router from its spec.trafficRouting. The engine never sees a router, and the
 * reconciler sees only this interface.
 */
import type { Rollout } from "../rollout/model.js";
import type { TrafficFailureCause } from "../rollout/engine.js";
import type { Traffic } from "../rollout/traffic.js";
import type { RouteConflict } from "./route-owners.js";

export interface TrafficRouter {
  /**
   * Sets the managed routes' weights and Tideway's header route as `traffic` says, then reads
   * them back to verify, idempotently (nothing is written when they already route so). `formerVersions`: versions the Rollout released before, whose
   * leftover destinations are its own. Throws TrafficError when it cannot.
   */
  setTraffic(rollout: Rollout, traffic: Traffic, formerVersions?: readonly string[]): Promise<TrafficOutcome>;
  /** What the routes serve now and who owns them, before the Rollout manages them. */
  sighting(rollout: Rollout): Promise<Sighting>;
  /** Removes the Rollout's claim on its managed routes (it is being deleted). */
  releaseRoutes(rollout: Rollout): Promise<void>;
}

/** A routing failure to show people: what is wrong and what to fix. */
export class TrafficError extends Error {
  /**
   * `ownedBy`: the Rollout ("namespace/name") that manages a route this one names; nothing was written.
   * `failureCause`: what is missing, when it is something people must add (see TrafficFailureCause).
   */
  constructor(
    message: string,
    readonly notFound = false,
    readonly ownedBy?: string,
    readonly failureCause?: TrafficFailureCause,
  ) {
    super(message);
  }
}

export interface TrafficOutcome {
  /** False when the routes already routed as wanted. */
  wrote: boolean;
  /** Writes it took (more than one after conflicts). */
  writes: number;
  /** Routes whose recorded owner was gone (or no longer names them), taken over in this write. */
  takenOver: string[];
}

/** What a Rollout finds on its routes before it manages them (first sighting, or while refused). */
export interface Sighting {
  /** The version the managed routes send the most traffic to, when there is one. */
  liveVersion?: string;
  /** Another Rollout manages a route this one names. */
  routeConflict?: RouteConflict;
}
