/**
 * Wires the adapters together: git -> mirror -> Rollout objects -> informer -> reconcile queue.
 * Nothing clever lives here; decisions are made in src/rollout.
 */
import { createHash } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Redis } from "ioredis";
import { Registry, collectDefaultMetrics } from "prom-client";
import { GitSource } from "../git/source.js";
import { standingProblems } from "../git/sync-events.js";
import { RolloutSync, type SyncOutcome } from "../git/sync.js";
import type { ServedDashboard } from "../dashboard/dashboard.js";
import { allowedHosts } from "../dashboard/session.js";
import { parseListen, startHttpServer, type SlackInteractivity } from "../http/server.js";
import { EventRecorder } from "../kube/events.js";
import { EndpointWatch } from "../kube/endpoint-watch.js";
import { RolloutWatch } from "../kube/informer.js";
import { DestinationRuleLists } from "../kube/destination-rules.js";
import { KubeReadiness } from "../kube/readiness.js";
import { KubeWorkloads } from "../kube/workloads.js";
import { RolloutMirror } from "../kube/mirror.js";
import { RolloutClient } from "../kube/rollouts.js";
import { ReconcileQueue, type ReconcileJob } from "../queue/reconcile-queue.js";
import { RedisLossWatch } from "../queue/loss-watch.js";
import { RedisLock } from "../queue/sync-lock.js";
import { redisConnection } from "../queue/redis.js";
import { SyncQueue } from "../queue/sync-queue.js";
import { SOURCE_LABEL } from "../rollout/annotations.js";
import { runAnalysis, type QueryObserver } from "../analysis/analyze.js";
import { guardWindowMs, readGuard } from "../analysis/guard.js";
import { DEFAULT_INTERVAL_MS } from "../analysis/templates.js";
import { guardOf } from "../rollout/model.js";
import { PrometheusClient } from "../analysis/prometheus.js";
import { NotificationQueue } from "../notify/delivery.js";
import { SyncAnnouncer } from "../notify/sync-announcer.js";
import { HttpRouteTraffic } from "../traffic/gateway-api.js";
import { IstioTraffic } from "../traffic/istio.js";
import { RouterByKind } from "../traffic/routers.js";
import type { Logger } from "./log.js";
import { ControllerMetrics } from "./metrics.js";
import type { ControllerOptions } from "./options.js";
import { Reconciler, type Notifier } from "./reconciler.js";
import { SlackPresses, type ButtonClaim } from "./slack-presses.js";

const SYNC_LOCK_KEY = "git:sync-lock";
const SYNCED_KEY = "git:synced";
/** Files of the synced commit whose Rollouts the API server refused: a JSON list, tried again each sync. */
const UNAPPLIED_KEY = "git:unapplied";
/** Kept in Redis for as long as Redis keeps Tideway's data; see RedisLossWatch. */
const MARKER_KEY = "marker";

export class Controller {
  readonly registry = new Registry();
  readonly rollouts: RolloutClient;
  readonly events: EventRecorder;
  readonly reconcileQueue: ReconcileQueue;
  private readonly redis: Redis;
  private stopping = false;
  private readonly syncQueue: SyncQueue;
  private readonly source: GitSource;
  private readonly gitSync: RolloutSync;
  private readonly watch: RolloutWatch;
  private http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  /** The dashboard on the HTTP port, with --dashboard. */
  private dashboard: ServedDashboard | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly lossWatch: RedisLossWatch;
  private readonly syncLock: RedisLock;
  readonly metrics: ControllerMetrics;
  readonly reconciler: Reconciler;
  private readonly endpointWatch: EndpointWatch;
  private readonly inFlight = new Map<string, Set<string>>();
  /** Release events go here too (Slack and the generic webhook), when a target is configured. */
  private readonly notify: Notifier | undefined;
  private readonly notifications: NotificationQueue | undefined;
  /** Promote and Abort pressed in Slack, when the controller has a Slack app's signing secret. */
  private readonly slackPresses: SlackPresses | undefined;
  /** Bad files, refused Rollouts and unverified commits: told once while they stay the same. */
  private readonly syncProblems: SyncAnnouncer;

  constructor(
    readonly options: ControllerOptions,
    readonly kc: KubeConfig,
    readonly log: Logger,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.redis = redisConnection(options.redis);
    this.redis.on("error", (error) => log.warn({ err: error.message }, "redis connection error"));
    // ioredis gives up on a connection in a few corner cases (a failed connect ends it, whatever the
    // retry strategy says); a controller whose shared connection ended would refuse every queue write
    // for good, so it connects again unless it is stopping.
    this.redis.on("end", () => {
      if (this.stopping) return;
      log.error({}, "redis connection ended; connecting again in 1 s");
      setTimeout(() => {
        if (!this.stopping && this.redis.status === "end") this.redis.connect().catch((error: unknown) => log.warn({ err: String(error) }, "redis reconnect failed"));
      }, 1_000).unref();
    });
    this.rollouts = new RolloutClient(kc);
    this.events = new EventRecorder(kc);
    this.events.onError = (error) => log.warn({ err: error.message }, "event not recorded");
    this.syncQueue = new SyncQueue(this.redis, options.queuePrefix);
    this.reconcileQueue = new ReconcileQueue(this.redis, options.queuePrefix);
    this.source = new GitSource({ ...options.git });
    // The mirror learns which objects exist from the watch below (declared later, read at sync time).
    this.gitSync = new RolloutSync(this.source, new RolloutMirror(this.rollouts, { source: options.git.sourceName, watched: () => this.watch.mirrored() }));
    if (options.notify.slack || options.notify.webhookUrl) {
      const notifications = new NotificationQueue({
        connection: this.redis,
        prefix: options.queuePrefix,
        ...(options.notify.slack ? { slack: { webhookUrl: options.notify.slack.webhookUrl, channel: options.notify.slack.channel, buttons: options.notify.slack.signingSecret !== undefined } } : {}),
        ...(options.notify.webhookUrl ? { webhook: { url: options.notify.webhookUrl } } : {}),
        log: (level, message, fields) => log[level](fields, message),
        maxBackoffMs: options.notify.maxBackoffMs,
        minBackoffMs: Math.min(1_000, options.notify.maxBackoffMs),
      });
      this.notifications = notifications;
      // Which target hears which event is decided in one place, the notification queue.
      this.notify = (event, rollout, commit) => notifications.enqueue(event, { rollout, ...(commit ? { commit } : {}) });
    }
    if (options.notify.slack?.signingSecret !== undefined) {
      this.slackPresses = new SlackPresses({ rollouts: this.rollouts, log, claimButton: (button, presser) => this.claimSlackButton(button, presser) });
    }
    this.metrics = new ControllerMetrics(this.registry);
    this.syncProblems = new SyncAnnouncer({
      log,
      events: this.events,
      ...(this.notifications ? { notifications: this.notifications } : {}),
      onTold: ({ kind, rollout }) => this.metrics.releaseEvents.inc({ namespace: rollout.namespace, rollout: rollout.name, kind }),
    });
    const prometheus = new PrometheusClient(options.prometheus);
    const { scrapeIntervalMs } = options.prometheus;
    const observeQuery: QueryObserver = (metric, outcome, seconds) => this.metrics.prometheusQuerySeconds.observe({ metric, outcome }, seconds);
    // Short-lived reads of DestinationRules (each Rollout's rule by name, a namespace's list when that misses), shared by the router and the readiness read.
    const destinationRules = new DestinationRuleLists(kc);
    this.reconciler = new Reconciler({
      rollouts: this.rollouts,
      traffic: new RouterByKind({ istio: new IstioTraffic(kc, { rules: destinationRules }), gatewayAPI: new HttpRouteTraffic(kc) }),
      analysis: (rollout, context) => runAnalysis(prometheus, rollout, context, { observe: observeQuery, scrapeIntervalMs }),
      guard: (rollout, { releaseStartedAt, ...context }) =>
        readGuard(
          prometheus,
          rollout,
          { ...context, windowMs: guardWindowMs({ intervalMs: guardOf(rollout.spec)?.intervalMs ?? DEFAULT_INTERVAL_MS, scrapeIntervalMs, releaseStartedAt, now: Date.now() }) },
          observeQuery,
        ),
      queue: this.reconcileQueue,
      events: this.events,
      metrics: this.metrics,
      log,
      notify: (event, rollout, commit) => this.notify?.(event, rollout, commit) ?? Promise.resolve(),
      readiness: new KubeReadiness(kc, destinationRules),
      workloads: new KubeWorkloads(kc),
      onInFlight: (ref, inFlight) => this.trackInFlight(ref, inFlight),
    });
    // A pod that becomes ready (or stops being so) wakes the releases of its namespace at once.
    this.endpointWatch = new EndpointWatch(kc, {
      onChange: (namespace) => {
        for (const name of this.inFlight.get(namespace) ?? []) {
          this.reconcileQueue.request({ namespace, name }).catch((error: unknown) => log.warn({ err: String(error) }, "reconcile not queued"));
        }
      },
      onError: (error, namespace, restartInMs) => log.warn({ err: error.message, namespace, restartInMs }, "endpoint watch failed; restarting"),
    });
    this.syncLock = new RedisLock(this.redis, this.key(SYNC_LOCK_KEY));
    this.lossWatch = new RedisLossWatch(this.redis, {
      key: this.key(MARKER_KEY),
      onLost: () => {
        log.warn("Redis lost Tideway's keys (flushed, or restarted empty): rebuilding every schedule from status and syncing git now");
        this.metrics.errors.inc({ where: "redis" });
        this.resync();
        this.syncQueue.requestSync("redis-recovered").catch((error: unknown) => log.warn({ err: String(error) }, "git sync not queued"));
      },
      onError: (error) => log.debug({ err: error.message }, "redis marker not checked"),
    });
    // A controller manages the Rollouts its git source made: several can share a cluster.
    this.watch = new RolloutWatch(kc, {
      labelSelector: `${SOURCE_LABEL}=${options.git.sourceName}`,
      onChange: (ref, kind, resourceVersion, lane) => {
        log.debug({ rollout: `${ref.namespace}/${ref.name}`, kind, lane }, "rollout changed");
        this.reconcileQueue.request(ref, resourceVersion, lane).catch((error: unknown) => log.warn({ err: String(error) }, "reconcile not queued"));
      },
      onError: (error, restartInMs) => log.warn({ err: error.message, restartInMs }, "rollout watch failed; restarting"),
      onConnect: () => log.info("rollout watch connected"),
    });
  }

  /** Button presses from Slack: replays are refused across replicas by remembering each signature in Redis. */
  private slackInteractivity(signingSecret: string, presses: SlackPresses): SlackInteractivity {
    return {
      signingSecret,
      firstSighting: async (signature, ttlSeconds) => {
        const key = this.key(`slack-seen:${createHash("sha256").update(signature).digest("hex")}`);
        return (await this.redis.set(key, "1", "EX", ttlSeconds, "NX")) === "OK";
      },
      onPress: (press) => presses.handle(press),
    };
  }

  /** A button is pressed once: kept for as long as Slack lets its message be answered (30 minutes). */
  private async claimSlackButton(button: string, presser: string): Promise<ButtonClaim> {
    const key = this.key(`slack-pressed:${createHash("sha256").update(button).digest("hex")}`);
    if ((await this.redis.set(key, presser, "EX", 30 * 60, "NX")) === "OK") return { taken: true, undo: async () => void (await this.redis.del(key)) };
    return { takenBy: (await this.redis.get(key)) ?? "someone" };
  }

  /** Rollouts with a release in flight, by namespace: the ones endpoint changes wake. */
  private trackInFlight(ref: { namespace: string; name: string }, inFlight: boolean): void {
    const names = this.inFlight.get(ref.namespace) ?? new Set<string>();
    if (inFlight) {
      names.add(ref.name);
      this.inFlight.set(ref.namespace, names);
      this.endpointWatch.ensure(ref.namespace);
    } else if (names.delete(ref.name) && names.size === 0) {
      this.inFlight.delete(ref.namespace);
    }
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
    if (options.dashboard) {
      // Imported only when asked for: the page's files are read at start.
      const { startServedDashboard } = await import("../dashboard/dashboard.js");
      this.dashboard = await startServedDashboard({ kc: this.kc, rollouts: this.rollouts, log: (line) => log.info({}, `dashboard: ${line}`) });
    }
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
      ...(this.slackPresses && options.notify.slack?.signingSecret ? { slack: this.slackInteractivity(options.notify.slack.signingSecret, this.slackPresses) } : {}),
      ...(this.dashboard ? { dashboard: this.dashboard.handler } : {}),
      ready: async () => (this.redis.status !== "ready" ? `redis ${this.redis.status}` : !this.watch.connected ? "rollout watch not connected" : undefined),
      log: (level, message, fields) => log[level](fields ?? {}, message),
    });
    if (this.dashboard && options.dashboard) {
      this.dashboard.handler.answerHosts(allowedHosts(parseListen(options.listen)[0], this.http.port, options.dashboard.allowHosts));
      log.info({ port: this.http.port }, "dashboard served on the http port (read-only without a bearer token)");
    }
    log.info({ port: this.http.port }, "http listening");
    this.resyncTimer = setInterval(() => this.resync(), options.resyncIntervalMs);
    this.resync();
    await this.lossWatch.start();
  }

  /**
   * Wakes every known Rollout: rebuilds every schedule from status after Redis lost it. A tick
   * job with its own id, so a reconcile job left behind by a killed replica cannot swallow it.
   */
  resync(): void {
    // A flushed Redis also lost the git poll scheduler; putting it back is idempotent.
    this.syncQueue.schedulePolling(this.options.git.intervalMs).catch((error: unknown) => this.log.warn({ err: String(error) }, "git poll not scheduled"));
    const at = Date.now();
    for (const { lane, ...rollout } of this.watch.list()) {
      this.reconcileQueue.schedule({ kind: "tick", ...rollout, at }, lane, at).catch((error: unknown) => this.log.warn({ err: String(error) }, "resync not queued"));
    }
  }

  /** One sync, under the sync lock: replicas never apply concurrently (one that finds it held is retried). */
  async syncOnce(trigger: string): Promise<SyncOutcome | undefined> {
    return this.syncLock.withLock(() => this.syncHoldingLock(trigger));
  }

  private async syncHoldingLock(trigger: string): Promise<SyncOutcome | undefined> {
    const started = Date.now();
    try {
      const [alreadySynced, unappliedText] = await this.redis.mget(this.key(SYNCED_KEY), this.key(UNAPPLIED_KEY));
      const outcome = await this.gitSync.sync(alreadySynced ?? undefined, alreadySynced ? parseFileList(unappliedText) : []);
      await this.report(outcome, trigger, Date.now() - started);
      const mirror = outcome.mirror;
      if (mirror && mirror.errors.length === 0) {
        // Refused Rollouts do not hold the commit back: it counts as synced, and they are retried.
        const unapplied = [...new Set(mirror.rejected.map((r) => r.file))];
        await this.redis.multi().set(this.key(SYNCED_KEY), outcome.commit.sha).set(this.key(UNAPPLIED_KEY), JSON.stringify(unapplied)).exec();
      }
      return outcome;
    } catch (error) {
      this.metrics.errors.inc({ where: "git" });
      this.log.error({ err: this.source.redact(error instanceof Error ? error.message : String(error)), trigger }, "git sync failed");
      return undefined;
    }
  }

  private async report(outcome: SyncOutcome, trigger: string, durationMs: number): Promise<void> {
    const { log } = this;
    const { commit } = outcome;
    const mirror = outcome.mirror;
    const rejected = mirror?.rejected ?? [];
    if (outcome.result === "unchanged") {
      log.debug({ commit, trigger }, "git unchanged");
    } else if (outcome.result === "synced") {
      log.info(
        {
          commit,
          trigger,
          durationMs,
          parsedFiles: outcome.parsedFiles,
          rollouts: outcome.rollouts,
          applied: mirror?.applied.length ?? 0,
          deleted: mirror?.deleted ?? [],
          retained: mirror?.retained ?? [],
          problems: outcome.problems.length,
          rejected: rejected.length,
        },
        "synced commit",
      );
    } else if (outcome.result === "retried" && (mirror?.applied.length ?? 0) > 0) {
      log.info({ commit, trigger, applied: mirror?.applied ?? [] }, "refused Rollouts applied on a retry");
    }
    await this.syncProblems.announce(standingProblems(outcome, this.options.namespace));
    for (const error of mirror?.errors ?? []) log.error({ commit: commit.sha, err: error }, "mirror write failed");
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.lossWatch.stop();
    await this.dashboard?.close();
    await this.http?.close();
    await this.slackPresses?.close();
    await this.watch.stop();
    this.endpointWatch.stop();
    await this.syncQueue.close();
    await this.reconcileQueue.close();
    await this.notifications?.close();
    this.redis.disconnect();
  }
}

/** A JSON list of file paths from Redis; anything else is an empty list. */
function parseFileList(text: string | null | undefined): string[] {
  if (text === null || text === undefined) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}
