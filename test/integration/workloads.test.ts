/**
 * Each version's Deployment and DestinationRule subset (spec.workload, issue 13) against the real
 * API server, with the shared env's kube-controller-manager, scheduler and KWOK node: Deployments
 * get real ReplicaSets and pods. Bad versions are made as users make them, through the pod
 * template: labels the env's KWOK stages turn into ImagePullBackOff, CrashLoopBackOff or a pod
 * that never becomes ready.
 */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIELD_MANAGER, KubeWorkloads, WorkloadError } from "../../src/kube/workloads.js";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema, type RolloutSpecInput } from "../../src/rollout/schema.js";
import { BAD_POD_LABELS, waitUntil } from "../env/index.js";
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
    // The Deployment controller writes status meanwhile; the spec is untouched.
    expect(again.metadata?.generation).toBe(1);
    expect(again.spec).toEqual(created.spec);
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

  it("goes to the rule named as the service (the one the router reads) when another rule serves the same host", async () => {
    const rule = (name: string) => ({
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name, namespace },
      spec: { host: "ratings", subsets: [{ name: "v1", labels: { version: "v1" } }] },
    });
    await objects.createNamespacedCustomObject({ ...DR, namespace, body: rule("a-ratings") });
    await objects.createNamespacedCustomObject({ ...DR, namespace, body: rule("ratings") });

    expect(await workloads.ensureSubset(rollout("ratings"), "v2")).toBe(true);

    expect((await destinationRule("ratings")).spec.subsets).toEqual([
      { name: "v1", labels: { version: "v1" } },
      { name: "v2", labels: { version: "v2" } },
    ]);
    expect((await destinationRule("a-ratings")).spec.subsets).toEqual([{ name: "v1", labels: { version: "v1" } }]);
  });

  it("needs the service's DestinationRule to exist, and none in host mode", async () => {
    await expect(workloads.ensureSubset(rollout("nothere"), "v2")).rejects.toThrow(`no DestinationRule for host nothere in namespace ${namespace}: create one`);
    expect(await workloads.ensureSubset(rollout("nothere", { trafficRouting: { istio: { virtualService: { name: "nothere" }, host: "nothere-{{ version }}" } } }), "v2")).toBe(false);
  });
});

describe("a version's state", () => {
  /** A Rollout whose pods carry `labels` (KWOK stages in test/env/kwok-stages.yaml act on them). */
  const withPodLabels = (service: string, labels: Record<string, string>) =>
    rollout(service, {
      workload: {
        template: {
          metadata: { labels: { app: service, version: "{{ version }}", ...labels } },
          spec: { containers: [{ name: service, image: `example.com/${service}:{{ version }}` }] },
        },
      },
    });

  it("says a version that does not exist does not", async () => {
    expect(await workloads.state(rollout("ghost"), "v9")).toEqual({ exists: false, replicas: 0, readyReplicas: 0, availableReplicas: 0, available: false });
  });

  it("is available once every replica of the current spec is, and not while a new spec rolls out", async () => {
    const productpage = rollout("productpage");
    await workloads.apply(productpage, "v2", 2);
    await waitUntil("productpage-v2 available", async () => (await workloads.state(productpage, "v2")).available, { timeoutMs: 20_000 });
    expect(await workloads.state(productpage, "v2")).toEqual({ exists: true, replicas: 2, readyReplicas: 2, availableReplicas: 2, available: true });
    // A new spec the Deployment controller has not finished rolling out is not available yet.
    await workloads.apply(productpage, "v2", 3);
    expect(await workloads.state(productpage, "v2")).toMatchObject({ replicas: 3, available: false });
    await waitUntil("productpage-v2 available at 3", async () => (await workloads.state(productpage, "v2")).available, { timeoutMs: 20_000 });
  });

  it.each([
    ["ImagePullBackOff", BAD_POD_LABELS.imagePull],
    ["CrashLoopBackOff", BAD_POD_LABELS.crashLoop],
  ])("names a pod's container waiting in %s", async (reason, labels) => {
    const service = uniqueName("svc");
    const failing = withPodLabels(service, labels);
    await workloads.apply(failing, "v2", 1);
    let failure: string | undefined;
    await waitUntil(`${service}-v2 failing`, async () => (failure = (await workloads.state(failing, "v2")).failure) !== undefined, { timeoutMs: 20_000 });
    expect(failure).toMatch(new RegExp(`^pod ${service}-v2-[a-z0-9-]+: container ${service} ${reason}`));
  });

  it("does not count a pod that is merely not ready as a failure", async () => {
    const starting = withPodLabels("starting", BAD_POD_LABELS.neverReady);
    await workloads.apply(starting, "v2", 1);
    await waitUntil("starting-v2's pod running", async () => (await core.listNamespacedPod({ namespace, labelSelector: "app=starting" })).items.some((p) => p.status?.phase === "Running"), {
      timeoutMs: 20_000,
    });
    expect(await workloads.state(starting, "v2")).toMatchObject({ exists: true, readyReplicas: 0, available: false });
    expect((await workloads.state(starting, "v2")).failure).toBeUndefined();
  });

  it("names a Deployment whose progress deadline passed (the Deployment controller's own verdict)", async () => {
    const slow = withPodLabels("slow", BAD_POD_LABELS.neverReady);
    await workloads.apply(slow, "v2", 1);
    // Someone (another field manager) shortens the Deployment's progress deadline; Tideway's apply keeps it.
    await apps.patchNamespacedDeployment(
      { namespace, name: "slow-v2", body: { spec: { progressDeadlineSeconds: 1 } }, fieldManager: "ops" },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    let failure: string | undefined;
    await waitUntil("slow-v2 past its progress deadline", async () => (failure = (await workloads.state(slow, "v2")).failure) !== undefined, { timeoutMs: 30_000 });
    expect(failure).toMatch(/^slow-v2: ProgressDeadlineExceeded: ReplicaSet "slow-v2-[a-z0-9]+" has timed out progressing\.$/);
  });
});
