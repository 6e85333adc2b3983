/**
 * Reconcile requests as BullMQ jobs. One job id per Rollout (`reconcile-<ns>-<name>`), so a burst
 * of changes queues it once; timed wake-ups (pause ends, analysis runs) are delayed jobs with
 * ids that name their time, so a replay after a Redis flush schedules each once.
 *
 * BullMQ ignores an id that is running as well as one that is waiting, and a running reconcile
 * may already have read the object. So each request also records the resourceVersion it was told
 * of, and when a reconcile completes having last read another one, the Rollout is queued again:
 * an abort annotated in the last moments of a reconcile does not wait for the next timer.
 *
 * Two lanes (src/rollout/lane.ts): "release" jobs have no BullMQ priority and "bulk" jobs a
 * priority, and BullMQ takes every job without one before any prioritized job. So a release, a
 * command, an analysis run never wait behind thousands of adoptions; a bulk job that turns out to
 * be release work (asked for again in the release lane while it waits) is moved up.
 */
import { Queue, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import type { Lane } from "../rollout/lane.js";
import type { RolloutRef } from "../rollout/model.js";
import { WORKER_LOCK } from "./worker-lock.js";

export const RECONCILE_QUEUE = "tideway-reconcile";

export type ReconcileJob =
  | { kind: "reconcile"; namespace: string; name: string }
  | { kind: "tick"; namespace: string; name: string; at: number }
  | { kind: "analysis"; namespace: string; name: string; at: number; releaseId: number; stepIndex: number }
  | { kind: "guard"; namespace: string; name: string; at: number; releaseId: number };

const safe = (text: string) => text.replace(/[^A-Za-z0-9._-]/g, "_");

export function jobId(job: ReconcileJob): string {
  const base = `${safe(job.namespace)}-${safe(job.name)}`;
  if (job.kind === "reconcile") return `reconcile-${base}`;
  if (job.kind === "tick") return `tick-${base}-${job.at}`;
  if (job.kind === "guard") return `guard-${base}-${job.releaseId}-${job.at}`;
  return `analysis-${base}-${job.releaseId}-${job.stepIndex}-${job.at}`;
}

const FAILED = Symbol("failed");

/** BullMQ's priority of a bulk job: any priority at all puts a job after every job without one. */
export const BULK_PRIORITY = 10;

/** Wake-ups: a reconcile job run at its time, once per job id across all replicas; in the release lane unless said. */
export interface Scheduler {
  schedule(job: Extract<ReconcileJob, { at: number }>, lane?: Lane): Promise<void>;
}

export class ReconcileQueue implements Scheduler {
  readonly queue: Queue;
  private worker: Worker | undefined;

  /** How long a recorded resourceVersion waits for a reconcile to compare it (then a resync covers it). */
  static readonly SEEN_TTL_MS = 15 * 60_000;

  constructor(
    private readonly connection: Redis,
    private readonly prefix = "tideway",
  ) {
    // Failed jobs are removed too: BullMQ refuses a job id that still exists in any state, so a
    // kept failure would swallow every later request for that Rollout (and every replayed timer).
    this.queue = new Queue(RECONCILE_QUEUE, { connection, prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 5, backoff: { type: "exponential", delay: 500 } } });
  }

  /**
   * Queues a reconcile of `ref` now; a no-op while one is already waiting or running (one waiting
   * in the bulk lane moves to the release lane when asked for there). Given the resourceVersion
   * that prompted it, a running reconcile that read an older one runs again, in the lane asked for.
   */
  async request(ref: RolloutRef, resourceVersion?: string, lane: Lane = "release"): Promise<void> {
    const job: ReconcileJob = { kind: "reconcile", ...ref };
    if (resourceVersion !== undefined) await this.connection.set(this.seenKey(job), `${lane} ${resourceVersion}`, "PX", ReconcileQueue.SEEN_TTL_MS);
    await this.add(job, 0, lane);
  }

  private seenKey(job: ReconcileJob): string {
    return `${this.prefix}:${RECONCILE_QUEUE}:seen:${job.namespace}/${job.name}`;
  }

  /** After a reconcile: queue it again when a change it may not have read was reported meanwhile. */
  private async settle(job: ReconcileJob, read: unknown): Promise<void> {
    if (job.kind !== "reconcile") return;
    // GET and DEL in one transaction (GETDEL needs Redis 6.2; BullMQ runs on 5).
    const key = this.seenKey(job);
    const seen = (await this.connection.multi().get(key).del(key).exec())?.[0]?.[1];
    if (typeof seen !== "string") return;
    const [lane, version] = seen.startsWith("bulk ") ? (["bulk", seen.slice(5)] as const) : (["release", seen.replace(/^release /, "")] as const);
    if (read === FAILED || (typeof read === "string" && version !== read)) await this.request(job, undefined, lane);
  }

  /** Queues `job` to run at its time (ms since the epoch). */
  async schedule(job: Extract<ReconcileJob, { at: number }>, lane: Lane = "release", now = Date.now()): Promise<void> {
    await this.add(job, Math.max(0, job.at - now), lane);
  }

  private async add(job: ReconcileJob, delay: number, lane: Lane): Promise<void> {
    const id = jobId(job);
    await this.dropStray(id);
    await this.queue.add(job.kind, job, { jobId: id, delay, ...(lane === "bulk" ? { priority: BULK_PRIORITY } : {}) });
    if (lane === "bulk") return;
    // The id may be taken by a bulk job still waiting: it is release work now (for a job already
    // running this only changes a field that is read no more).
    const taken = await this.queue.getJob(id);
    if (taken !== undefined && taken.priority > 0) await taken.changePriority({ priority: 0 });
  }

  /**
   * BullMQ ignores an id whose record exists, whatever became of its place in the queue. A record
   * in no state at all (not waiting, delayed, active...) is a stray: left when Tideway's keys were
   * deleted one by one (not at once, as FLUSHALL does) while a replica was queuing that very job.
   * Status asks for the same id again and again (a timer's id names its time), so a stray analysis
   * run would hold a release at its step for good; it goes, and the add after it counts.
   */
  private async dropStray(id: string): Promise<void> {
    if ((await this.connection.exists(this.queue.toKey(id))) === 0) return;
    if ((await this.queue.getJobState(id)) !== "unknown") return;
    // Not removed while a worker holds it (it was taken meanwhile): then it runs anyway.
    await this.queue.remove(id);
  }

  /**
   * Runs jobs with `run`, which resolves to the resourceVersion it last read (or nothing).
   * `onError` hears of a failed follow-up check (Redis unreachable); the resync covers it.
   */
  start(
    run: (job: ReconcileJob, raw: Job) => Promise<string | undefined | void>,
    { concurrency = 8, onError = () => undefined }: { concurrency?: number; onError?: (error: unknown) => void } = {},
  ): Worker {
    // A short lock (renewed while the worker lives) so a killed replica's job is retried in seconds.
    this.worker = new Worker(RECONCILE_QUEUE, (raw: Job) => run(raw.data as ReconcileJob, raw), {
      connection: this.connection.duplicate(),
      prefix: this.prefix,
      concurrency,
      ...WORKER_LOCK,
    });
    // The completed job is gone by now (removeOnComplete), so its id can be queued again.
    this.worker.on("completed", (raw: Job, read: unknown) => {
      this.settle(raw.data as ReconcileJob, read).catch(onError);
    });
    // A job that failed for good read nothing: a change reported meanwhile is queued again.
    this.worker.on("failed", (raw: Job | undefined) => {
      if (raw && raw.attemptsMade >= (raw.opts.attempts ?? 1)) this.settle(raw.data as ReconcileJob, FAILED).catch(onError);
    });
    return this.worker;
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
