/**
 * The DestinationRule reads shared by the Istio router and the readiness read, against the real
 * API server: a Rollout's rule named as its service is read alone, by name (adoption no longer
 * reads every rule of the namespace, twice, per Rollout), other rules through one list per
 * namespace, and a subset added a moment ago is still seen at once by both, because a missing
 * rule or subset is looked for again with a fresh read.
 */
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { DestinationRuleLists } from "../../src/kube/destination-rules.js";
import { KubeReadiness } from "../../src/kube/readiness.js";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema } from "../../src/rollout/schema.js";
import { IstioTraffic } from "../../src/traffic/istio.js";
import { TrafficError } from "../../src/traffic/router.js";
import { createMesh } from "../env/index.js";
import { kubeConfig, uniqueName } from "./services.js";

const DR = { group: "networking.istio.io", version: "v1", plural: "destinationrules" } as const;
const kc = kubeConfig();

function rollout(namespace: string, service: string): Rollout {
  const spec = RolloutSpecSchema.parse({ service, version: "v1", trafficRouting: { istio: { virtualService: { name: service } } }, steps: [{ setWeight: 50 }] });
  return { name: service, namespace, spec };
}

async function namespace(): Promise<string> {
  const name = uniqueName("rules");
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/** Replaces the rule's subsets (the VirtualService and Services are left as they are). */
async function setSubsets(ns: string, service: string, versions: string[]): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const rule = (await custom.getNamespacedCustomObject({ ...DR, namespace: ns, name: service })) as { spec: Record<string, unknown> };
  rule.spec.subsets = versions.map((v) => ({ name: v, labels: { version: v } }));
  await custom.replaceNamespacedCustomObject({ ...DR, namespace: ns, name: service, body: rule });
}

describe("DestinationRule reads, by name or one list per namespace, shared", () => {
  it("serves concurrent and repeated reads of a namespace from one request, and a fresh read from a new one", async () => {
    const ns = await namespace();
    await Promise.all(["a", "b", "c"].map((service) => createMesh(kc, ns, service, { versions: ["v1", "v2"], workloads: false })));
    const lists = new DestinationRuleLists(kc, 60_000);
    const [one, two] = await Promise.all([lists.list(ns), lists.list(ns)]);
    expect(lists.requests).toBe(1);
    expect(one).toBe(two);
    expect(one.map((rule) => [rule.metadata.name, rule.spec.host, rule.spec.subsets?.map((s) => s.name)])).toEqual([
      ["a", "a", ["v1", "v2"]],
      ["b", "b", ["v1", "v2"]],
      ["c", "c", ["v1", "v2"]],
    ]);
    await lists.list(ns);
    expect(lists.requests).toBe(1);
    await setSubsets(ns, "b", ["v1", "v2", "v3"]);
    const fresh = await lists.list(ns, { fresh: true });
    expect(lists.requests).toBe(2);
    expect(fresh.find((rule) => rule.metadata.name === "b")?.spec.subsets?.map((s) => s.name)).toEqual(["v1", "v2", "v3"]);
    // A namespace with no rules (or none at all) is an empty list, not an error.
    expect(await lists.list(uniqueName("absent"))).toEqual([]);
  });

  it("reads each of N Rollouts' own rule by name for the router and the readiness read, with no list, and still sees a subset added a moment ago", async () => {
    const ns = await namespace();
    const services = Array.from({ length: 12 }, (_, i) => `s${i}`);
    await Promise.all(services.map((service) => createMesh(kc, ns, service, { versions: ["v1"], workloads: false })));
    const lists = new DestinationRuleLists(kc, 60_000);
    const router = new IstioTraffic(kc, { rules: lists });
    const readiness = new KubeReadiness(kc, lists);
    // Every Rollout's router pass and readiness read at once, as adoption runs them.
    await Promise.all(services.flatMap((service) => [router.setTraffic(rollout(ns, service), { stableVersion: "v1", canaryWeight: 0 }), readiness.read(rollout(ns, service), ["v1"])]));
    // 24 first reads of 12 Rollouts: one GET of each one's rule, shared by its two reads; no list of the namespace.
    expect(lists.gets).toBe(services.length);
    expect(lists.listRequests).toBe(0);
    expect(lists.requests).toBe(services.length);
    // Read again within the TTL: nothing more.
    await Promise.all(services.map((service) => readiness.read(rollout(ns, service), ["v1"])));
    expect(lists.requests).toBe(services.length);

    // v2 is added to s3's rule after it was read: routing to it is not refused, and readiness reads its labels.
    await setSubsets(ns, "s3", ["v1", "v2"]);
    const outcome = await router.setTraffic(rollout(ns, "s3"), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10 });
    expect(outcome.wrote).toBe(true);
    expect(lists.gets).toBe(services.length + 1);
    await setSubsets(ns, "s4", ["v1", "v2"]);
    expect((await readiness.read(rollout(ns, "s4"), ["v1", "v2"])).map((r) => r.version)).toEqual(["v1", "v2"]);
    expect(lists.gets).toBe(services.length + 2);
    // That fresh read is the one now shared: it has s4's v2, and it cost nothing more.
    const s4 = await lists.forService(rollout(ns, "s4"));
    expect(s4.map((rule) => [rule.metadata.name, rule.spec.subsets?.map((s) => s.name)])).toEqual([["s4", ["v1", "v2"]]]);
    expect(lists.gets).toBe(services.length + 2);

    // A subset that really is missing is still refused, after one fresh look.
    const refused = await router.setTraffic(rollout(ns, "s5"), { stableVersion: "v1", canaryVersion: "v9", canaryWeight: 10 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TrafficError);
    expect((refused as TrafficError).message).toBe(`DestinationRule ${ns}/s5 has no subset v9 (it has v1): add it before releasing`);
    expect(lists.gets).toBe(services.length + 3);
    expect(lists.listRequests).toBe(0);
  });

  it("finds a rule not named as the service, or the service's rule when the one of its name is for another host, in the namespace's list: one list for all such Rollouts", async () => {
    const ns = await namespace();
    await Promise.all(["m0", "m1"].map((service) => createMesh(kc, ns, service, { versions: ["v1", "v2"], workloads: false })));
    const custom = kc.makeApiClient(CustomObjectsApi);
    const body = (name: string, host: string, versions: string[]) => ({
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name },
      spec: { host, subsets: versions.map((v) => ({ name: v, labels: { version: v } })) },
    });
    // m0's rule is "m0-rule" (none is named m0); m1's is "m1-rule", and the rule named m1 is for another host.
    await custom.deleteNamespacedCustomObject({ ...DR, namespace: ns, name: "m0" });
    await custom.createNamespacedCustomObject({ ...DR, namespace: ns, body: body("m0-rule", "m0", ["v1", "v2"]) });
    await custom.replaceNamespacedCustomObject({
      ...DR,
      namespace: ns,
      name: "m1",
      body: { ...body("m1", "elsewhere", ["v1"]), metadata: { name: "m1", resourceVersion: await resourceVersion(ns, "m1") } },
    });
    await custom.createNamespacedCustomObject({ ...DR, namespace: ns, body: body("m1-rule", `m1.${ns}.svc.cluster.local`, ["v1", "v2"]) });

    const lists = new DestinationRuleLists(kc, 60_000);
    const router = new IstioTraffic(kc, { rules: lists });
    const readiness = new KubeReadiness(kc, lists);
    for (const service of ["m0", "m1"]) {
      const outcome = await router.setTraffic(rollout(ns, service), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 20 });
      expect(outcome.wrote).toBe(true);
      expect((await readiness.read(rollout(ns, service), ["v1", "v2"])).map((r) => r.version)).toEqual(["v1", "v2"]);
    }
    // A GET of each one's own name (missing, or for another host) and one list of the namespace for both.
    expect(lists.gets).toBe(2);
    expect(lists.listRequests).toBe(1);

    // A subset just added to a rule found through the list is seen at once too: a fresh GET and a fresh list.
    await custom.replaceNamespacedCustomObject({
      ...DR,
      namespace: ns,
      name: "m0-rule",
      body: { ...body("m0-rule", "m0", ["v1", "v2", "v3"]), metadata: { name: "m0-rule", resourceVersion: await resourceVersion(ns, "m0-rule") } },
    });
    const outcome = await router.setTraffic(rollout(ns, "m0"), { stableVersion: "v1", canaryVersion: "v3", canaryWeight: 20 });
    expect(outcome.wrote).toBe(true);
    expect(lists.gets).toBe(3);
    expect(lists.listRequests).toBe(2);

    // No rule for the host at all: refused as before, after one fresh look.
    await createMesh(kc, ns, "m2", { versions: ["v1"], workloads: false });
    await custom.deleteNamespacedCustomObject({ ...DR, namespace: ns, name: "m2" });
    const refused = await router.setTraffic(rollout(ns, "m2"), { stableVersion: "v1", canaryWeight: 0 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TrafficError);
    expect((refused as TrafficError).message).toBe(`no DestinationRule for host m2 in namespace ${ns}: subsets v1 are needed`);
  });
});

async function resourceVersion(ns: string, name: string): Promise<string> {
  const rule = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...DR, namespace: ns, name })) as { metadata: { resourceVersion: string } };
  return rule.metadata.resourceVersion;
}
