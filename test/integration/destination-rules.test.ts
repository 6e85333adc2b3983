/**
 * The namespace DestinationRule list shared by the Istio router and the readiness read, against
 * the real API server: Rollouts of one namespace share one list (adoption no longer reads every
 * rule of the namespace twice per Rollout), and a subset added a moment ago is still seen at once
 * by both, because a missing rule or subset is looked for again in a fresh list.
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

describe("one DestinationRule list per namespace, shared", () => {
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

  it("lets the router and the readiness read of many Rollouts share a list, and still see a subset added a moment ago", async () => {
    const ns = await namespace();
    const services = ["s0", "s1", "s2", "s3", "s4", "s5"];
    await Promise.all(services.map((service) => createMesh(kc, ns, service, { versions: ["v1"], workloads: false })));
    const lists = new DestinationRuleLists(kc, 60_000);
    const router = new IstioTraffic(kc, { rules: lists });
    const readiness = new KubeReadiness(kc, lists);
    for (const service of services) {
      await router.setTraffic(rollout(ns, service), { stableVersion: "v1", canaryWeight: 0 });
      await readiness.read(rollout(ns, service), ["v1"]);
    }
    // Twelve first reads of six Rollouts: one list (it was two per Rollout, each of the whole namespace).
    expect(lists.requests).toBe(1);

    // v2 is added to s3's rule after the list was taken: routing to it is not refused, and readiness reads its labels.
    await setSubsets(ns, "s3", ["v1", "v2"]);
    const outcome = await router.setTraffic(rollout(ns, "s3"), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10 });
    expect(outcome.wrote).toBe(true);
    expect(lists.requests).toBe(2);
    await setSubsets(ns, "s4", ["v1", "v2"]);
    expect((await readiness.read(rollout(ns, "s4"), ["v1", "v2"])).map((r) => r.version)).toEqual(["v1", "v2"]);
    expect(lists.requests).toBe(3);
    // That fresh list is the one now shared: it has s4's v2, and it cost nothing more.
    expect((await lists.list(ns)).find((rule) => rule.metadata.name === "s4")?.spec.subsets?.map((s) => s.name)).toEqual(["v1", "v2"]);
    expect(lists.requests).toBe(3);

    // A subset that really is missing is still refused, after one fresh look.
    const refused = await router.setTraffic(rollout(ns, "s5"), { stableVersion: "v1", canaryVersion: "v9", canaryWeight: 10 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TrafficError);
    expect((refused as TrafficError).message).toBe(`DestinationRule ${ns}/s5 has no subset v9 (it has v1): add it before releasing`);
    expect(lists.requests).toBe(4);
  });
});
