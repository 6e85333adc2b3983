/**
 * Each version's Deployment and DestinationRule subset (spec.workload, issue 13) against the real
 * API server. It runs no controller-manager, so Deployments get no pods by themselves: the
 * failures are staged by writing a Deployment's status and by creating pods and writing theirs.
 */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIELD_MANAGER, KubeWorkloads, WorkloadError } from "../../src/kube/workloads.js";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema, type RolloutSpecInput } from "../../src/rollout/schema.js";
import { kubeConfig, uniqueName } from "./services.js";

const DR = { group: "networking.istio.io", version: "v1", plural: "destinationrules" } as const;

const kc = kubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const objects = kc.makeApiClient(CustomObjectsApi);
const workloads = new KubeWorkloads(kc);
let namespace: string;

beforeAll(async () => {
  namespace = uniqueName("workloads");
  await core.createNamespace({ body: { metadata: { name: namespace } } });
});

afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

/** A Rollout of `service` with a workload; `change` edits its spec. */
function rollout(service: string, change: Partial<RolloutSpecInput> = {}): Rollout {
  const spec = RolloutSpecSchema.parse({
    service,
    version: "v2",
    trafficRouting: { istio: { virtualService: { name: service } } },
    workload: {
      labels: { team: "books" },
      template: {
        metadata: { labels: { app: service, version: "{{ version }}" } },
        spec: { containers: [{ name: service, image: `example.com/${service}:{{ version }}`, env: [{ name: "VERSION", value: "{{ version }}" }] }] },
      },
    },
    steps: [{ setWeight: 10 }],
    ...change,
  });
  return { name: service, namespace, spec };
}

const deployment = (name: string) => apps.readNamespacedDeployment({ namespace, name });

async function destinationRule(name: string): Promise<{ metadata: { resourceVersion: string; annotations?: Record<string, string> }; spec: Record<string, unknown> }> {
  return (await objects.getNamespacedCustomObject({ ...DR, namespace, name })) as { metadata: { resourceVersion: string }; spec: Record<string, unknown> };
}

describe("a version's Deployment", () => {
  it("is server-side-applied as <service>-<version> by field manager tideway, and applying it again changes nothing", async () => {
    const reviews = rollout("reviews");
    await workloads.apply(reviews, "v2", 3);
    const created = await deployment("reviews-v2");
    expect(created.metadata?.labels).toEqual({ team: "books", "tideway.io/rollout": "reviews", "tideway.io/version": "v2" });
    expect(created.spec?.replicas).toBe(3);
    expect(created.spec?.selector.matchLabels).toEqual({ "tideway.io/rollout": "reviews", "tideway.io/version": "v2" });
    expect(created.spec?.template.metadata?.labels).toMatchObject({ app: "reviews", version: "v2" });
    expect(created.spec?.template.spec?.containers[0]).toMatchObject({ image: "example.com/reviews:v2", env: [{ name: "VERSION", value: "v2" }] });
    expect(created.metadata?.managedFields?.filter((f) => f.operation === "Apply").map((f) => f.manager)).toEqual([FIELD_MANAGER]);

    await workloads.apply(reviews, "v2", 3);
    const again = await deployment("reviews-v2");
    expect(again.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    expect(again.metadata?.generation).toBe(1);
  });

  it("keeps a field another manager set when it is applied again", async () => {
    const ratings = rollout("ratings");
    await workloads.apply(ratings, "v2", 1);
    // Another team's tool annotates the Deployment and adds a sidecar's resources field.
    await apps.patchNamespacedDeployment(
      { namespace, name: "ratings-v2", body: { metadata: { annotations: { "example.com/owner": "books-team" } }, spec: { revisionHistoryLimit: 3 } }, fieldManager: "kubectl-edit" },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await workloads.apply(ratings, "v2", 2);
    const applied = await deployment("ratings-v2");
    expect(applied.metadata?.annotations).toMatchObject({ "example.com/owner": "books-team" });
    expect(applied.spec?.revisionHistoryLimit).toBe(3);
    expect(applied.spec?.replicas).toBe(2);
  });

  it("is scaled, listed as the Rollout's and removed; removing it twice is no error", async () => {
    const details = rollout("details");
    await workloads.apply(details, "v1", 2);
    await workloads.apply(details, "v2", 2);
    await workloads.apply(rollout("other"), "v1", 1);
    await workloads.scale(details, "v1", 0);
    expect((await deployment("details-v1")).spec?.replicas).toBe(0);
    expect((await workloads.list(details)).sort((a, b) => a.version.localeCompare(b.version))).toEqual([
      { name: "details-v1", version: "v1", replicas: 0 },
      { name: "details-v2", version: "v2", replicas: 2 },
    ]);
    // Scaling takes no ownership of the template: the next apply still owns and sets replicas.
    await workloads.apply(details, "v1", 4);
    expect((await deployment("details-v1")).spec?.replicas).toBe(4);

    await workloads.remove(details, "v1");
    await expect.poll(async () => (await workloads.list(details)).map((w) => w.version), { timeout: 10_000 }).toEqual(["v2"]);
    await workloads.remove(details, "v1");
    await workloads.scale(details, "v1", 0);
    await expect(workloads.scale(details, "v1", 2)).rejects.toThrow(`scaling Deployment ${namespace}/details-v1 to 2: deployments.apps "details-v1" not found`);
  });

  it("is refused before any write for a version that cannot name a Deployment", async () => {
    await expect(workloads.apply(rollout("mixed"), "V2_rc", 1)).rejects.toThrow(
      new WorkloadError('version "V2_rc" cannot name its Deployment "mixed-V2_rc": with spec.workload a version may hold only lower-case letters, digits, "-" and "."'),
    );
  });
});

describe("a version's DestinationRule subset", () => {
  it("is added to the service's DestinationRule, leaving its other subsets, fields and annotations as they were", async () => {
    const original = {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "reviews-rule", namespace, annotations: { "example.com/note": "keep me" } },
      spec: {
        host: `reviews.${namespace}.svc.cluster.local`,
        trafficPolicy: { tls: { mode: "ISTIO_MUTUAL" } },
        subsets: [
          { name: "v1", labels: { version: "v1" }, trafficPolicy: { loadBalancer: { simple: "LEAST_REQUEST" } } },
          { name: "pinned", labels: { track: "pinned" } },
        ],
      },
    };
    await objects.createNamespacedCustomObject({ ...DR, namespace, body: original });
    const reviews = rollout("reviews");

    expect(await workloads.ensureSubset(reviews, "v2")).toBe(true);
    const rule = await destinationRule("reviews-rule");
    expect(rule.spec).toEqual({ ...original.spec, subsets: [...original.spec.subsets, { name: "v2", labels: { version: "v2" } }] });
    expect(rule.metadata.annotations).toEqual({ "example.com/note": "keep me" });

    // Again: already there, nothing written.
    expect(await workloads.ensureSubset(reviews, "v2")).toBe(false);
    expect((await destinationRule("reviews-rule")).metadata.resourceVersion).toBe(rule.metadata.resourceVersion);

    // A subset of that name with other labels gets the version's labels and keeps its traffic policy.
    const relabelled = rollout("reviews", {
      workload: { template: { metadata: { labels: { version: "{{ version }}", build: "{{ service }}-{{ version }}" } }, spec: { containers: [{ name: "r", image: "r" }] } } },
    });
    expect(await workloads.ensureSubset(relabelled, "v1")).toBe(true);
    expect((await destinationRule("reviews-rule")).spec.subsets).toEqual([
      { name: "v1", labels: { version: "v1", build: "reviews-v1" }, trafficPolicy: { loadBalancer: { simple: "LEAST_REQUEST" } } },
      { name: "pinned", labels: { track: "pinned" } },
      { name: "v2", labels: { version: "v2" } },
    ]);
  });

  it("needs the service's DestinationRule to exist, and none in host mode", async () => {
    await expect(workloads.ensureSubset(rollout("nothere"), "v2")).rejects.toThrow(`no DestinationRule for host nothere in namespace ${namespace}: create one`);
    expect(await workloads.ensureSubset(rollout("nothere", { trafficRouting: { istio: { virtualService: { name: "nothere" }, host: "nothere-{{ version }}" } } }), "v2")).toBe(false);
  });
});

describe("a version's state", () => {
  const writeStatus = (name: string, status: V1Deployment["status"]) =>
    apps.patchNamespacedDeploymentStatus({ namespace, name, body: { status } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));

  /** A pod of `version` of the Rollout, whose container status says `waiting`. */
  async function podWaiting(service: string, version: string, waiting: { reason: string; message: string }, lastExit?: number) {
    const name = uniqueName(`${service}-${version}`);
    await core.createNamespacedPod({
      namespace,
      body: { metadata: { name, labels: { "tideway.io/rollout": service, "tideway.io/version": version } }, spec: { containers: [{ name: service, image: `example.com/${service}:${version}` }] } },
    });
    const containerStatus = {
      name: service,
      image: `example.com/${service}:${version}`,
      imageID: "",
      ready: false,
      restartCount: lastExit === undefined ? 0 : 4,
      state: { waiting },
      ...(lastExit !== undefined ? { lastState: { terminated: { exitCode: lastExit, reason: "Error" } } } : {}),
    };
    await core.patchNamespacedPodStatus({ namespace, name, body: { status: { phase: "Pending", containerStatuses: [containerStatus] } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  }

  it("says a version that does not exist does not", async () => {
    expect(await workloads.state(rollout("ghost"), "v9")).toEqual({ exists: false, replicas: 0, readyReplicas: 0, availableReplicas: 0, available: false });
  });

  it("is available once every replica of the current spec is", async () => {
    const productpage = rollout("productpage");
    await workloads.apply(productpage, "v2", 2);
    expect(await workloads.state(productpage, "v2")).toEqual({ exists: true, replicas: 2, readyReplicas: 0, availableReplicas: 0, available: false });
    await writeStatus("productpage-v2", { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 1 });
    expect(await workloads.state(productpage, "v2")).toMatchObject({ readyReplicas: 2, availableReplicas: 1, available: false });
    await writeStatus("productpage-v2", { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    expect(await workloads.state(productpage, "v2")).toEqual({ exists: true, replicas: 2, readyReplicas: 2, availableReplicas: 2, available: true });
    // A new spec the Deployment controller has not seen yet is not available, whatever the counts say.
    await workloads.apply(productpage, "v2", 3);
    expect(await workloads.state(productpage, "v2")).toMatchObject({ replicas: 3, available: false });
  });

  it.each([
    ["ImagePullBackOff", 'Back-off pulling image "example.com/{s}:v2"', undefined, 'container {s} ImagePullBackOff: Back-off pulling image "example.com/{s}:v2"'],
    ["ErrImagePull", "rpc error: code = NotFound desc = manifest unknown", undefined, "container {s} ErrImagePull: rpc error: code = NotFound desc = manifest unknown"],
    ["CrashLoopBackOff", "back-off 40s restarting failed container", 1, "container {s} CrashLoopBackOff: back-off 40s restarting failed container (last exit code 1, Error)"],
  ])("names a pod's container waiting in %s, with the kubelet's message", async (reason, message, lastExit, expected) => {
    const service = uniqueName("svc");
    const fill = (text: string) => text.replaceAll("{s}", service);
    const failing = rollout(service);
    await workloads.apply(failing, "v2", 1);
    expect((await workloads.state(failing, "v2")).failure).toBeUndefined();
    await podWaiting(service, "v2", { reason, message: fill(message) }, lastExit);
    expect((await workloads.state(failing, "v2")).failure).toBe(`${service}-v2: ${fill(expected)}`);
  });

  it("does not count a container that is merely starting as a failure", async () => {
    const starting = rollout("starting");
    await workloads.apply(starting, "v2", 1);
    await podWaiting("starting", "v2", { reason: "ContainerCreating", message: "" });
    expect((await workloads.state(starting, "v2")).failure).toBeUndefined();
  });

  it("names a Deployment whose progress deadline passed", async () => {
    const slow = rollout("slow");
    await workloads.apply(slow, "v2", 1);
    await writeStatus("slow-v2", {
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 1,
      unavailableReplicas: 1,
      conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: 'ReplicaSet "slow-v2-5d9c" has timed out progressing.' }],
    });
    expect(await workloads.state(slow, "v2")).toMatchObject({ exists: true, available: false, failure: 'slow-v2: ProgressDeadlineExceeded: ReplicaSet "slow-v2-5d9c" has timed out progressing.' });
  });
});
