import { afterAll, describe, expect, it } from "vitest";
import { ReconcileQueue, type ReconcileJob } from "../../src/queue/reconcile-queue.js";
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
    const failed = new Promise<void>((resolve) => worker.on("failed", (job) => {
      if (job && job.attemptsMade >= 5) resolve();
    }));
    await queue.request(ref);
    await failed;
    expect(calls).toHaveLength(5);

    failing = false;
    await queue.request(ref);
    await waitUntil("the next reconcile", async () => calls.length === 6, { timeoutMs: 10_000 });
    expect(calls.at(-1)).toEqual({ kind: "reconcile", ...ref });
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
    const failed = new Promise<void>((resolve) => worker.on("failed", (job) => {
      if (job && job.attemptsMade >= 5) resolve();
    }));
    await other.schedule({ kind: "analysis", ...ref, at, releaseId: 1, stepIndex: 1 });
    await failed;
    failing = false;
    await other.schedule({ kind: "analysis", ...ref, at, releaseId: 1, stepIndex: 1 });
    await waitUntil("the replayed analysis", async () => seen.length === 6, { timeoutMs: 10_000 });
    await other.close();
  }, 60_000);
});
