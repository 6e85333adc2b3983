/**
 * Reconcile requests as BullMQ jobs. One job id per Rollout (`reconcile-<ns>-<name>`), so a burst
 * of changes queues it once; timed wake-ups (pause ends, analysis runs) are delayed jobs with
 * ids that name their time, so a replay after a Redis flush schedules each once.
 */
import { Queue, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import type { RolloutRef } from "../kube/informer.js";

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

export class ReconcileQueue {
  readonly queue: Queue;
  private worker: Worker | undefined;

  constructor(private readonly connection: Redis, private readonly prefix = "tideway") {
    // Failed jobs are removed too: BullMQ refuses a job id that still exists in any state, so a
    // kept failure would swallow every later request for that Rollout (and every replayed timer).
    this.queue = new Queue(RECONCILE_QUEUE, { connection, prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 5, backoff: { type: "exponential", delay: 500 } } });
  }

  /** Queues a reconcile of `ref` now; a no-op while one is already waiting. */
  async request(ref: RolloutRef): Promise<void> {
    await this.add({ kind: "reconcile", ...ref }, 0);
  }

  /** Queues `job` to run at its time (ms since the epoch). */
  async schedule(job: Extract<ReconcileJob, { at: number }>, now = Date.now()): Promise<void> {
    await this.add(job, Math.max(0, job.at - now));
  }

  private async add(job: ReconcileJob, delay: number): Promise<void> {
    await this.queue.add(job.kind, job, { jobId: jobId(job), delay });
  }

  start(run: (job: ReconcileJob, raw: Job) => Promise<void>, concurrency = 8): Worker {
    // A short lock (renewed while the worker lives) so a killed replica's job is retried in seconds.
    this.worker = new Worker(RECONCILE_QUEUE, (raw: Job) => run(raw.data as ReconcileJob, raw), {
      connection: this.connection.duplicate(),
      prefix: this.prefix,
      concurrency,
      lockDuration: 15_000,
      stalledInterval: 5_000,
    });
    return this.worker;
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
