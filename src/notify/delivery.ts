/**
 * Notifications as BullMQ jobs, so a release never waits for Slack and a Slack outage loses
 * nothing. One queue per target ("tideway-notify-slack", "tideway-notify-webhook"), each worked
 * one job at a time across all replicas, so events arrive in order; a failing target holds back
 * only itself. Job ids name the event, so enqueuing an event twice delivers it once.
 *
 * Who hears what is decided here and nowhere else (`targetHears`).
 */
import { Queue, UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Rollout } from "../rollout/model.js";
import { WORKER_LOCK } from "../queue/worker-lock.js";
import { isSyncEvent } from "../rollout/sync-event.js";
import { redact } from "../secrets/redact.js";
import { eventKey } from "./event-key.js";
import { postJson, type PostResult } from "./post.js";
import type { Notice } from "./notice.js";
import { slackMessage, type NotificationContext } from "./slack-message.js";
import { webhookMessage } from "./webhook-message.js";

export { loadSlackWebhookUrl } from "./webhook-url.js";

export const NOTIFY_QUEUE = "tideway-notify";
export const NOTIFY_TARGETS = ["slack", "webhook"] as const;
export type NotifyTarget = (typeof NOTIFY_TARGETS)[number];

export type NotifyLogLevel = "debug" | "info" | "warn" | "error";

/** What a delivery log line carries: never a URL, a header or a response body. */
export interface NotifyLogFields {
  target: NotifyTarget;
  /** The HTTP status, or why there was none. */
  status?: number | "unreachable" | "invalid-job";
  /** The event's key, e.g. "bookinfo/reviews/7". */
  event?: string;
  attempt?: number;
  retryInMs?: number;
  /** An error code such as "ECONNREFUSED" or Slack's "invalid_blocks". */
  reason?: string;
}

export type NotifyLog = (level: NotifyLogLevel, message: string, fields: NotifyLogFields) => void;

export interface NotificationQueueOptions {
  connection: Redis;
  /** BullMQ key prefix. Default "tideway". */
  prefix?: string;
  /** The incoming webhook (a secret) and the channel used when a Rollout names none. */
  slack?: { webhookUrl: string; channel?: string };
  /** A generic JSON webhook; its URL and headers are secrets too. */
  webhook?: { url: string; headers?: Record<string, string> };
  log: NotifyLog;
  /** First retry delay after a 5xx or a network error; doubles per attempt. Default 1 s. */
  minBackoffMs?: number;
  /** Longest retry delay. Default 60 s. */
  maxBackoffMs?: number;
  /** Attempts before a notification is dropped (with an error log). Default 50: about 45 minutes of outage. */
  maxAttempts?: number;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
}

const JobDataSchema = z.object({
  event: z.string(),
  body: z.record(z.string(), z.unknown()),
});
type DeliveryJob = z.infer<typeof JobDataSchema>;

const DAY_SECONDS = 24 * 60 * 60;
// Finished jobs are what makes a second enqueue of the same event a no-op, so they are kept a day.
const JOB_OPTIONS = {
  attempts: 1,
  removeOnComplete: { age: DAY_SECONDS, count: 10_000 },
  removeOnFail: { age: 7 * DAY_SECONDS, count: 10_000 },
};

interface Target {
  name: NotifyTarget;
  url: string;
  headers: Record<string, string>;
  queue: Queue;
  worker?: Worker;
}

export class NotificationQueue {
  private readonly targets: Target[] = [];
  private readonly secrets: string[];
  private readonly prefix: string;

  constructor(private readonly options: NotificationQueueOptions) {
    this.prefix = options.prefix ?? "tideway";
    const add = (name: NotifyTarget, url: string, headers: Record<string, string>) => {
      const queue = new Queue(`${NOTIFY_QUEUE}-${name}`, { connection: options.connection, prefix: this.prefix, defaultJobOptions: JOB_OPTIONS });
      this.targets.push({ name, url, headers, queue });
    };
    if (options.slack) add("slack", options.slack.webhookUrl, {});
    if (options.webhook) add("webhook", options.webhook.url, options.webhook.headers ?? {});
    this.secrets = this.targets.flatMap((t) => [t.url, pathOf(t.url), ...Object.values(t.headers)]).filter((s) => s.length > 0);
  }

  /** Queues `event` for every target that hears it; returns once queued, never waits for delivery. */
  async enqueue(event: Notice, context: NotificationContext = {}): Promise<void> {
    const key = eventKey(event);
    await Promise.all(
      this.targets.map(async (target) => {
        const body = this.bodyFor(target.name, event, context);
        if (body === undefined) return;
        const data: DeliveryJob = { event: key, body };
        // An existing job with this id (waiting, done or failed) makes this a no-op.
        await target.queue.add(event.kind, data, { jobId: jobIdFor(target.name, key) });
      }),
    );
  }

  /** Starts delivering. Call once per process; replicas share the work and the order. */
  async start(): Promise<void> {
    for (const target of this.targets) {
      await target.queue.setGlobalConcurrency(1);
      const worker = new Worker(target.queue.name, (job: Job) => this.deliver(target, job), {
        connection: this.options.connection,
        prefix: this.prefix,
        concurrency: 1,
        // Needed for the manual rate limit that parks the queue until a retry is due; also a sane pace.
        limiter: { max: 10, duration: 1_000 },
        // Re-check a parked queue every second; a longer sleep can outlast close() (it is not always woken).
        maximumRateLimitDelay: 1_000,
        ...WORKER_LOCK,
        maxStalledCount: 5,
      });
      worker.on("error", (error) => this.log("warn", "notification worker error", { target: target.name, reason: this.scrub(error.message) }));
      target.worker = worker;
    }
    await Promise.all(this.targets.map((t) => t.worker?.waitUntilReady()));
  }

  async close(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.worker?.close()));
    await Promise.all(this.targets.map((t) => t.queue.close()));
  }

  private bodyFor(target: NotifyTarget, event: Notice, context: NotificationContext): Record<string, unknown> | undefined {
    if (!targetHears(target, event, context.rollout)) return undefined;
    if (target === "webhook") return { ...webhookMessage(event, context) };
    const message = slackMessage(event, context);
    const channel = message.channel ?? this.options.slack?.channel;
    return { ...message, ...(channel !== undefined ? { channel } : {}) };
  }

  private async deliver(target: Target, job: Job): Promise<void> {
    const parsed = JobDataSchema.safeParse(job.data);
    if (!parsed.success) {
      this.log("error", "notification job unreadable; dropped", { target: target.name, status: "invalid-job" });
      throw new UnrecoverableError(`unreadable ${target.name} notification job`);
    }
    const { event, body } = parsed.data;
    const attempt = job.attemptsStarted;
    const result = await postJson(target.url, body, { headers: target.headers, timeoutMs: this.options.timeoutMs, readErrorCode: target.name === "slack" });
    const fields = { target: target.name, status: result.status, event, attempt, ...reasonOf(result) };
    if (result.outcome === "delivered") {
      this.log("debug", "notification delivered", fields);
      return;
    }
    if (result.outcome === "rejected") {
      this.log("error", `notification rejected with ${result.status}; not retried`, fields);
      throw new UnrecoverableError(`${target.name} rejected the notification with ${result.status}`);
    }
    if (attempt >= (this.options.maxAttempts ?? 50)) {
      this.log("error", `notification dropped after ${attempt} attempts`, fields);
      throw new UnrecoverableError(`${target.name} unavailable after ${attempt} attempts (last: ${result.status})`);
    }
    const retryInMs = Math.max(1, result.retryAfterMs ?? this.backoff(attempt));
    this.log("warn", "notification not delivered; will retry", { ...fields, retryInMs });
    // Parking the whole queue (not delaying this job) keeps later events behind this one.
    await target.queue.rateLimit(retryInMs);
    throw Worker.RateLimitError();
  }

  private backoff(attempt: number): number {
    const min = this.options.minBackoffMs ?? 1_000;
    const max = this.options.maxBackoffMs ?? 60_000;
    return Math.min(max, min * 2 ** Math.min(attempt - 1, 30));
  }

  private log(level: NotifyLogLevel, message: string, fields: NotifyLogFields): void {
    const reason = fields.reason !== undefined ? { reason: this.scrub(fields.reason) } : {};
    this.options.log(level, this.scrub(message), { ...fields, ...reason });
  }

  private scrub(text: string): string {
    return redact(text, this.secrets);
  }
}

/**
 * Who hears what: the generic webhook hears every event, for tools that keep their own record.
 * Slack hears a Rollout's release events that its `spec.notifications.slack.events` lists (all
 * when absent), and every problem of the git sync: a bad file has no spec to read a filter from.
 */
export function targetHears(target: NotifyTarget, event: Notice, rollout?: Rollout): boolean {
  if (target === "webhook" || isSyncEvent(event)) return true;
  const events = rollout?.spec.notifications?.slack?.events;
  return events === undefined || events.includes(event.kind);
}

/** "slack-bookinfo/reviews/7": BullMQ job ids may not contain ":". */
export function jobIdFor(target: NotifyTarget, key: string): string {
  return `${target}-${key.replace(/[^A-Za-z0-9._/-]/g, "_")}`;
}

function reasonOf(result: PostResult): { reason?: string } {
  return result.outcome !== "delivered" && result.reason !== undefined ? { reason: result.reason } : {};
}

function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`.length > 1 ? `${parsed.pathname}${parsed.search}` : "";
  } catch {
    return "";
  }
}
