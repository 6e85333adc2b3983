/**
 * What status records as having happened is announced exactly once, even when the controller is
 * killed right after the status write that makes it true. The reconciler runs in this process
 * against the real API server, Redis (the notification queue) and a Slack receiver; the "kill" is
 * a status write that reaches the API server and then throws, so nothing after it runs. Another
 * reconciler (another replica) takes the next job.
 */
import { CoreV1Api, CustomObjectsApi, type CoreV1Event, type KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControllerMetrics } from "../../src/controller/metrics.js";
import { Reconciler, type AnalysisRunner } from "../../src/controller/reconciler.js";
import { EventRecorder } from "../../src/kube/events.js";
import { GROUP, PLURAL, RolloutClient, VERSION, type RolloutObject } from "../../src/kube/rollouts.js";
import { NotificationQueue } from "../../src/notify/delivery.js";
import { ReconcileQueue, type ReconcileJob } from "../../src/queue/reconcile-queue.js";
import { redisConnection } from "../../src/queue/redis.js";
import { RolloutStatusSchema, type RolloutStatus } from "../../src/rollout/status.js";
import { IstioTraffic } from "../../src/traffic/istio.js";
import { startSlackReceiver, type SlackReceiver } from "../env/index.js";
import { createMesh } from "./release-harness.js";
import { kubeConfig, services, uniqueName } from "./services.js";

/** The real client; when armed, the next status write is made and then the process "dies". */
class KilledAfterStatusWrite extends RolloutClient {
  armed = false;

  override async replaceStatus(object: RolloutObject, status: unknown): Promise<RolloutObject> {
    const written = await super.replaceStatus(object, status);
    if (this.armed) {
      this.armed = false;
      throw new Error("killed right after the status write");
    }
    return written;
  }
}

const STEPS = [{ setWeight: 20 }, { pause: {} }];
const failing: AnalysisRunner = () => Promise.resolve([{ name: "success-rate", outcome: "fail", value: 0.5, message: "0.5 < 0.99" }]);

let kc: KubeConfig;
let namespace: string;
let slack: SlackReceiver;
let dying: KilledAfterStatusWrite;
let first: Reconciler;
let second: Reconciler;
const queues: { close(): Promise<unknown> }[] = [];
const connection = redisConnection(services().redisUrl);

function reconciler(client: RolloutClient, notifications: NotificationQueue, reconcile: ReconcileQueue): Reconciler {
  return new Reconciler({
    rollouts: client,
    traffic: new IstioTraffic(kc),
    analysis: failing,
    guard: () => Promise.reject(new Error("no guard here")),
    queue: reconcile,
    events: new EventRecorder(kc),
    metrics: new ControllerMetrics(new Registry()),
    log: pino({ level: "silent" }),
    notify: (event, rollout, commit) => notifications.enqueue(event, { rollout, ...(commit ? { commit } : {}) }),
  });
}

beforeAll(async () => {
  kc = kubeConfig();
  namespace = uniqueName("outbox");
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  await createMesh(kc, namespace, "reviews", { versions: ["v1", "v2", "v3"] });
  const objects = kc.makeApiClient(CustomObjectsApi);
  await objects.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    namespace,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "Rollout",
      metadata: { name: "reviews" },
      spec: {
        service: "reviews",
        version: "v1",
        trafficRouting: { istio: { virtualService: { name: "reviews" } } },
        steps: STEPS,
        analysis: { interval: "1m", failureLimit: 0, metrics: [{ name: "success-rate", min: 0.99 }] },
      },
    },
  });
  slack = await startSlackReceiver();
  const prefix = uniqueName("outbox");
  // Two replicas: each its own clients and queues, one Redis, one Slack.
  const replica = (client: RolloutClient) => {
    const notifications = new NotificationQueue({ connection, prefix, slack: { webhookUrl: slack.webhookUrl }, log: () => undefined, minBackoffMs: 100, maxBackoffMs: 500 });
    const reconcile = new ReconcileQueue(connection, prefix);
    queues.push(notifications, reconcile);
    return { notifications, made: reconciler(client, notifications, reconcile) };
  };
  dying = new KilledAfterStatusWrite(kc);
  const a = replica(dying);
  const b = replica(new RolloutClient(kc));
  await a.notifications.start();
  await b.notifications.start();
  first = a.made;
  second = b.made;
});

afterAll(async () => {
  for (const queue of queues) await queue.close();
  await slack.stop();
  connection.disconnect();
});

const job = (): ReconcileJob => ({ kind: "reconcile", namespace, name: "reviews" });
const statusOf = async (): Promise<RolloutStatus> => RolloutStatusSchema.parse((await new RolloutClient(kc).get(namespace, "reviews")).status);
const texts = () => slack.delivered().map((p) => String((p.body as { text?: unknown }).text ?? ""));
const events = async (reason: string): Promise<CoreV1Event[]> => (await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace })).items.filter((e) => e.reason === reason);

/** Waits until Slack has shown `pattern`, then gives stray duplicates time to arrive too. */
async function slackShows(pattern: RegExp): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  while (!texts().some((t) => pattern.test(t)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1_500));
  return texts().filter((t) => pattern.test(t));
}

/** The first replica dies right after the status write; the second runs the job again, twice. */
async function killedThenTakenOver(run: () => ReconcileJob): Promise<void> {
  dying.armed = true;
  await expect(first.handle(run())).rejects.toThrow("killed right after the status write");
  expect((await statusOf()).outbox?.length ?? 0).toBeGreaterThan(0);
  await second.handle(run());
  await second.handle(run());
}

describe("an announcement whose status write was the controller's last act", () => {
  it("is made once, by the next replica, for a canary start, a promotion and a rollback", async () => {
    await second.handle(job());
    expect(await statusOf()).toMatchObject({ phase: "Healthy", stableVersion: "v1" });
    const patchVersion = (version: string) =>
      kc
        .makeApiClient(CustomObjectsApi)
        .patchNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name: "reviews", body: [{ op: "replace", path: "/spec/version", value: version }] });

    await patchVersion("v2");
    await killedThenTakenOver(job);
    expect(await slackShows(/reviews v2: canary started/)).toHaveLength(1);
    expect(await events("Started")).toHaveLength(1);
    expect((await statusOf()).outbox).toBeUndefined();

    await new RolloutClient(kc).patchMetadata(namespace, "reviews", { annotations: { "tideway.io/promote": "full" } });
    await killedThenTakenOver(job);
    expect(await slackShows(/reviews v2 promoted/)).toHaveLength(1);
    expect(await events("Promoted")).toHaveLength(1);
    expect(await statusOf()).toMatchObject({ phase: "Healthy", stableVersion: "v2" });

    await patchVersion("v3");
    await second.handle(job());
    const release = (await statusOf()).release;
    expect(release?.nextAnalysisAt).toBeDefined();
    const analysis = (): ReconcileJob => ({
      kind: "analysis",
      namespace,
      name: "reviews",
      releaseId: release?.id ?? 0,
      stepIndex: release?.stepIndex ?? 0,
      at: Date.parse(release?.nextAnalysisAt ?? ""),
    });
    await killedThenTakenOver(analysis);
    expect(await slackShows(/reviews v3: check failed/)).toHaveLength(1);
    expect(await slackShows(/reviews v3 rolled back/)).toHaveLength(1);
    expect(await events("CheckFailed")).toHaveLength(1);
    expect(await events("RolledBack")).toHaveLength(1);
    expect(await statusOf()).toMatchObject({ phase: "RolledBack", stableVersion: "v2", canaryVersion: "v3" });
    expect((await statusOf()).outbox).toBeUndefined();
  });
});
