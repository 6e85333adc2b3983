/**
 * A command given by annotation is applied exactly once, even when the controller dies between
 * its writes. The reconciler runs in this process against the real API server and Redis; the
 * "crash" is a write that throws, as a killed process would never make it, and the job is retried.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControllerMetrics } from "../../src/controller/metrics.js";
import { Reconciler } from "../../src/controller/reconciler.js";
import { EventRecorder } from "../../src/kube/events.js";
import { GROUP, PLURAL, RolloutClient, VERSION, type RolloutObject } from "../../src/kube/rollouts.js";
import { ReconcileQueue } from "../../src/queue/reconcile-queue.js";
import { redisConnection } from "../../src/queue/redis.js";
import { CLAIMED_ANNOTATION } from "../../src/rollout/annotations.js";
import { RolloutStatusSchema, type RolloutStatus } from "../../src/rollout/status.js";
import { IstioTraffic } from "../../src/traffic/istio.js";
import { createMesh } from "./release-harness.js";
import { kubeConfig, services, uniqueName } from "./services.js";

/** The real client, but the next write of a chosen kind throws instead of being made. */
class CrashingClient extends RolloutClient {
  crashOn: "status" | "clear-claim" | undefined;
  /** Runs once, just before the claim is cleared: a change landing between two of the controller's writes. */
  interleave: (() => Promise<unknown>) | undefined;

  override async replaceStatus(object: RolloutObject, status: unknown): Promise<RolloutObject> {
    if (this.crashOn === "status") {
      this.crashOn = undefined;
      throw new Error("crashed before writing status");
    }
    return super.replaceStatus(object, status);
  }

  override async patchMetadata(namespace: string, name: string, metadata: Record<string, unknown>): Promise<RolloutObject> {
    const annotations = metadata.annotations as Record<string, unknown> | undefined;
    if (this.interleave && annotations?.[CLAIMED_ANNOTATION] === null) {
      const change = this.interleave;
      this.interleave = undefined;
      await change();
    }
    if (this.crashOn === "clear-claim" && annotations?.[CLAIMED_ANNOTATION] === null) {
      this.crashOn = undefined;
      throw new Error("crashed before clearing the claim");
    }
    return super.patchMetadata(namespace, name, metadata);
  }
}

const STEPS = [{ setWeight: 20 }, { pause: {} }, { setWeight: 40 }, { pause: {} }, { setWeight: 60 }, { pause: {} }];

let kc: KubeConfig;
let namespace: string;
let client: CrashingClient;
let reconciler: Reconciler;
let queue: ReconcileQueue;
const connection = redisConnection(services().redisUrl);

beforeAll(async () => {
  kc = kubeConfig();
  namespace = uniqueName("crash");
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  await createMesh(kc, namespace, "reviews", { versions: ["v1", "v2"] });
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
      spec: { service: "reviews", version: "v1", trafficRouting: { istio: { virtualService: { name: "reviews" } } }, steps: STEPS },
    },
  });
  client = new CrashingClient(kc);
  queue = new ReconcileQueue(connection, uniqueName("crash"));
  const nothingToMeasure = () => Promise.reject(new Error("this Rollout has no analysis"));
  reconciler = new Reconciler({
    rollouts: client,
    traffic: new IstioTraffic(kc),
    analysis: nothingToMeasure,
    guard: nothingToMeasure,
    queue,
    events: new EventRecorder(kc),
    metrics: new ControllerMetrics(new Registry()),
    log: pino({ level: "silent" }),
  });
});

afterAll(async () => {
  await queue.close();
  connection.disconnect();
});

const reconcile = () => reconciler.handle({ kind: "reconcile", namespace, name: "reviews" });
const object = () => client.get(namespace, "reviews");
const statusOf = async (): Promise<RolloutStatus> => RolloutStatusSchema.parse((await object()).status);
const annotate = (annotations: Record<string, string>) => client.patchMetadata(namespace, "reviews", { annotations });
const promotes = (status: RolloutStatus) => status.commands.filter((c) => c.command === "promote");

describe("a command and a controller that dies between its writes", () => {
  it("is applied once when it dies after status recorded it, once when it dies before, and one given meanwhile is not left waiting", async () => {
    await reconcile();
    expect(await statusOf()).toMatchObject({ phase: "Healthy", stableVersion: "v1" });
    await kc
      .makeApiClient(CustomObjectsApi)
      .patchNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name: "reviews", body: [{ op: "replace", path: "/spec/version", value: "v2" }] });
    await reconcile();
    expect(await statusOf()).toMatchObject({ canaryVersion: "v2", canaryWeight: 20 });

    // Dies after status recorded the promote, before the claim is cleared: the retry does not promote again.
    await annotate({ "tideway.io/promote": "step", "tideway.io/by": "alice" });
    client.crashOn = "clear-claim";
    await expect(reconcile()).rejects.toThrow("crashed before clearing the claim");
    const afterCrash = await object();
    expect(afterCrash.metadata.annotations?.["tideway.io/promote"]).toBeUndefined();
    expect(afterCrash.metadata.annotations?.[CLAIMED_ANNOTATION]).toBeDefined();
    expect((await statusOf()).canaryWeight).toBe(40);
    await reconcile();
    const once = await statusOf();
    expect(once.canaryWeight).toBe(40);
    expect(promotes(once)).toHaveLength(1);
    expect(promotes(once)[0]).toMatchObject({ value: "step", user: "alice", source: "annotation", id: expect.any(String) });
    expect((await object()).metadata.annotations?.[CLAIMED_ANNOTATION]).toBeUndefined();

    // Dies after claiming the next promote, before status records it: the retry applies it, once.
    await annotate({ "tideway.io/promote": "step" });
    client.crashOn = "status";
    await expect(reconcile()).rejects.toThrow("crashed before writing status");
    expect((await object()).metadata.annotations?.["tideway.io/promote"]).toBeUndefined();
    expect((await statusOf()).canaryWeight).toBe(40);
    await reconcile();
    const twice = await statusOf();
    expect(twice.canaryWeight).toBe(60);
    expect(promotes(twice)).toHaveLength(2);
    expect(promotes(twice)[1]?.id).not.toBe(promotes(twice)[0]?.id);
    expect((await object()).metadata.annotations?.[CLAIMED_ANNOTATION]).toBeUndefined();

    // A claim edited into nonsense by hand claims nothing, and is cleared.
    await annotate({ [CLAIMED_ANNOTATION]: "not json" });
    await reconcile();
    expect((await statusOf()).canaryWeight).toBe(60);
    expect(promotes(await statusOf())).toHaveLength(2);
    expect((await object()).metadata.annotations?.[CLAIMED_ANNOTATION]).toBeUndefined();

    // An abort annotated while the claim of a pause is being cleared is acted on in the same job.
    await annotate({ "tideway.io/pause": "hold on" });
    client.interleave = () => annotate({ "tideway.io/abort": "changed my mind" });
    await reconcile();
    const aborted = await statusOf();
    expect(aborted.commands.map((c) => c.command).slice(-2)).toEqual(["pause", "abort"]);
    expect(aborted).toMatchObject({ phase: "Aborted", canaryWeight: 0 });
    expect(Object.keys((await object()).metadata.annotations ?? {}).filter((k) => k.startsWith("tideway.io/"))).toEqual([]);
  });
});
