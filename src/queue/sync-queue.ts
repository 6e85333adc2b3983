/**
 * Git syncs as BullMQ jobs: a job scheduler polls every interval and webhooks add one more, so
 * with several controller replicas on one Redis each sync runs once, on one of them.
 */
import { Queue, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { WORKER_LOCK } from "./worker-lock.js";

export const SYNC_QUEUE = "tideway-git-sync";

export class SyncQueue {
  readonly queue: Queue;
  private worker: Worker | undefined;

  constructor(
    private readonly connection: Redis,
    private readonly prefix = "tideway",
  ) {
    // A sync that finds another replica syncing is retried (up to ~30 s), so a webhook push is
    // never dropped; it then finds the other replica's result or the newer commit.
    this.queue = new Queue(SYNC_QUEUE, { connection, prefix, defaultJobOptions: { removeOnComplete: 100, removeOnFail: 100, attempts: 20, backoff: { type: "fixed", delay: 1_500 } } });
  }

  /** Polls every `intervalMs`; re-running it with a new interval replaces the old schedule. */
  async schedulePolling(intervalMs: number): Promise<void> {
    await this.queue.upsertJobScheduler("git-poll", { every: intervalMs }, { name: "sync", data: { trigger: "poll" } });
  }

  /** Queues a sync now, unless one is already waiting (a burst of pushes syncs once). */
  async requestSync(trigger: string): Promise<boolean> {
    const waiting = await this.queue.getJobs(["waiting", "prioritized"], 0, 20);
    if (waiting.some((job) => job.name === "sync")) return false;
    await this.queue.add("sync", { trigger }, { jobId: `sync-${trigger}-${Date.now()}` });
    return true;
  }

  start(run: (job: Job) => Promise<void>): void {
    this.worker = new Worker(SYNC_QUEUE, run, { connection: this.connection.duplicate(), prefix: this.prefix, concurrency: 1, ...WORKER_LOCK });
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
