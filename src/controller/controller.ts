/**
 * Wires the adapters together: git -> mirror -> Rollout objects -> informer -> reconcile queue.
 * Nothing clever lives here; decisions are made in src/rollout.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Redis } from "ioredis";
import { Registry, collectDefaultMetrics } from "prom-client";
import { GitSource } from "../git/source.js";
import { RolloutSync, type SyncOutcome } from "../git/sync.js";
import { startHttpServer } from "../http/server.js";
import { EventRecorder } from "../kube/events.js";
import { RolloutWatch } from "../kube/informer.js";
import { applyMirror, SOURCE_LABEL } from "../kube/mirror.js";
import { RolloutClient } from "../kube/rollouts.js";
import { ReconcileQueue, type ReconcileJob } from "../queue/reconcile-queue.js";
import { redisConnection } from "../queue/redis.js";
import { SyncQueue } from "../queue/sync-queue.js";
import { formatProblem, type Problem } from "../rollout/parse.js";
import type { ReleaseEvent } from "../rollout/engine.js";
import { runAnalysis, type QueryObserver } from "../analysis/analyze.js";
import { guardWindowMs, readGuard } from "../analysis/guard.js";
import { DEFAULT_INTERVAL_MS } from "../analysis/templates.js";
import { guardOf } from "../rollout/model.js";
import { PrometheusClient } from "../analysis/prometheus.js";
import { NotificationQueue } from "../notify/delivery.js";
import { shouldNotify } from "../notify/slack-message.js";
import { IstioTraffic } from "../traffic/istio.js";
import type { Logger } from "./log.js";
import { ControllerMetrics } from "./metrics.js";
import type { ControllerOptions } from "./options.js";
import { Reconciler, type CommitContext, type EventSink } from "./reconciler.js";

const SYNC_LOCK_KEY = "git:sync-lock";
const SYNCED_KEY = "git:synced";
const SYNC_LOCK_MS = 15_000;
/** Compare-and-extend, compare-and-delete: only the replica holding the lock touches it. */
const EXTEND_IF_OWNER = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const DELETE_IF_OWNER = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;


export class Controller {
  readonly registry = new Registry();
  readonly rollouts: RolloutClient;
  readonly events: EventRecorder;
  readonly reconcileQueue: ReconcileQueue;
  private readonly redis: Redis;
  private readonly syncQueue: SyncQueue;
  private readonly source: GitSource;
  private readonly gitSync: RolloutSync;
  private readonly watch: RolloutWatch;
  private http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  readonly metrics: ControllerMetrics;
  readonly reconciler: Reconciler;
  /** Release events go here too (Slack and the generic webhook). */
  notify: EventSink | undefined;
  private readonly notifications: NotificationQueue | undefined;

  constructor(readonly options: ControllerOptions, readonly kc: KubeConfig, readonly log: Logger) {
    collectDefaultMetrics({ register: this.registry });
    this.redis = redisConnection(options.redisUrl);
    this.redis.on("error", (error) => log.warn({ err: error.message }, "redis connection error"));
    this.rollouts = new RolloutClient(kc);
    this.events = new EventRecorder(kc);
    this.events.onError = (error) => log.warn({ err: error.message }, "event not recorded");
    this.syncQueue = new SyncQueue(this.redis, options.queuePrefix);
    this.reconcileQueue = new ReconcileQueue(this.redis, options.queuePrefix);
    this.source = new GitSource({ ...options.git });
    this.gitSync = new RolloutSync(this.source, {
      apply: (input) => applyMirror(this.rollouts, { ...input, source: options.git.sourceName }),
    });
    if (options.notify.slack || options.notify.webhookUrl) {
      const notifications = new NotificationQueue({
        connection: this.redis,
        prefix: options.queuePrefix,
        ...(options.notify.slack ? { slack: options.notify.slack } : {}),
        ...(options.notify.webhookUrl ? { webhook: { url: options.notify.webhookUrl } } : {}),
        log: (level, message, fields) => log[level](fields, message),
        maxBackoffMs: options.notify.maxBackoffMs,
        minBackoffMs: Math.min(1_000, options.notify.maxBackoffMs),
      });
      this.notifications = notifications;
      this.notify = async (event, rollout, commit) => {
        if (shouldNotify(event, rollout)) await notifications.enqueue(event, { rollout, ...(commit ? { commit } : {}) });
      };
    }
    this.metrics = new ControllerMetrics(this.registry);
    const prometheus = new PrometheusClient(options.prometheus);
    const { scrapeIntervalMs } = options.prometheus;
    const observeQuery: QueryObserver = (metric, outcome, seconds) => this.metrics.prometheusQuerySeconds.observe({ metric, outcome }, seconds);
    this.reconciler = new Reconciler({
      rollouts: this.rollouts,
      traffic: new IstioTraffic(kc),
      analysis: (rollout, context) => runAnalysis(prometheus, rollout, context, { observe: observeQuery, scrapeIntervalMs }),
      guard: (rollout, { releaseStartedAt, ...context }) =>
        readGuard(prometheus, rollout, { ...context, windowMs: guardWindowMs({ intervalMs: guardOf(rollout.spec)?.intervalMs ?? DEFAULT_INTERVAL_MS, scrapeIntervalMs, releaseStartedAt, now: Date.now() }) }, observeQuery),
      queue: this.reconcileQueue,
      events: this.events,
      metrics: this.metrics,
      log,
      notify: (event, rollout, commit) => this.notify?.(event, rollout, commit) ?? Promise.resolve(),
    });
    // A controller manages the Rollouts its git source made: several can share a cluster.
    this.watch = new RolloutWatch(kc, {
      labelSelector: `${SOURCE_LABEL}=${options.git.sourceName}`,
      onChange: (ref, kind, resourceVersion) => {
        log.debug({ rollout: `${ref.namespace}/${ref.name}`, kind }, "rollout changed");
        this.reconcileQueue.request(ref, resourceVersion).catch((error: unknown) => log.warn({ err: String(error) }, "reconcile not queued"));
      },
      onError: (error, restartInMs) => log.warn({ err: error.message, restartInMs }, "rollout watch failed; restarting"),
      onConnect: () => log.info("rollout watch connected"),
    });
  }

  private key(name: string): string {
    return `${this.options.queuePrefix}:${name}`;
  }

  async start(): Promise<void> {
    const { options, log } = this;
    log.info({ git: this.source.displayUrl, branch: options.git.branch, path: options.git.path, intervalMs: options.git.intervalMs }, "starting");
    this.syncQueue.start(async (job) => {
      await this.syncOnce(String((job.data as { trigger?: string }).trigger ?? "poll"));
    });
    await this.syncQueue.schedulePolling(options.git.intervalMs);
    await this.syncQueue.requestSync("startup");
    this.reconcileQueue.start((job: ReconcileJob) => this.reconciler.handle(job), { onError: (error) => log.warn({ err: String(error) }, "reconcile follow-up not checked") });
    await this.notifications?.start();
    await this.watch.start();
    this.http = await startHttpServer({
      listen: options.listen,
      limits: { maxConnections: options.httpMaxConnections },
      registry: this.registry,
      webhookSecret: options.webhookSecret,
      branch: options.git.branch,
      onPush: async (provider) => {
        const queued = await this.syncQueue.requestSync(`webhook-${provider}`);
        log.info({ provider, queued }, "webhook push received");
      },
      ready: async () => (this.redis.status !== "ready" ? `redis ${this.redis.status}` : !this.watch.connected ? "rollout watch not connected" : undefined),
      log: (level, message, fields) => log[level](fields ?? {}, message),
    });
    log.info({ port: this.http.port }, "http listening");
    this.resyncTimer = setInterval(() => this.resync(), options.resyncIntervalMs);
    this.resync();
  }

  /**
   * Wakes every known Rollout: rebuilds every schedule from status after Redis lost it. A tick
   * job with its own id, so a reconcile job left behind by a killed replica cannot swallow it.
   */
  resync(): void {
    // A flushed Redis also lost the git poll scheduler; putting it back is idempotent.
    this.syncQueue.schedulePolling(this.options.git.intervalMs).catch((error: unknown) => this.log.warn({ err: String(error) }, "git poll not scheduled"));
    const at = Date.now();
    for (const ref of this.watch.list()) {
      this.reconcileQueue.schedule({ kind: "tick", ...ref, at }, at).catch((error: unknown) => this.log.warn({ err: String(error) }, "resync not queued"));
    }
  }

  /**
   * One sync, under a Redis lock so that replicas never apply concurrently. The lock lives
   * SYNC_LOCK_MS and is extended while the sync runs, so a replica that dies holding it
   * blocks the others for seconds, not minutes.
   */
  async syncOnce(trigger: string): Promise<SyncOutcome | undefined> {
    const token = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const lockKey = this.key(SYNC_LOCK_KEY);
    const locked = await this.redis.set(lockKey, token, "PX", SYNC_LOCK_MS, "NX");
    if (locked !== "OK") throw new Error("another replica is syncing; retrying");
    const heartbeat = setInterval(() => {
      this.redis.eval(EXTEND_IF_OWNER, 1, lockKey, token, String(SYNC_LOCK_MS)).catch(() => undefined);
    }, SYNC_LOCK_MS / 3);
    const started = Date.now();
    try {
      const alreadySynced = (await this.redis.get(this.key(SYNCED_KEY))) ?? undefined;
      const outcome = await this.gitSync.sync(alreadySynced);
      await this.report(outcome, trigger, Date.now() - started);
      if (outcome.result === "synced" && (outcome.mirror?.errors.length ?? 0) === 0) await this.redis.set(this.key(SYNCED_KEY), outcome.commit.sha);
      return outcome;
    } catch (error) {
      this.metrics.errors.inc({ where: "git" });
      this.log.error({ err: this.source.redact(error instanceof Error ? error.message : String(error)), trigger }, "git sync failed");
      return undefined;
    } finally {
      clearInterval(heartbeat);
      await this.redis.eval(DELETE_IF_OWNER, 1, lockKey, token);
    }
  }

  private async report(outcome: SyncOutcome, trigger: string, durationMs: number): Promise<void> {
    const { log } = this;
    const commit = { sha: outcome.commit.sha, author: outcome.commit.author, subject: outcome.commit.subject };
    if (outcome.result === "unverified") {
      log.error({ commit, reason: outcome.reason }, "commit signature not verified; not applied");
      await this.events.record({ namespace: this.options.namespace, name: "git" }, "Warning", "UnverifiedCommit", `commit ${outcome.commit.shortSha} not applied: ${outcome.reason ?? ""}`);
      return;
    }
    if (outcome.result === "unchanged") {
      log.debug({ commit, trigger }, "git unchanged");
      return;
    }
    const mirror = outcome.mirror;
    log.info({ commit, trigger, durationMs, parsedFiles: outcome.parsedFiles, rollouts: outcome.rollouts, applied: mirror?.applied.length ?? 0, deleted: mirror?.deleted ?? [], retained: mirror?.retained ?? [], problems: outcome.problems.length }, "synced commit");
    for (const problem of outcome.problems) {
      const text = formatProblem(problem);
      log.warn({ commit: commit.sha, file: problem.file, line: problem.line, column: problem.column, rollout: problem.rollout }, `invalid Rollout file: ${text}`);
      const target = problem.rollout ?? { namespace: this.options.namespace, name: "git" };
      await this.events.record(target, "Warning", "InvalidRollout", `${text} (commit ${outcome.commit.shortSha})`);
      await this.announceInvalid(text, problem, target, commit);
    }
    for (const error of mirror?.errors ?? []) log.error({ commit: commit.sha, err: error }, "mirror write failed");
  }

  /**
   * Slack (and the webhook) hear of a bad file too. The event id is derived from the problem's
   * text, so a file that stays broken over several commits is announced once, by one replica.
   */
  private async announceInvalid(text: string, problem: Problem, target: { namespace: string; name: string }, commit: CommitContext): Promise<void> {
    this.metrics.releaseEvents.inc({ namespace: target.namespace, rollout: target.name, kind: "invalid" });
    const event: ReleaseEvent = {
      id: "",
      kind: "invalid",
      severity: "warning",
      message: text,
      rollout: target,
      version: "",
      stableVersion: "",
      details: { file: problem.file, line: problem.line, column: problem.column, path: problem.path, message: problem.message },
    };
    await this.notifications?.enqueue(event, { commit }).catch((error: unknown) => this.log.warn({ err: String(error) }, "notification not queued"));
  }

  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.http?.close();
    await this.watch.stop();
    await this.syncQueue.close();
    await this.reconcileQueue.close();
    await this.notifications?.close();
    this.redis.disconnect();
  }
}
