/**
 * Notifications as BullMQ jobs, so a release never waits for Slack and a Slack outage loses
 * nothing. One queue per target ("tideway-notify-slack", "tideway-notify-webhook"), each worked
 * one job at a time across all replicas, so events arrive in order; a failing target holds back
 * only itself. Job ids name the event, so enqueuing an event twice delivers it once.
 *
 * Who hears what is decided here and nowhere else (`targetHears`). Slack hears a burst of
 * adoptions and traffic failures (many Rollouts committed at once) as a summary (see burst.ts);
 * the generic webhook keeps one delivery per event, for tools that keep their own record.
 */
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { ReleaseEvent } from "../rollout/engine.js";
import type { Rollout } from "../rollout/model.js";
import { WORKER_LOCK } from "../queue/worker-lock.js";
import { isSyncEvent } from "../rollout/sync-event.js";
import { redact } from "../secrets/redact.js";
import { Bursts } from "./burst.js";
import { eventKey } from "./event-key.js";
import { postJson, type PostResult } from "./post.js";
import type { Notice } from "./notice.js";
import { slackMessage, type NotificationContext, type SlackMessage } from "./slack-message.js";
import { SUMMARIZED_KINDS, summaryMessage, type SummarizedKind, type SummaryEntry } from "./slack-summary-message.js";
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
  /**
   * The incoming webhook (a secret), the channel used when a Rollout names none, and whether
   * messages of a release in flight carry Promote and Abort buttons (a Slack app answers them).
   */
  slack?: { webhookUrl: string; channel?: string; buttons?: boolean };
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
  /**
   * Bursts told to Slack as a summary: an event within `maxMs` of the one before joins a batch
   * (else it is posted at once); the batch is posted once the burst is quiet for `quietMs`, or
   * `maxMs` after it opened. Default 5 s, 30 s.
   */
  summary?: { quietMs?: number; maxMs?: number };
}

const JobDataSchema = z.object({
  event: z.string(),
  body: z.record(z.string(), z.unknown()),
});
type DeliveryJob = z.infer<typeof JobDataSchema>;

/** A burst's summary: which batch of which scope (Slack channel), told when the burst is quiet. */
const SummaryJobSchema = z.object({ scope: z.string(), batch: z.string(), channel: z.string().optional() });
type SummaryJob = z.infer<typeof SummaryJobSchema>;
const SUMMARY_JOB = "summary";

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
  private readonly bursts: Bursts;
  private readonly quietMs: number;
  private readonly maxMs: number;

  constructor(private readonly options: NotificationQueueOptions) {
    this.prefix = options.prefix ?? "tideway";
    this.bursts = new Bursts(options.connection, `${this.prefix}:notify-burst`);
    this.quietMs = options.summary?.quietMs ?? 5_000;
    this.maxMs = options.summary?.maxMs ?? 30_000;
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
        if (target.name === "slack" && isSummarized(event)) {
          const channel = typeof body["channel"] === "string" ? body["channel"] : undefined;
          const scope = `slack-${(channel ?? "default").replace(/[^A-Za-z0-9._-]/g, "_")}`;
          const verdict = await this.bursts.admit(scope, key, summaryEntry(event, context, this.slackBody(event, context)), this.maxMs);
          if (!verdict.alone) {
            const summary: SummaryJob = { scope, batch: verdict.batch, ...(channel !== undefined ? { channel } : {}) };
            // Every event of the batch asks for its summary; the job id makes that one job.
            await target.queue.add(SUMMARY_JOB, summary, { jobId: jobIdFor(target.name, `${SUMMARY_JOB}/${scope}/${verdict.batch}`), delay: this.quietMs });
            return;
          }
        }
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
      const worker = new Worker(target.queue.name, (job: Job, token?: string) => (job.name === SUMMARY_JOB ? this.summarize(target, job, token) : this.deliver(target, job)), {
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
    return { ...this.slackBody(event, context) };
  }

  private slackBody(event: Notice, context: NotificationContext): SlackMessage {
    const message = slackMessage(event, context, { buttons: this.options.slack?.buttons === true });
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
    await this.post(target, job, event, body);
  }

  /** Tells a burst's batch once the burst is quiet: its summary, or its one event as it is. */
  private async summarize(target: Target, job: Job, token: string | undefined): Promise<void> {
    const parsed = SummaryJobSchema.safeParse(job.data);
    if (!parsed.success) {
      this.log("error", "notification job unreadable; dropped", { target: target.name, status: "invalid-job" });
      throw new UnrecoverableError(`unreadable ${target.name} summary job`);
    }
    const { scope, batch, channel } = parsed.data;
    const state = await this.bursts.state(scope, batch);
    if (state.open) {
      const due = Math.min(state.lastAt + this.quietMs, state.openedAt + this.maxMs);
      if (state.now < due) {
        await job.moveToDelayed(Date.now() + (due - state.now), token);
        throw new DelayedError();
      }
      await this.bursts.close(scope, batch);
    }
    const entries = await this.bursts.entries(scope, batch);
    if (entries.length === 0) return; // told and forgotten already, or expired
    const message = summaryMessage(entries, channel);
    await this.post(target, job, `${SUMMARY_JOB}/${scope}/${batch}`, { ...message });
    await this.bursts.forget(scope, batch);
  }

  /**
   * Posts `body`; retries by parking the queue, so later notifications wait behind this one.
   *
   * Delivery is at least once: a job whose replica dies (or stalls past its lock) is run again by
   * another. A post that went through is marked in Redis at once, and a job started again first
   * looks for that mark, so only a post still in flight when its sender died can reach the target
   * twice. Each post carries the event's key as `Idempotency-Key`, so a receiver can tell a copy.
   */
  private async post(target: Target, job: Job, event: string, body: Record<string, unknown>): Promise<void> {
    const attempt = job.attemptsStarted;
    const mark = `${this.prefix}:notify-delivered:${target.name}:${event}`;
    if (attempt > 1 && (await this.options.connection.exists(mark)) === 1) {
      this.log("info", "notification delivered by an earlier run of its job; not sent again", { target: target.name, event, attempt });
      return;
    }
    const headers = { "idempotency-key": event, ...target.headers };
    const result = await postJson(target.url, body, { headers, timeoutMs: this.options.timeoutMs, readErrorCode: target.name === "slack" });
    const fields = { target: target.name, status: result.status, event, attempt, ...reasonOf(result) };
    if (result.outcome === "delivered") {
      // Losing the mark only matters if this job is run again; the post itself went through.
      await this.options.connection.set(mark, "1", "EX", DAY_SECONDS).catch(() => undefined);
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

function isSummarized(event: Notice): event is ReleaseEvent & { kind: SummarizedKind } {
  return (SUMMARIZED_KINDS as readonly string[]).includes(event.kind);
}

/** What a summary needs of an event, and the post it is alone. */
function summaryEntry(event: ReleaseEvent & { kind: SummarizedKind }, context: NotificationContext, alone: SlackMessage): SummaryEntry {
  const cause = event.details["cause"];
  return {
    kind: event.kind,
    rollout: event.rollout,
    version: event.version,
    message: event.message,
    ...(typeof cause === "string" ? { cause } : {}),
    ...(context.commit ? { commit: context.commit } : {}),
    alone,
  };
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
