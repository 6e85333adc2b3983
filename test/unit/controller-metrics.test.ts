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

describe("ControllerMetrics on a deleted Rollout", () => {
  it("drops every series of the Rollout, and only its own", async () => {
    const registry = new Registry();
    const metrics = new ControllerMetrics(registry);
    for (const rollout of ["cart", "till"]) {
      metrics.observeStatus("shop", rollout, { phase: "Progressing", canaryWeight: 20 } as RolloutStatus);
      metrics.trafficWrites.inc({ namespace: "shop", rollout });
      metrics.statusWrites.inc({ namespace: "shop", rollout });
      metrics.releaseEvents.inc({ namespace: "shop", rollout, kind: "step" });
      metrics.releaseEvents.inc({ namespace: "shop", rollout, kind: "promoted" });
      metrics.guardRuns.inc({ namespace: "shop", rollout, outcome: "measured" });
      metrics.analysisOutcomes.inc({ namespace: "shop", rollout, metric: "success-rate", outcome: "pass" });
      metrics.analysisOutcomes.inc({ namespace: "shop", rollout, metric: "latency", outcome: "fail" });
    }
    metrics.statusWriteCauses.inc({ cause: "step" });
    const rolloutsIn = async () => {
      const seen = new Set<string>();
      for (const metric of await registry.getMetricsAsJSON()) for (const v of metric.values) if (v.labels["rollout"] !== undefined) seen.add(`${metric.name} ${String(v.labels["rollout"])}`);
      return [...seen].sort();
    };
    expect((await rolloutsIn()).filter((s) => s.endsWith(" cart"))).toHaveLength(7);

    metrics.forget("shop", "cart", ["success-rate", "latency"]);

    expect((await rolloutsIn()).filter((s) => s.endsWith(" cart"))).toEqual([]);
    expect((await rolloutsIn()).filter((s) => s.endsWith(" till"))).toHaveLength(7);
    expect((await registry.getSingleMetric("tideway_status_write_causes_total")!.get()).values).toEqual([expect.objectContaining({ labels: { cause: "step" }, value: 1 })]);
  });
});
