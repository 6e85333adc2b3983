import { afterAll, describe, expect, it } from "vitest";
import { jobId, ReconcileQueue, type ReconcileJob } from "../../src/queue/reconcile-queue.js";
import { redisConnection } from "../../src/queue/redis.js";
import { waitUntil } from "../env/index.js";
import { services, uniqueName } from "./services.js";

const connection = redisConnection(services().redisUrl);
const queue = new ReconcileQueue(connection, uniqueName("rq"));
afterAll(async () => {
  await queue.close();
  connection.disconnect();
});

describe("the reconcile queue on the real Redis", () => {
  it("runs a Rollout's reconcile again after an earlier one failed every attempt", async () => {
    const ref = { namespace: "bookinfo", name: "reviews" };
    const calls: ReconcileJob[] = [];
    let failing = true;
    const worker = queue.start(async (job) => {
      calls.push(job);
      if (failing) throw new Error("API server unreachable");
    });
    const failed = new Promise<void>((resolve) =>
      worker.on("failed", (job) => {
        if (job && job.attemptsMade >= 5) resolve();
      }),
    );
    await queue.request(ref);
    await failed;
    expect(calls).toHaveLength(5);

    failing = false;
    await queue.request(ref);
    await waitUntil("the next reconcile", async () => calls.length === 6, { timeoutMs: 10_000 });
    expect(calls.at(-1)).toEqual({ kind: "reconcile", ...ref });
  }, 60_000);

  it("runs a Rollout again when a change it may not have read is reported while its reconcile runs", async () => {
    const other = new ReconcileQueue(connection, uniqueName("rq"));
    const calls: { name: string; reads: string }[] = [];
    const gates = new Map<string, () => void>();
    // What each Rollout's object is at, and a reconcile that holds until the test lets it finish.
    const versions = new Map<string, string>([
      ["details", "1"],
      ["productpage", "1"],
    ]);
    other.start(async (job) => {
      const reads = versions.get(job.name) ?? "";
      calls.push({ name: job.name, reads });
      if (calls.filter((c) => c.name === job.name).length === 1) await new Promise<void>((resolve) => gates.set(job.name, resolve));
      return reads;
    });
    const runs = (name: string) => calls.filter((c) => c.name === name);
    try {
      for (const name of ["details", "productpage"]) await other.request({ namespace: "bookinfo", name }, "1");
      await waitUntil("both first reconciles running", async () => gates.size === 2, { timeoutMs: 10_000 });
      // details: someone annotates it after its reconcile read version 1 (the job's id is taken).
      versions.set("details", "2");
      await other.request({ namespace: "bookinfo", name: "details" }, "2");
      // productpage: a change its reconcile has read already (its own status write, seen by its last read).
      await other.request({ namespace: "bookinfo", name: "productpage" }, "1");
      for (const release of gates.values()) release();
      await waitUntil("details reconciled again", async () => runs("details").length >= 2, { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(runs("details")).toEqual([
        { name: "details", reads: "1" },
        { name: "details", reads: "2" },
      ]);
      expect(runs("productpage")).toEqual([{ name: "productpage", reads: "1" }]);
    } finally {
      for (const release of gates.values()) release();
      await other.close();
    }
  }, 60_000);

  it("replays a timer with the same id after it failed, as a resync after a Redis hiccup does", async () => {
    const ref = { namespace: "bookinfo", name: "ratings" };
    const at = Date.now();
    const seen: number[] = [];
    const other = new ReconcileQueue(connection, uniqueName("rq"));
    let failing = true;
    const worker = other.start(async (job) => {
      if (job.kind !== "analysis") return;
      seen.push(job.at);
      if (failing) throw new Error("Prometheus down");
    });
    const failed = new Promise<void>((resolve) =>
      worker.on("failed", (job) => {
        if (job && job.attemptsMade >= 5) resolve();
      }),
    );
    await other.schedule({ kind: "analysis", ...ref, at, releaseId: 1, stepIndex: 1 });
    await failed;
    failing = false;
    await other.schedule({ kind: "analysis", ...ref, at, releaseId: 1, stepIndex: 1 });
    await waitUntil("the replayed analysis", async () => seen.length === 6, { timeoutMs: 10_000 });
    await other.close();
  }, 60_000);

  it("runs a timer whose record outlived its place in the queue (keys deleted one by one) when it is scheduled again", async () => {
    const other = new ReconcileQueue(connection, uniqueName("rq"));
    const seen: number[] = [];
    other.start(async (job) => {
      if (job.kind === "analysis") seen.push(job.at);
    });
    try {
      const timer = { kind: "analysis" as const, namespace: "bookinfo", name: "stray", at: Date.now() + 60_000, releaseId: 1, stepIndex: 3 };
      await other.schedule(timer);
      // The delayed set goes and the record stays: what deleting the queue's keys one by one leaves
      // when the record was written between finding the keys and deleting them.
      await connection.del(other.queue.toKey("delayed"));
      expect(await other.queue.getJobState(jobId(timer))).toBe("unknown");
      // Status still asks for this run (its id names its time): rebuilt when it is due, it runs.
      await other.schedule(timer, "release", timer.at);
      await waitUntil("the timer run", async () => seen.length === 1, { timeoutMs: 10_000 });
      expect(seen).toEqual([timer.at]);
    } finally {
      await other.close();
    }
  }, 30_000);

  it("runs an analysis that outlasts the lock (a slow Prometheus) once, though another replica's worker is idle", async () => {
    const prefix = uniqueName("rq");
    const replicas = [new ReconcileQueue(connection, prefix), new ReconcileQueue(connection, prefix)];
    const runs: number[] = [];
    // 12 s: more than twice WORKER_LOCK.lockDuration, as a query waiting out --prometheus-timeout can.
    replicas.forEach((replica, index) =>
      replica.start(async (job) => {
        if (job.kind !== "analysis") return;
        runs.push(index);
        await new Promise((resolve) => setTimeout(resolve, 12_000));
      }),
    );
    try {
      const at = Date.now();
      await replicas[0]?.schedule({ kind: "analysis", namespace: "bookinfo", name: "slow", at, releaseId: 1, stepIndex: 1 });
      const pending = async () => Object.values((await replicas[0]?.queue.getJobCounts("active", "waiting", "delayed")) ?? {}).reduce((a, b) => a + b, 0);
      await waitUntil("the analysis done", async () => runs.length > 0 && (await pending()) === 0, { timeoutMs: 30_000, intervalMs: 200 });
      expect(runs).toHaveLength(1);
    } finally {
      for (const replica of replicas) await replica.close();
    }
  }, 60_000);

  it("runs release work before bulk work waiting ahead of it, and moves a bulk job up when it becomes release work", async () => {
    const other = new ReconcileQueue(connection, uniqueName("rq"));
    const order: string[] = [];
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // The first bulk job holds the only worker slot until everything is queued.
    other.start(
      async (job) => {
        order.push(`${job.kind}:${job.name}`);
        if (order.length === 1) await gate;
      },
      { concurrency: 1 },
    );
    try {
      const ns = "bulk";
      await other.request({ namespace: ns, name: "adopt-0" }, "1", "bulk");
      await waitUntil("the first bulk job running", async () => order.length === 1, { timeoutMs: 10_000 });
      for (let i = 1; i < 100; i++) await other.request({ namespace: ns, name: `adopt-${i}` }, "1", "bulk");
      await other.schedule({ kind: "tick", namespace: ns, name: "adopt-tick", at: Date.now() }, "bulk");
      // A release: its reconcile, its analysis run, and a waiting bulk job that turns out to be release work.
      await other.request({ namespace: ns, name: "reviews" }, "7", "release");
      await other.schedule({ kind: "analysis", namespace: ns, name: "reviews", at: Date.now(), releaseId: 1, stepIndex: 0 });
      await other.request({ namespace: ns, name: "adopt-90" }, "2", "release");
      open();
      await waitUntil("every job run", async () => order.length === 103, { timeoutMs: 30_000 });
      expect(order.slice(0, 4)).toEqual(["reconcile:adopt-0", "reconcile:reviews", "analysis:reviews", "reconcile:adopt-90"]);
      expect(order.filter((o) => o === "reconcile:adopt-90")).toHaveLength(1);
    } finally {
      open();
      await other.close();
    }
  }, 60_000);
});
