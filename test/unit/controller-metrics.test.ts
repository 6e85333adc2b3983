import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ControllerMetrics } from "../../src/controller/metrics.js";
import type { RolloutStatus } from "../../src/rollout/status.js";

const phases = async (registry: Registry) =>
  (await registry.getSingleMetric("tideway_rollout_phase")!.get()).values.map((v) => `${v.labels.namespace}/${v.labels.rollout} ${v.labels.phase}=${v.value}`).sort();

describe("ControllerMetrics phase gauge", () => {
  it("has one series per Rollout, its current phase, and none once it is forgotten", async () => {
    const registry = new Registry();
    const metrics = new ControllerMetrics(registry);
    const status = (phase: RolloutStatus["phase"]) => ({ phase, canaryWeight: 0 }) as RolloutStatus;
    metrics.observeStatus("shop", "cart", undefined);
    expect(await phases(registry)).toEqual([]);
    metrics.observeStatus("shop", "cart", status("Progressing"));
    metrics.observeStatus("shop", "till", status("Healthy"));
    expect(await phases(registry)).toEqual(["shop/cart Progressing=1", "shop/till Healthy=1"]);
    metrics.observeStatus("shop", "cart", status("Paused"));
    expect(await phases(registry)).toEqual(["shop/cart Paused=1", "shop/till Healthy=1"]);
    metrics.forget("shop", "cart");
    expect(await phases(registry)).toEqual(["shop/till Healthy=1"]);
  });
});
