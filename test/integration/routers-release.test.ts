/**
 * The same releases through each router (issue 16): an Istio VirtualService (subsets) and a Gateway
 * API HTTPRoute (a Service per version). The mesh simulator routes by whichever the Rollout names,
 * so promotion, rollback and abort are judged on the traffic each router really shapes.
 */
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { readGuard } from "../../src/analysis/guard.js";
import { PrometheusClient } from "../../src/analysis/prometheus.js";
import { RolloutSpecSchema } from "../../src/rollout/schema.js";
import { createWorld, HTTP_ROUTE, VS, type World, type WorldOptions } from "./release-harness.js";
import { services } from "./services.js";

let world: World | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

describe.each<{ router: NonNullable<WorldOptions["router"]> }>([{ router: "istio" }, { router: "gatewayAPI" }])("a release through the $router router", ({ router }) => {
  it("promotes a healthy canary: every step's weight reaches the mesh, then 100% on the new version", async () => {
    world = await createWorld({ router });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    await world.release("v2");
    const seen = new Set<number>();
    await world.waitForStatus((s) => {
      if (s.release) seen.add(s.canaryWeight);
      return s.phase === "Healthy" && s.stableVersion === "v2";
    }, 90_000);
    await world.waitForWeights((w) => w.v2 === 100 && w.v1 === undefined);
    expect([...seen].filter((w) => w > 0)).toEqual(expect.arrayContaining([20, 60]));
    expect((await world.status())?.history.at(-1)).toMatchObject({ version: "v2", fromVersion: "v1", outcome: "promoted" });
    expect(world.mesh.snapshot().versions.v2?.requests ?? 0).toBeGreaterThan(0);
    expect(world.mesh.lastError).toBeUndefined();
  });

  it("rolls back a canary with 30% errors, judged on the traffic the router sent it: 100% stable again", async () => {
    world = await createWorld({ router, behaviour: { v2: { errorRate: 0.3, latencyMs: 20 } } });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2");
    await world.waitForWeights((w) => (w.v2 ?? 0) > 0);
    const status = await world.waitForStatus((s) => s.phase === "RolledBack", 60_000);
    await world.waitForWeights((w) => (w.v2 ?? 0) === 0 && w.v1 === 100);
    expect(status.history.at(-1)).toMatchObject({ version: "v2", outcome: "rolled-back" });
    expect(status.history.at(-1)?.reason).toMatch(/^success-rate 0\.\d+ < 0\.95$/);
    expect(world.mesh.snapshot().versions.v2?.responseCodes["503"] ?? 0).toBeGreaterThan(0);
  });

  it("sends 100% to stable on tideway.io/abort, the header route removed", async () => {
    world = await createWorld({ router });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2", { steps: ["- setWeight: 40", '- setHeaderRoute: { headers: { x-canary: { exact: "true" } } }', "- pause: 1h"] });
    await world.waitForStatus((s) => s.release?.headerRoute === true);
    await world.mesh.refresh();
    await expect.poll(() => world?.mesh.currentWeights()?.headerRouteVersions, { timeout: 10_000 }).toEqual(["v2"]);
    expect(await world.weights()).toEqual({ v1: 60, v2: 40 });
    const { kubectl, kubeconfigPath } = services();
    execFileSync(kubectl!, ["--kubeconfig", kubeconfigPath, "-n", world.namespace, "annotate", "rollout", "reviews", "tideway.io/abort=bad latency"]);
    await world.waitForWeights((w) => w.v1 === 100 && (w.v2 ?? 0) === 0, 10_000);
    const status = await world.waitForStatus((s) => s.phase === "Aborted");
    expect(status.history.at(-1)).toMatchObject({ outcome: "aborted", reason: "bad latency" });
    await expect.poll(async () => (await world?.mesh.refresh(), world?.mesh.currentWeights()?.headerRoute), { timeout: 10_000 }).toBe(false);
  });

  it("mirrors requests to the canary, which the guard does not count as its traffic, and takes the mirror out on abort", async () => {
    world = await createWorld({ router, behaviour: { v2: { errorRate: 1, latencyMs: 20 } } });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2", { steps: ["- setMirrorRoute: { percentage: 50 }", "- pause: 1h"], analysis: "" });
    await world.waitForStatus((s) => s.release?.mirrorRoute === true && s.release.trafficApplied);
    await expect.poll(() => world?.mesh.snapshot().mirrored.v2 ?? 0, { timeout: 15_000 }).toBeGreaterThan(20);
    expect(world.mesh.snapshot().versions.v2).toBeUndefined();
    expect(await world.weights()).toEqual({ v1: 100 });

    // Prometheus has the failing copies, under the "-shadow" host; the guard's reading of the canary does not.
    const prometheus = new PrometheusClient({ url: services().prometheusUrl });
    const shadow = `sum(istio_requests_total{destination_service_namespace="${world.namespace}", destination_service_name=~".*-shadow", response_code="503"})`;
    await expect
      .poll(
        async () => {
          const result = await prometheus.query(shadow);
          return result.kind === "value" ? result.value : 0;
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBeGreaterThan(0);
    const steps = [{ setMirrorRoute: { percentage: 50 } }, { pause: "1h" }];
    const trafficRouting = router === "gatewayAPI" ? { gatewayAPI: { httpRoute: { name: "reviews" } } } : { istio: { virtualService: { name: "reviews" } } };
    const rollout = { name: "reviews", namespace: world.namespace, spec: RolloutSpecSchema.parse({ service: "reviews", version: "v2", trafficRouting, steps }) };
    expect(await readGuard(prometheus, rollout, { canaryVersion: "v2", stableVersion: "v1", windowMs: 60_000 })).toEqual({ requests: 0, errors: 0 });

    const { kubectl, kubeconfigPath } = services();
    execFileSync(kubectl!, ["--kubeconfig", kubeconfigPath, "-n", world.namespace, "annotate", "rollout", "reviews", "tideway.io/abort=shadow errors"]);
    await world.waitForStatus((s) => s.phase === "Aborted");
    const mirroring = async () => {
      const object = (await world!.objects.getNamespacedCustomObject({ ...(router === "gatewayAPI" ? HTTP_ROUTE : VS), namespace: world!.namespace, name: "reviews" })) as { spec: unknown };
      return JSON.stringify(object.spec).includes(router === "gatewayAPI" ? "RequestMirror" : '"mirror"');
    };
    await expect.poll(mirroring, { timeout: 10_000 }).toBe(false);
  });
});
