/**
 * Which router drives a Rollout's traffic: the one named by the key of its `spec.trafficRouting`
 * (`istio`, `gatewayAPI`). The reconciler holds this as its one TrafficRouter and never learns which
 * mesh or API is behind it.
 */
import type { Rollout } from "../rollout/model.js";
import { routerKind, type RouterKind } from "../rollout/routing.js";
import type { Traffic } from "../rollout/traffic.js";
import { TrafficError, type Sighting, type TrafficOutcome, type TrafficRouter } from "./router.js";

export class RouterByKind implements TrafficRouter {
  constructor(private readonly routers: Partial<Record<RouterKind, TrafficRouter>>) {}

  async setTraffic(rollout: Rollout, traffic: Traffic, formerVersions?: readonly string[]): Promise<TrafficOutcome> {
    return this.routerOf(rollout).setTraffic(rollout, traffic, formerVersions);
  }

  async sighting(rollout: Rollout): Promise<Sighting> {
    return this.routerOf(rollout).sighting(rollout);
  }

  async releaseRoutes(rollout: Rollout): Promise<void> {
    return this.routerOf(rollout).releaseRoutes(rollout);
  }

  private routerOf(rollout: Rollout): TrafficRouter {
    const kind = routerKind(rollout);
    const router = this.routers[kind];
    // A TrafficError, not a crash: the Rollout says what it needs and the others go on.
    if (router === undefined) throw new TrafficError(`trafficRouting.${kind} is not enabled in this controller`);
    return router;
  }
}
