import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { installCrds, kubeRequest } from "../env/kube.js";
import { CRD_NAME, rolloutCrd } from "../../src/rollout/crd.js";
import { RolloutSpecSchema } from "../../src/rollout/schema.js";
import { RolloutStatusSchema, type RolloutStatus } from "../../src/rollout/status.js";
import { kubeConfig, services, uniqueName } from "./services.js";

const CRD_FILE = new URL(`../../charts/tideway/crds/${CRD_NAME}.yaml`, import.meta.url).pathname;
const ROLLOUTS = { group: "tideway.io", version: "v1alpha1", plural: "rollouts" } as const;

interface RolloutObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: Record<string, unknown>;
  status?: unknown;
}

/** rollouts/reviews.yaml, the documented sample, moved into `namespace`. */
function sampleRollout(namespace: string, name = "reviews"): RolloutObject {
  const sample = parse(readFileSync(new URL("../../rollouts/reviews.yaml", import.meta.url), "utf8")) as RolloutObject;
  return { ...sample, metadata: { name, namespace } };
}

const STATUS: RolloutStatus = RolloutStatusSchema.parse({
  phase: "Progressing",
  message: "step 1/5: 10% to canary",
  stableVersion: "v1",
  canaryVersion: "v2",
  canaryWeight: 10,
  step: "1/5",
  releaseCount: 1,
  release: {
    id: 1,
    version: "v2",
    startedAt: "2025-01-02T03:04:05Z",
    stepIndex: 0,
    stepStartedAt: "2025-01-02T03:04:06.5Z",
    canaryWeight: 10,
    headerRoute: false,
    trafficApplied: true,
    stepChecks: { passed: 0, failed: 0, inconclusive: 0, errored: 0 },
    checks: { passed: 0, failed: 0, inconclusive: 0, errored: 0 },
    inconclusiveStreak: 0,
    errorStreak: 0,
    nextAnalysisAt: "2025-01-02T03:04:21.5Z",
    metrics: [{ name: "success-rate", counts: { passed: 1, failed: 0, inconclusive: 0, errored: 0 }, lastOutcome: "pass", lastValue: null }],
  },
  conditions: [{ type: "Progressing", status: "True", reason: "ReleaseStarted", message: "releasing v2", lastTransitionTime: "2025-01-02T03:04:05Z" }],
  history: [],
  commands: [],
  observedGeneration: 1,
});

describe("the rollouts.tideway.io CustomResourceDefinition", () => {
  const kc = kubeConfig();
  const objects = kc.makeApiClient(CustomObjectsApi);
  const namespace = uniqueName("crd");

  beforeAll(async () => {
    await installCrds(kc, [CRD_FILE]);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  it("is accepted as a structural schema that the API server keeps exactly as generated", async () => {
    const served = await kubeRequest(kc, "GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`);
    const crd = served.body as { spec: unknown; status: { conditions: { type: string; status: string }[] } };
    expect(crd.status.conditions).not.toContainEqual(expect.objectContaining({ type: "NonStructuralSchema" }));
    expect(crd.status.conditions).toContainEqual(expect.objectContaining({ type: "Established", status: "True" }));
    // Anything the server dropped or rewrote would show here: nothing in the schema is lost.
    expect(crd.spec).toMatchObject(rolloutCrd().spec);
  });

  it("stores the sample Rollout and fills in the same defaults the parser does", async () => {
    const sample = sampleRollout(namespace);
    await objects.createNamespacedCustomObject({ ...ROLLOUTS, namespace, body: sample });
    const served = (await objects.getNamespacedCustomObject({ ...ROLLOUTS, namespace, name: "reviews" })) as RolloutObject;
    expect(served.spec).toEqual(RolloutSpecSchema.parse(sample.spec));
    expect(served.spec).toMatchObject({ analysis: { errorLimit: 3, onError: "pause", minRequests: 20 } });
  });

  it("stores the workload sample's pod template as written, with the parser's defaults", async () => {
    const sample = parse(readFileSync(new URL("../../rollouts/reviews-workload.yaml", import.meta.url), "utf8")) as RolloutObject;
    const body = { ...sample, metadata: { name: "reviews-workload", namespace } };
    await objects.createNamespacedCustomObject({ ...ROLLOUTS, namespace, body });
    const served = (await objects.getNamespacedCustomObject({ ...ROLLOUTS, namespace, name: "reviews-workload" })) as RolloutObject;
    // Fields of the pod template Tideway does not model (ports, probes) are kept, not pruned.
    expect(served.spec).toEqual(RolloutSpecSchema.parse(sample.spec));
    expect(served.spec).toMatchObject({ workload: { template: { spec: { containers: [{ ports: [{ containerPort: 9080 }], readinessProbe: { httpGet: { path: "/health" } } }] } } } });
  });

  it("defaults every analysis field the user leaves out", async () => {
    const sample = sampleRollout(namespace, "minimal");
    const body = { ...sample, spec: { ...sample.spec, analysis: { metrics: [{ name: "success-rate", min: 0.99 }] } } };
    await objects.createNamespacedCustomObject({ ...ROLLOUTS, namespace, body });
    const served = (await objects.getNamespacedCustomObject({ ...ROLLOUTS, namespace, name: "minimal" })) as RolloutObject;
    expect(served.spec.analysis).toEqual({
      interval: "15s",
      failureLimit: 0,
      inconclusiveLimit: 3,
      errorLimit: 3,
      onInconclusive: "pause",
      onError: "pause",
      minRequests: 20,
      metrics: [{ name: "success-rate", min: 0.99 }],
    });
  });

  it("takes a status through the status subresource and gives it back unchanged, nulls included", async () => {
    const current = (await objects.getNamespacedCustomObject({ ...ROLLOUTS, namespace, name: "reviews" })) as RolloutObject;
    // The controller's write: the whole status, guarded by the resourceVersion it read.
    await objects.replaceNamespacedCustomObjectStatus({ ...ROLLOUTS, namespace, name: "reviews", body: { ...current, status: STATUS } });
    const served = (await objects.getNamespacedCustomObject({ ...ROLLOUTS, namespace, name: "reviews" })) as RolloutObject;
    expect(RolloutStatusSchema.parse(served.status)).toEqual(STATUS);
    expect(served.spec).toEqual(current.spec);
  });

  it("refuses a status write based on a stale resourceVersion (409)", async () => {
    const current = (await objects.getNamespacedCustomObject({ ...ROLLOUTS, namespace, name: "reviews" })) as RolloutObject & { metadata: { resourceVersion: string } };
    const stale = { ...current, metadata: { ...current.metadata, resourceVersion: String(Number(current.metadata.resourceVersion) - 1) } };
    await expect(objects.replaceNamespacedCustomObjectStatus({ ...ROLLOUTS, namespace, name: "reviews", body: { ...stale, status: STATUS } })).rejects.toMatchObject({ code: 409 });
  });

  it("applies a merge patch to the status, where null deletes a field rather than storing null", async () => {
    const patch = { status: { message: "waiting for the first check", release: { metrics: [{ ...STATUS.release?.metrics[0], lastValue: null }] } } };
    await objects.patchNamespacedCustomObjectStatus({ ...ROLLOUTS, namespace, name: "reviews", body: patch }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const served = (await objects.getNamespacedCustomObject({ ...ROLLOUTS, namespace, name: "reviews" })) as RolloutObject;
    const status = RolloutStatusSchema.parse(served.status);
    expect(status.message).toBe("waiting for the first check");
    expect(status.release?.metrics[0]).not.toHaveProperty("lastValue");
  });

  it("rejects a status the schema forbids", async () => {
    await expect(
      objects.patchNamespacedCustomObjectStatus(
        { ...ROLLOUTS, namespace, name: "reviews", body: { status: { ...STATUS, phase: "Exploded" } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    ).rejects.toMatchObject({ code: 422 });
  });

  it("shows phase, stable, canary, weight, step and age in kubectl get rollouts", () => {
    const { kubectl, kubeconfigPath } = services();
    if (!kubectl) throw new Error("kubectl was not built; run bash scripts/k8s-binaries.sh");
    const get = (...args: string[]) => execFileSync(kubectl, ["--kubeconfig", kubeconfigPath, "get", "-n", namespace, ...args], { encoding: "utf8" }).split("\n");
    const [header, ...rows] = get("rollouts");
    expect(header?.split(/\s+/).filter(Boolean)).toEqual(["NAME", "PHASE", "STABLE", "CANARY", "WEIGHT", "STEP", "AGE"]);
    expect(
      rows
        .find((row) => row.startsWith("reviews"))
        ?.split(/\s+/)
        .slice(0, 6),
    ).toEqual(["reviews", "Progressing", "v1", "v2", "10", "1/5"]);
    expect(get("rollouts", "-o", "wide")[0]).toMatch(/\bMESSAGE$/);
    expect(get("twro")[0]).toBe(header);
  });

  it.each([
    ["a weight of 150", { steps: [{ setWeight: 150 }] }, "spec.steps[0].setWeight"],
    ["a fractional weight", { steps: [{ setWeight: 12.5 }] }, "spec.steps[0].setWeight"],
    ["an unknown onError action", { analysis: { onError: "ignore", metrics: [{ name: "success-rate", min: 0.99 }] } }, "spec.analysis.onError"],
    ["a version with a space", { version: "v 2" }, "spec.version"],
    ["no steps", { steps: [] }, "spec.steps"],
  ])("rejects a Rollout with %s (422, naming the field)", async (_what, change, field) => {
    const sample = sampleRollout(namespace, uniqueName("bad"));
    const response = await kubeRequest(kc, "POST", `/apis/tideway.io/v1alpha1/namespaces/${namespace}/rollouts`, { ...sample, spec: { ...sample.spec, ...change } });
    expect(response.status).toBe(422);
    expect(JSON.stringify(response.body)).toContain(field);
  });
});
