/**
 * The reconciler through its ports, with small in-memory implementations of them: a store that
 * enforces resourceVersion preconditions, a router that records (or refuses) traffic, a scheduler,
 * an Event sink. The integration tests drive the same class against the real adapters.
 */
import { pino } from "pino";
import { Registry } from "prom-client";
import { beforeEach, describe, expect, it } from "vitest";
import { ControllerMetrics } from "../../src/controller/metrics.js";
import { Reconciler, type AnalysisRunner } from "../../src/controller/reconciler.js";
import { KubeError } from "../../src/kube/errors.js";
import type { EventSink, EventTarget } from "../../src/kube/events.js";
import type { ReadinessSource } from "../../src/kube/readiness.js";
import { WorkloadError, type VersionWorkload, type WorkloadManager } from "../../src/kube/workloads.js";
import type { WorkloadState } from "../../src/rollout/workload.js";
import type { RolloutObject, RolloutStore } from "../../src/kube/rollouts.js";
import type { ReconcileJob, Scheduler } from "../../src/queue/reconcile-queue.js";
import type { ReleaseEvent } from "../../src/rollout/engine.js";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutStatusSchema, type RolloutStatus, type VersionReadiness } from "../../src/rollout/status.js";
import type { Traffic } from "../../src/rollout/traffic.js";
import { TrafficError, type Sighting, type TrafficOutcome, type TrafficRouter } from "../../src/traffic/router.js";

const T0 = Date.parse("2026-06-01T12:00:00.000Z");

/** Rollout objects in memory, with the API server's precondition: a write against a moved object is a 409. */
class MemoryStore implements RolloutStore {
  private readonly objects = new Map<string, RolloutObject>();
  private version = 1;
  statusWrites = 0;
  /** Makes the next status write and then fails, as a controller killed right after it. */
  dieAfterNextStatusWrite = false;

  put(object: Omit<RolloutObject, "metadata"> & { metadata: Omit<RolloutObject["metadata"], "resourceVersion"> }): void {
    this.objects.set(`${object.metadata.namespace}/${object.metadata.name}`, { ...object, metadata: { ...object.metadata, resourceVersion: String(this.version++) } });
  }

  async get(namespace: string, name: string): Promise<RolloutObject> {
    const object = this.objects.get(`${namespace}/${name}`);
    if (!object) throw new KubeError(404, `rollout ${namespace}/${name} not found`);
    return structuredClone(object);
  }

  async replaceStatus(object: RolloutObject, status: unknown): Promise<RolloutObject> {
    const current = await this.current(object.metadata.namespace, object.metadata.name, object.metadata.resourceVersion);
    const written = { ...current, status: structuredClone(status), metadata: { ...current.metadata, resourceVersion: String(this.version++) } };
    this.objects.set(`${object.metadata.namespace}/${object.metadata.name}`, written);
    this.statusWrites += 1;
    if (this.dieAfterNextStatusWrite) {
      this.dieAfterNextStatusWrite = false;
      throw new Error("killed right after the status write");
    }
    return structuredClone(written);
  }

  async patchMetadata(namespace: string, name: string, metadata: Record<string, unknown>): Promise<RolloutObject> {
    const expected = typeof metadata.resourceVersion === "string" ? metadata.resourceVersion : undefined;
    const current = await this.current(namespace, name, expected);
    const annotations: Record<string, string> = { ...(current.metadata.annotations ?? {}) };
    for (const [key, value] of Object.entries((metadata.annotations ?? {}) as Record<string, string | null>)) {
      if (value === null) delete annotations[key];
      else annotations[key] = value;
    }
    const finalizers = Array.isArray(metadata.finalizers) ? (metadata.finalizers as string[]) : current.metadata.finalizers;
    const patched: RolloutObject = { ...current, metadata: { ...current.metadata, annotations, ...(finalizers ? { finalizers } : {}), resourceVersion: String(this.version++) } };
    this.objects.set(`${namespace}/${name}`, patched);
    return structuredClone(patched);
  }

  async annotate(annotations: Record<string, string>): Promise<void> {
    await this.patchMetadata("bookinfo", "reviews", { annotations });
  }

  async bumpVersion(version: string): Promise<void> {
    const object = await this.get("bookinfo", "reviews");
    this.put({ ...object, spec: { ...(object.spec as object), version }, metadata: { ...object.metadata, generation: (object.metadata.generation ?? 1) + 1 } });
  }

  async status(): Promise<RolloutStatus> {
    return RolloutStatusSchema.parse((await this.get("bookinfo", "reviews")).status);
  }

  private async current(namespace: string, name: string, expected: string | undefined): Promise<RolloutObject> {
    const current = await this.get(namespace, name);
    if (expected !== undefined && expected !== current.metadata.resourceVersion) throw new KubeError(409, "the object has been modified");
    return current;
  }
}

/** A mesh in memory: the traffic last set, every write, and a switch to refuse them. */
class MemoryRouter implements TrafficRouter {
  current: Traffic | undefined;
  writes: Traffic[] = [];
  failing: string | undefined;

  async setTraffic(_rollout: Rollout, traffic: Traffic): Promise<TrafficOutcome> {
    if (this.failing !== undefined) throw new TrafficError(this.failing);
    const wrote = JSON.stringify(this.current) !== JSON.stringify(traffic);
    if (wrote) this.writes.push(traffic);
    this.current = traffic;
    return { wrote, writes: wrote ? 1 : 0, takenOver: [] };
  }

  async sighting(): Promise<Sighting> {
    return {};
  }

  async releaseRoutes(): Promise<void> {}
}

class MemoryScheduler implements Scheduler {
  jobs: ReconcileJob[] = [];
  async schedule(job: Extract<ReconcileJob, { at: number }>): Promise<void> {
    this.jobs.push(job);
  }
}

/** Events by key, as the API server keeps them by name: recording a key twice keeps one. */
class MemoryEvents implements EventSink {
  readonly recorded = new Map<string, { target: EventTarget; reason: string; message: string }>();
  async record(target: EventTarget, _type: "Normal" | "Warning", reason: string, message: string, key?: string): Promise<void> {
    this.recorded.set(key ?? `${this.recorded.size}`, { target, reason, message });
  }
  reasons(): string[] {
    return [...this.recorded.values()].map((e) => e.reason);
  }
}

let store: MemoryStore;
let router: MemoryRouter;
let scheduler: MemoryScheduler;
let events: MemoryEvents;
let notified: ReleaseEvent[];
let now: number;
let analysis: AnalysisRunner;

/** The cluster's ready endpoints per version, and every read made of them. */
class MemoryReadiness implements ReadinessSource {
  pods: Record<string, { ready: number; total: number }> = {};
  reads: string[][] = [];
  failing = false;
  async read(_rollout: Rollout, versions: readonly string[]): Promise<VersionReadiness[]> {
    this.reads.push([...versions]);
    if (this.failing) throw new Error("the API server is away");
    return versions.map((version) => ({ version, ...(this.pods[version] ?? { ready: 0, total: 0 }) }));
  }
}

/** Deployments in memory; `refuse` makes apply fail as the API server would. */
class MemoryWorkloads implements WorkloadManager {
  deployments = new Map<string, number>();
  refuse: string | undefined;
  calls: string[] = [];
  async apply(_r: Rollout, version: string, replicas: number): Promise<void> {
    this.calls.push(`apply ${version} ${replicas}`);
    if (this.refuse !== undefined) throw new WorkloadError(this.refuse);
    this.deployments.set(version, replicas);
  }
  async ensureSubset(_r: Rollout, version: string): Promise<boolean> {
    this.calls.push(`subset ${version}`);
    return false;
  }
  async scale(_r: Rollout, version: string, replicas: number): Promise<void> {
    this.calls.push(`scale ${version} ${replicas}`);
    if (this.deployments.has(version)) this.deployments.set(version, replicas);
  }
  async remove(_r: Rollout, version: string): Promise<void> {
    this.calls.push(`remove ${version}`);
    this.deployments.delete(version);
  }
  async list(): Promise<VersionWorkload[]> {
    return [...this.deployments].map(([version, replicas]) => ({ name: `reviews-${version}`, version, replicas }));
  }
  async state(_r: Rollout, version: string): Promise<WorkloadState> {
    const replicas = this.deployments.get(version);
    return { exists: replicas !== undefined, replicas: replicas ?? 0, readyReplicas: replicas ?? 0, availableReplicas: replicas ?? 0, available: replicas !== undefined };
  }
}

function reconciler(readiness?: ReadinessSource, inFlight?: (name: string, yes: boolean) => void, workloads?: WorkloadManager): Reconciler {
  return new Reconciler({
    rollouts: store,
    traffic: router,
    analysis: (...args) => analysis(...args),
    guard: () => Promise.resolve({ error: "no guard here" }),
    queue: scheduler,
    events,
    metrics: new ControllerMetrics(new Registry()),
    log: pino({ level: "silent" }),
    notify: async (event) => void notified.push(event),
    now: () => now,
    ...(readiness ? { readiness } : {}),
    ...(workloads ? { workloads } : {}),
    ...(inFlight ? { onInFlight: (ref: { name: string }, yes: boolean) => inFlight(ref.name, yes) } : {}),
  });
}

const reconcile = (r = reconciler()) => r.handle({ kind: "reconcile", namespace: "bookinfo", name: "reviews" });

beforeEach(() => {
  store = new MemoryStore();
  router = new MemoryRouter();
  scheduler = new MemoryScheduler();
  events = new MemoryEvents();
  notified = [];
  now = T0;
  analysis = () => Promise.resolve([{ name: "success-rate", outcome: "pass", value: 1, message: "1 >= 0.99" }]);
  store.put({
    apiVersion: "tideway.io/v1alpha1",
    kind: "Rollout",
    metadata: { name: "reviews", namespace: "bookinfo", uid: "uid-1", generation: 1 },
    spec: {
      service: "reviews",
      version: "v1",
      trafficRouting: { istio: { virtualService: { name: "reviews" } } },
      steps: [{ setWeight: 20 }, { pause: "1m" }],
      analysis: { interval: "15s", metrics: [{ name: "success-rate", min: 0.99 }], guard: { enabled: false } },
    },
  });
});

describe("the reconciler, through its ports", () => {
  it("adopts a new Rollout: status written once per pass, traffic written once, confirmed by the next pass, announced once", async () => {
    await reconcile();
    expect(await store.status()).toMatchObject({ phase: "Healthy", stableVersion: "v1", message: "v1 is stable: 100% of traffic" });
    expect((await store.status()).conditions.find((c) => c.type === "TrafficApplied")?.status).toBe("True");
    expect(router.writes).toEqual([{ stableVersion: "v1", canaryWeight: 0 }]);
    expect(store.statusWrites).toBe(2); // the decision, then its traffic confirmed (the outbox cleared with it)
    expect((await store.status()).outbox).toBeUndefined();
    expect(events.reasons()).toEqual(["Adopted"]);
    expect(notified.map((e) => e.kind)).toEqual(["adopted"]);

    // A second run finds nothing to do.
    await reconcile();
    expect(store.statusWrites).toBe(2);
    expect(router.writes).toHaveLength(1);
  });

  it("starts a release and moves a step on a passing check: two status writes per weight change", async () => {
    await reconcile();
    await store.bumpVersion("v2");
    await reconcile();
    const started = await store.status();
    expect(started).toMatchObject({ phase: "Progressing", canaryVersion: "v2", canaryWeight: 20 });
    expect(started.release?.trafficApplied).toBe(true);
    expect(router.current).toMatchObject({ canaryVersion: "v2", canaryWeight: 20 });
    const analysisJob = scheduler.jobs.find((j): j is Extract<ReconcileJob, { kind: "analysis" }> => j.kind === "analysis");
    expect(analysisJob).toBeDefined();

    const writesBefore = store.statusWrites;
    now = analysisJob?.at ?? now;
    await reconciler().handle(analysisJob as ReconcileJob);
    expect((await store.status()).release?.stepChecks.passed).toBe(1);
    expect(store.statusWrites - writesBefore).toBe(1); // a check that changes no traffic: one write
    expect(notified.map((e) => e.kind)).toEqual(["adopted", "started", "step"]);
  });

  it("records traffic that fails to apply and leaves the retry to a wake-up, without a loop", async () => {
    router.failing = "VirtualService bookinfo/reviews not found";
    await reconcile();
    const status = await store.status();
    expect(status.conditions.find((c) => c.type === "TrafficApplied")).toMatchObject({ status: "False", message: "VirtualService bookinfo/reviews not found" });
    expect(status.message).toBe("v1 is stable; traffic not applied (retrying): VirtualService bookinfo/reviews not found");
    // The decision; the failure, with its announcement in the outbox; the outbox cleared once announced.
    expect(store.statusWrites).toBe(3);
    expect(router.writes).toHaveLength(0);
    expect(scheduler.jobs).toContainEqual({ kind: "tick", namespace: "bookinfo", name: "reviews", at: T0 + 5_000 });
    expect(notified.map((e) => e.kind)).toEqual(["adopted", "traffic-failed"]);

    router.failing = undefined;
    now = T0 + 5_000;
    await reconciler().handle({ kind: "tick", namespace: "bookinfo", name: "reviews", at: now });
    expect((await store.status()).conditions.find((c) => c.type === "TrafficApplied")?.status).toBe("True");
    expect(router.writes).toHaveLength(1);
  });

  it("announces, exactly once, what a replica killed right after its status write recorded", async () => {
    await reconcile();
    await store.bumpVersion("v2");
    store.dieAfterNextStatusWrite = true;
    await expect(reconcile()).rejects.toThrow("killed right after the status write");
    expect((await store.status()).outbox?.map((e) => e.kind)).toEqual(["started"]);
    expect(notified.map((e) => e.kind)).toEqual(["adopted"]);

    await reconcile(); // another replica
    await reconcile();
    expect(notified.map((e) => e.kind)).toEqual(["adopted", "started", "step"]);
    expect(events.reasons()).toEqual(["Adopted", "Started", "Step"]);
    expect((await store.status()).outbox).toBeUndefined();
  });

  it("promotes: 100% to the new stable, confirmed in TrafficApplied by the next pass", async () => {
    await reconcile();
    await store.bumpVersion("v2");
    await reconcile();
    await store.annotate({ "tideway.io/promote": "full" });
    await reconcile();
    const status = await store.status();
    expect(status).toMatchObject({ phase: "Healthy", stableVersion: "v2", message: "v2 is stable: 100% of traffic" });
    expect(status.conditions.find((c) => c.type === "TrafficApplied")).toMatchObject({ status: "True", message: "100% to v2" });
    expect(router.current).toEqual({ stableVersion: "v2", canaryWeight: 0 });
    expect(notified.map((e) => e.kind)).toEqual(["adopted", "started", "step", "promoted"]);
  });

  it("applies a command given by annotation once, records who gave it, and clears the claim", async () => {
    await reconcile();
    await store.bumpVersion("v2");
    await reconcile();
    await store.annotate({ "tideway.io/abort": "bad latency", "tideway.io/by": "alice" });
    await reconcile();
    const status = await store.status();
    expect(status).toMatchObject({ phase: "Aborted", canaryVersion: "v2" });
    expect(status.commands.at(-1)).toMatchObject({ command: "abort", user: "alice", source: "annotation" });
    expect(router.current).toEqual({ stableVersion: "v1", canaryWeight: 0 });
    const annotations = (await store.get("bookinfo", "reviews")).metadata.annotations ?? {};
    expect(Object.keys(annotations).filter((k) => k.startsWith("tideway.io/"))).toEqual([]);
    await reconcile();
    expect((await store.status()).commands.filter((c) => c.command === "abort")).toHaveLength(1);
  });

  it("gates a release on readiness: reads it only while a release may move, holds, proceeds once ready, keeps the last view when a read fails", async () => {
    const readiness = new MemoryReadiness();
    readiness.pods = { v1: { ready: 2, total: 2 } };
    const inFlight: [string, boolean][] = [];
    const r = reconciler(readiness, (name, yes) => inFlight.push([name, yes]));
    await reconcile(r);
    const adoptionReads = readiness.reads.length;
    await reconcile(r); // Healthy at its stable version: no read at all
    expect(readiness.reads).toHaveLength(adoptionReads);

    await store.bumpVersion("v2");
    await reconcile(r);
    expect(readiness.reads.at(-1)).toEqual(["v1", "v2"]);
    let status = await store.status();
    expect(status.release).toMatchObject({ canaryWeight: 0, waitingFor: "v2: 0/0 pods ready" });
    expect(router.current).toEqual({ stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0 });
    expect(notified.map((e) => e.kind)).toContain("waiting");
    expect(inFlight.at(-1)).toEqual(["reviews", true]);

    readiness.failing = true; // a failed read keeps the last view: still held, nothing rolled back
    await reconcile(r);
    expect((await store.status()).release?.waitingFor).toBe("v2: 0/0 pods ready");

    readiness.failing = false;
    readiness.pods.v2 = { ready: 1, total: 2 };
    await reconcile(r);
    status = await store.status();
    expect(status.release?.waitingFor).toBeUndefined();
    expect(router.current).toMatchObject({ canaryVersion: "v2", canaryWeight: 20 });
    expect(status.readiness).toEqual([
      { version: "v1", ready: 2, total: 2 },
      { version: "v2", ready: 1, total: 2 },
    ]);

    readiness.pods.v2 = { ready: 0, total: 2 }; // the canary's pods die
    await reconcile(r);
    status = await store.status();
    expect(status.phase).toBe("RolledBack");
    expect(router.current).toEqual({ stableVersion: "v1", canaryWeight: 0 });
    expect(inFlight.at(-1)).toEqual(["reviews", false]);
  });

  it("with spec.workload: makes the stable's Deployment, applies the canary's sized like the stable's, and ends a release whose Deployment the API server refuses", async () => {
    const object = await store.get("bookinfo", "reviews");
    const workload = { template: { metadata: { labels: { app: "reviews", version: "{{ version }}" } }, spec: { containers: [{ name: "reviews", image: "example.com/reviews:{{ version }}" }] } } };
    store.put({ ...object, spec: { ...(object.spec as object), workload } });
    const readiness = new MemoryReadiness();
    readiness.pods = { v1: { ready: 3, total: 3 } };
    const workloads = new MemoryWorkloads();
    workloads.deployments.set("v1", 3);
    const r = reconciler(readiness, undefined, workloads);
    await reconcile(r);
    expect(workloads.calls).toEqual(["apply v1 3", "subset v1"]); // kept at the size it has

    await store.bumpVersion("v2");
    await reconcile(r);
    expect(workloads.calls).toContain("apply v2 3"); // full size: the stable's replicas
    expect(workloads.deployments.get("v2")).toBe(3);

    workloads.refuse = 'applying Deployment bookinfo/reviews-v3: deployments.apps "reviews-v3" is forbidden: User "tideway" cannot patch resource "deployments"';
    await store.bumpVersion("v3");
    await reconcile(r);
    await reconcile(r);
    const status = await store.status();
    expect(status.phase).toBe("RolledBack");
    expect(status.history.at(-1)?.reason).toBe(`v3 cannot run: cannot apply its workload: ${workloads.refuse}`);
    expect(router.current).toEqual({ stableVersion: "v1", canaryWeight: 0 });
  });

  it("applies an abort at once while the Rollout's analysis run waits on a hanging Prometheus", async () => {
    await reconcile();
    await store.bumpVersion("v2");
    await reconcile();
    const job = scheduler.jobs.find((j): j is Extract<ReconcileJob, { kind: "analysis" }> => j.kind === "analysis");
    expect(job).toBeDefined();
    let answer: (results: Awaited<ReturnType<AnalysisRunner>>) => void = () => undefined;
    analysis = () => new Promise((resolve) => (answer = resolve)); // Prometheus accepts and never answers
    const r = reconciler();
    now = job?.at ?? now;
    const hanging = r.handle(job as ReconcileJob);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await store.annotate({ "tideway.io/abort": "bad latency", "tideway.io/by": "alice" });
    await r.handle({ kind: "reconcile", namespace: "bookinfo", name: "reviews" });
    expect((await store.status()).phase).toBe("Aborted"); // while the query still hangs
    expect(router.current).toEqual({ stableVersion: "v1", canaryWeight: 0 });
    answer([{ name: "success-rate", outcome: "pass", value: 1, message: "1 >= 0.99" }]);
    await hanging; // the late answer is about a release that is over: it changes nothing
    const status = await store.status();
    expect(status.phase).toBe("Aborted");
    expect(status.history.at(-1)?.outcome).toBe("aborted");
  });
});
