import { describe, expect, it } from "vitest";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema } from "../../src/rollout/schema.js";
import type { Traffic } from "../../src/rollout/traffic.js";
import { TrafficError, type Sighting, type TrafficOutcome, type TrafficRouter } from "../../src/traffic/router.js";
import { RouterByKind } from "../../src/traffic/routers.js";

/** A router that records what it was asked. */
class RecordingRouter implements TrafficRouter {
  readonly calls: string[] = [];
  constructor(private readonly kind: string) {}
  async setTraffic(rollout: Rollout, traffic: Traffic): Promise<TrafficOutcome> {
    this.calls.push(`${this.kind} setTraffic ${rollout.name} ${traffic.canaryWeight}`);
    return { wrote: true, writes: 1, takenOver: [] };
  }
  async sighting(rollout: Rollout): Promise<Sighting> {
    this.calls.push(`${this.kind} sighting ${rollout.name}`);
    return { liveVersion: "v1" };
  }
  async releaseRoutes(rollout: Rollout): Promise<void> {
    this.calls.push(`${this.kind} releaseRoutes ${rollout.name}`);
  }
}

const istioRollout: Rollout = {
  name: "reviews",
  namespace: "bookinfo",
  spec: RolloutSpecSchema.parse({ service: "reviews", version: "v2", trafficRouting: { istio: { virtualService: { name: "reviews" } } }, steps: [{ setWeight: 10 }] }),
};

describe("the router a Rollout's trafficRouting names", () => {
  it("drives an istio Rollout through the Istio router, every verb", async () => {
    const istio = new RecordingRouter("istio");
    const routers = new RouterByKind({ istio });
    await routers.setTraffic(istioRollout, { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10 });
    expect(await routers.sighting(istioRollout)).toEqual({ liveVersion: "v1" });
    await routers.releaseRoutes(istioRollout);
    expect(istio.calls).toEqual(["istio setTraffic reviews 10", "istio sighting reviews", "istio releaseRoutes reviews"]);
  });

  it("refuses with a TrafficError naming the router when this controller has none of that kind", async () => {
    const routers = new RouterByKind({});
    await expect(routers.setTraffic(istioRollout, { stableVersion: "v1", canaryWeight: 0 })).rejects.toThrow(new TrafficError("trafficRouting.istio is not enabled in this controller"));
  });
});
