import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { execFileSync } from "node:child_process";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createWorld, FAST_ANALYSIS, GUARD_OFF, VS, type World } from "./release-harness.js";
import { services } from "./services.js";

/** Deletes every key matching ARGV[1] in one script, so nothing runs between finding them and deleting them. */
const DELETE_MATCHING = `local keys = redis.call("KEYS", ARGV[1])
for i = 1, #keys, 1000 do redis.call("DEL", unpack(keys, i, math.min(i + 999, #keys))) end
return #keys`;

let world: World | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

describe("the release loop", () => {
  it("(a) promotes a healthy canary through every step: 100% on the new version, now stable", async () => {
    world = await createWorld();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    await world.release("v2");
    const seen = new Set<number>();
    await world.waitForStatus((s) => {
      if (s.release) seen.add(s.canaryWeight);
      return s.phase === "Healthy" && s.stableVersion === "v2";
    }, 90_000);
    // Status is written first, then traffic follows it.
    await world.waitForWeights((w) => w.v2 === 100 && w.v1 === undefined);
    expect([...seen].filter((w) => w > 0)).toEqual(expect.arrayContaining([20, 60]));
    const status = await world.status();
    expect(status?.history.at(-1)).toMatchObject({ version: "v2", fromVersion: "v1", outcome: "promoted" });
    expect(world.mesh.snapshot().versions.v2?.requests ?? 0).toBeGreaterThan(0);
  });

  it("(b) rolls back a canary with 30% errors: traffic is 100% stable again", async () => {
    world = await createWorld({ behaviour: { v2: { errorRate: 0.3, latencyMs: 20 } } });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2");
    await world.waitForWeights((w) => (w.v2 ?? 0) > 0);
    const errorsStart = Date.now();
    const status = await world.waitForStatus((s) => s.phase === "RolledBack", 60_000);
    await world.waitForWeights((w) => (w.v2 ?? 0) === 0 && w.v1 === 100);
    console.log(`[measure] canary errors start -> 100% stable: ${Date.now() - errorsStart} ms`);
    expect(status.history.at(-1)).toMatchObject({ version: "v2", outcome: "rolled-back" });
    expect(status.history.at(-1)?.reason).toMatch(/^success-rate 0\.\d+ < 0\.95$/);
    expect(status.message).toMatch(/v2 rolled back: success-rate 0\.\d+ < 0\.95; 100% to v1/);
  });

  it("(b2) with checks only every minute, the guard rolls back a canary with 30% errors within a few scrapes", async () => {
    world = await createWorld({ behaviour: { v2: { errorRate: 0.3, latencyMs: 20 } } });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    const slowChecks = FAST_ANALYSIS.replace("interval: 3s", "interval: 1m").replace(GUARD_OFF, "guard: { interval: 1s }");
    await world.release("v2", { analysis: slowChecks });
    await world.waitForWeights((w) => (w.v2 ?? 0) > 0);
    const errorsStart = Date.now();
    const status = await world.waitForStatus((s) => s.phase === "RolledBack", 30_000);
    await world.waitForWeights((w) => (w.v2 ?? 0) === 0 && w.v1 === 100);
    console.log(`[measure] guard: canary errors start -> 100% stable: ${Date.now() - errorsStart} ms (scrape interval 1 s)`);
    expect(status.history.at(-1)).toMatchObject({ version: "v2", outcome: "rolled-back" });
    expect(status.history.at(-1)?.reason).toMatch(/^guard: \d+(\.\d)?% of \d+ canary requests failed \(limit 20%\)$/);
  });

  it("(b3) with a Service per version (host: reviews-{{ version }}), judges the canary on its own Service's telemetry", async () => {
    world = await createWorld({ hostPerVersion: true, behaviour: { v2: { errorRate: 0.3, latencyMs: 20 } } });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2");
    await world.waitForWeights((w) => (w.v2 ?? 0) > 0);
    const status = await world.waitForStatus((s) => s.phase === "RolledBack", 60_000);
    expect(status.history.at(-1)?.reason).toMatch(/^success-rate 0\.\d+ < 0\.95$/);
    await world.waitForWeights((w) => w.v1 === 100 && (w.v2 ?? 0) === 0);
    const vs = (await world.objects.getNamespacedCustomObject({ ...VS, namespace: world.namespace, name: "reviews" })) as { spec: { http: { route: unknown[] }[] } };
    expect(vs.spec.http[0]?.route).toEqual([{ destination: { host: "reviews-v1" }, weight: 100 }]);
  });

  it("(e2) releases as a canary, from what the VirtualService routes to, a Rollout deleted by hand whose next commit bumps its version", async () => {
    world = await createWorld();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.rollouts.delete(world.namespace, "reviews");
    await expect
      .poll(
        () =>
          world!.rollouts.get(world!.namespace, "reviews").then(
            () => "present",
            () => "gone",
          ),
        { timeout: 15_000 },
      )
      .toBe("gone");
    await world.release("v2", { steps: ["- setWeight: 30", "- pause: 2s"] });
    // The object is made again with no status: v1, live in the VirtualService, stays stable.
    const canary = await world.waitForWeights((w) => w.v2 === 30, 30_000);
    expect(canary).toEqual({ v1: 70, v2: 30 });
    const done = await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 60_000);
    expect(done.history.at(-1)).toMatchObject({ version: "v2", fromVersion: "v1", outcome: "promoted" });
  });

  it("(c) never promotes a canary with too little traffic", async () => {
    world = await createWorld({ rate: 1 });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2");
    const paused = await world.waitForStatus((s) => s.phase === "Paused", 60_000);
    expect(paused.release?.pauseReason).toBe("inconclusive");
    expect(paused.release?.metrics[0]?.lastOutcome).toBe("inconclusive");
    expect(paused.stableVersion).toBe("v1");
    expect((await world.weights()).v2).toBe(20);
  });

  it("(d) lets a newer version committed mid-release supersede it", async () => {
    world = await createWorld();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2", { steps: ["- setWeight: 20", "- pause: 1h"] });
    await world.waitForStatus((s) => s.canaryVersion === "v2" && s.canaryWeight === 20);
    await world.release("v3");
    const done = await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v3", 90_000);
    expect(done.history.map((h) => [h.version, h.outcome])).toEqual([
      ["v2", "superseded"],
      ["v3", "promoted"],
    ]);
    await world.waitForWeights((w) => w.v3 === 100 && Object.keys(w).length === 1);
  });

  it("(e) stops managing a Rollout removed from git, sending an in-flight canary back to stable", async () => {
    world = await createWorld();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2", { steps: ["- setWeight: 30", "- pause: 1h"] });
    await world.waitForWeights((w) => w.v2 === 30);
    await world.remote.commit({ "rollouts/reviews.yaml": null });
    await world.waitForWeights((w) => w.v1 === 100 && w.v2 === undefined);
    // Traffic first, then the finalizer lets the object go.
    await expect
      .poll(
        () =>
          world!.rollouts.get(world!.namespace, "reviews").then(
            () => "present",
            () => "gone",
          ),
        { timeout: 15_000 },
      )
      .toBe("gone");
  });

  it("(f) reports a bad commit while other Rollouts keep progressing", async () => {
    world = await createWorld({ services: ["reviews", "ratings"] });
    await world.release("v1");
    await world.release("v1", { name: "ratings" });
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.waitForStatus((s) => s.phase === "Healthy", 30_000, "ratings");
    await world.release("v2");
    await world.remote.commit({
      "rollouts/ratings.yaml":
        "apiVersion: tideway.io/v1alpha1\nkind: Rollout\nmetadata: { name: ratings, namespace: " +
        world.namespace +
        " }\nspec:\n  service: ratings\n  version: v2\n  trafficRouting: { istio: { virtualService: { name: ratings } } }\n  steps:\n    - setWeight: 150\n",
    });
    const ratings = await world.waitForStatus((s) => s.conditions.some((c) => c.type === "Valid" && c.status === "False"), 30_000, "ratings");
    expect(ratings.conditions.find((c) => c.type === "Valid")?.message).toMatch(/^rollouts\/ratings\.yaml:9:\d+: spec\.steps\[0\]\.setWeight: /);
    expect(ratings.stableVersion).toBe("v1");
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 90_000);
  });

  it("(g2) aborts at once while Prometheus accepts connections and never answers", async () => {
    // A Prometheus that hangs: every analysis run waits for --prometheus-timeout (10 s here).
    const hung = createServer(() => undefined);
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", () => resolve()));
    try {
      const port = (hung.address() as AddressInfo).port;
      world = await createWorld({ controllerArgs: ["--prometheus-url", `http://127.0.0.1:${port}`, "--prometheus-timeout", "10s"] });
      await world.release("v1");
      await world.waitForStatus((s) => s.phase === "Healthy");
      await world.release("v2", { steps: ["- setWeight: 40", "- pause: 1h"], analysis: FAST_ANALYSIS.replace("interval: 3s", "interval: 1s") });
      await world.waitForWeights((w) => w.v2 === 40);
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // analysis runs are hanging now
      const sent = Date.now();
      await world.rollouts.patchMetadata(world.namespace, "reviews", { annotations: { "tideway.io/abort": "prometheus is hanging" } });
      await world.waitForWeights((w) => w.v1 === 100 && (w.v2 ?? 0) === 0, 8_000); // before one query could time out
      console.log(`[measure] abort with a hanging Prometheus -> 100% stable: ${Date.now() - sent} ms`);
      expect((await world.waitForStatus((s) => s.phase === "Aborted")).history.at(-1)?.reason).toBe("prometheus is hanging");
    } finally {
      hung.closeAllConnections();
      hung.close();
    }
  });

  it("(g) sends 100% to stable within a second of tideway.io/abort on the live Rollout", async () => {
    world = await createWorld();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2", { steps: ["- setWeight: 40", "- pause: 1h"] });
    await world.waitForWeights((w) => w.v2 === 40);
    const { kubectl, kubeconfigPath } = services();
    const sent = Date.now();
    execFileSync(kubectl!, ["--kubeconfig", kubeconfigPath, "-n", world.namespace, "annotate", "rollout", "reviews", "tideway.io/abort=bad latency", "tideway.io/by=alice"]);
    await world.waitForWeights((w) => w.v1 === 100 && (w.v2 ?? 0) === 0, 10_000);
    const elapsed = Date.now() - sent;
    console.log(`[measure] abort annotation -> 100% stable: ${elapsed} ms`);
    const status = await world.waitForStatus((s) => s.phase === "Aborted");
    expect(status.commands.at(-1)).toMatchObject({ command: "abort", value: "bad latency", user: "alice", result: "aborted v2" });
    expect(status.history.at(-1)).toMatchObject({ outcome: "aborted", reason: "bad latency by alice" });
    const object = await world.rollouts.get(world.namespace, "reviews");
    // Acknowledged: the command and who gave it are both removed.
    await expect
      .poll(async () => {
        const annotations = (await world!.rollouts.get(world!.namespace, "reviews")).metadata.annotations ?? {};
        return [annotations["tideway.io/abort"], annotations["tideway.io/by"]];
      })
      .toEqual([undefined, undefined]);
    expect(object.metadata.name).toBe("reviews");
  });

  it("(h) keeps every route but the managed weights byte-for-byte in a shared VirtualService", async () => {
    const http = [
      { name: "admin", match: [{ uri: { prefix: "/admin" } }], route: [{ destination: { host: "reviews-admin", port: { number: 8080 } } }], timeout: "3s" },
      {
        name: "primary",
        retries: { attempts: 3, perTryTimeout: "2s" },
        timeout: "10s",
        route: [
          { destination: { host: "reviews", subset: "v1" }, weight: 85 },
          { destination: { host: "reviews-legacy" }, weight: 10 },
          { destination: { host: "reviews", subset: "shadow-experiment" }, weight: 5 },
        ],
      },
      {
        name: "shadow",
        match: [{ headers: { "x-shadow": { exact: "1" } } }],
        route: [{ destination: { host: "reviews", subset: "v1" } }],
        mirror: { host: "reviews-mirror" },
        mirrorPercentage: { value: 50 },
      },
      { name: "fallback", route: [{ destination: { host: "ratings" } }], fault: { delay: { percentage: { value: 1 }, fixedDelay: "1s" } } },
    ];
    world = await createWorld({ http });
    const before = (await world.objects.getNamespacedCustomObject({ ...VS, namespace: world.namespace, name: "reviews" })) as {
      metadata: { annotations?: Record<string, string> };
      spec: { hosts: string[]; http: typeof http };
    };
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2");
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 90_000);
    await world.waitForWeights((w) => w.v2 === 85);
    const after = (await world.objects.getNamespacedCustomObject({ ...VS, namespace: world.namespace, name: "reviews" })) as typeof before;
    expect(after.spec.hosts).toEqual(before.spec.hosts);
    // The one annotation added is Tideway's claim on the routes it manages.
    const owner = `${world.namespace}/reviews`;
    expect(after.metadata.annotations).toEqual({ ...before.metadata.annotations, "tideway.io/route-owners": JSON.stringify({ primary: owner, "reviews-canary-header": owner }) });
    expect([after.spec.http[0], after.spec.http[2], after.spec.http[3]]).toEqual([http[0], http[2], http[3]]);
    const { route, ...rest } = after.spec.http[1]!;
    const originalRest: Record<string, unknown> = { ...http[1]! };
    delete originalRest.route;
    expect(rest).toEqual(originalRest);
    // Another team's subset of the same service keeps its place and weight.
    expect(route).toEqual([
      { destination: { host: "reviews", subset: "v2" }, weight: 85 },
      { destination: { host: "reviews-legacy" }, weight: 10 },
      { destination: { host: "reviews", subset: "shadow-experiment" }, weight: 5 },
    ]);
  });

  it("(i) continues where it was after the controller is killed mid-release, and after Redis is flushed", async () => {
    world = await createWorld();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2", { steps: ["- setWeight: 20", "- pause: 6s", "- setWeight: 50", "- pause: 6s", "- setWeight: 80", "- pause: 4s"] });
    await world.waitForStatus((s) => s.canaryWeight === 20);
    await world.restartController({ kill: true });
    await world.waitForStatus((s) => s.canaryWeight === 50, 60_000);
    // Every queued job and schedule of this controller disappears at once, as in a FLUSHALL; status
    // in the API server is the memory. KEYS then DEL from here would not be at once: a job the
    // controller queued in between would keep its record and lose its place in the queue.
    const redis = new Redis(services().redisUrl);
    await redis.eval(DELETE_MATCHING, 0, `w${world.namespace.replace(/-/g, "")}:*`);
    redis.disconnect();
    const done = await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 90_000);
    expect(done.history.at(-1)).toMatchObject({ version: "v2", outcome: "promoted" });
    expect(done.releaseCount).toBe(1);
  }, 180_000);
});
