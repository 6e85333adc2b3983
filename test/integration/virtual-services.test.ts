/**
 * One Rollout driving several VirtualServices (issue 16): the mesh's own and a gateway's in another
 * namespace get the same weights in one call, against the real API server. A VirtualService that
 * fails is named and the others still routed; the next call, once it is fixed, writes only it. A
 * route another Rollout owns on any of them refuses the whole call before anything is written.
 */
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { beforeEach, describe, expect, it } from "vitest";
import { GROUP, PLURAL, VERSION } from "../../src/kube/rollouts.js";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema, type RolloutSpecInput } from "../../src/rollout/schema.js";
import { IstioTraffic } from "../../src/traffic/istio.js";
import { TrafficError } from "../../src/traffic/router.js";
import { createMesh, VS } from "./release-harness.js";
import { kubeConfig, uniqueName } from "./services.js";

const OWNERS = "tideway.io/route-owners";
const kc = kubeConfig();
const objects = kc.makeApiClient(CustomObjectsApi);
const router = new IstioTraffic(kc);

interface VirtualService {
  metadata: { resourceVersion: string; annotations?: Record<string, string> };
  spec: { http: { name: string; route: { destination: { host: string; subset?: string }; weight?: number }[] }[] };
}

let namespace: string;
let edge: string;

beforeEach(async () => {
  namespace = uniqueName("vss");
  edge = uniqueName("edge");
  const core = kc.makeApiClient(CoreV1Api);
  await Promise.all([namespace, edge].map((name) => core.createNamespace({ body: { metadata: { name } } })));
  await createMesh(kc, namespace, "reviews", { workloads: false });
  await createGateway("gateway");
});

/** The ingress gateway's VirtualService in its own namespace: an admin route of someone else's, and the route to reviews. */
async function createGateway(name: string): Promise<void> {
  const host = `reviews.${namespace}.svc.cluster.local`;
  await objects.createNamespacedCustomObject({
    ...VS,
    namespace: edge,
    body: {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name, annotations: { "team.example.com/owner": "edge" } },
      spec: {
        hosts: ["shop.example.com"],
        gateways: ["istio-system/ingress"],
        http: [
          { name: "admin", match: [{ uri: { prefix: "/admin" } }], route: [{ destination: { host: "admin" } }], timeout: "3s" },
          { name: "reviews", match: [{ uri: { prefix: "/reviews" } }], route: [{ destination: { host, subset: "v1", port: { number: 9080 } } }], retries: { attempts: 2 } },
        ],
      },
    },
  });
}

function rollout(virtualServices: NonNullable<NonNullable<RolloutSpecInput["trafficRouting"]["istio"]>>["virtualServices"]): Rollout {
  return { name: "reviews", namespace, spec: RolloutSpecSchema.parse({ service: "reviews", version: "v2", trafficRouting: { istio: { virtualServices } }, steps: [{ setWeight: 30 }] }) };
}

const both = () => rollout([{ name: "reviews" }, { name: "gateway", namespace: edge, routes: ["reviews"] }]);

async function read(ns: string, name: string): Promise<VirtualService> {
  return (await objects.getNamespacedCustomObject({ ...VS, namespace: ns, name })) as VirtualService;
}

/** Weight per subset of the named route. */
async function weights(ns: string, name: string, route: string): Promise<Record<string, number>> {
  const vs = await read(ns, name);
  const found = vs.spec.http.find((r) => r.name === route);
  return Object.fromEntries((found?.route ?? []).map((d) => [d.destination.subset ?? d.destination.host, d.weight ?? 100]));
}

describe("a Rollout listing several VirtualServices", () => {
  it("sets the same weights on each in one call, changes nothing else on them, and writes nothing when they already route so", async () => {
    const before = await read(edge, "gateway");
    const outcome = await router.setTraffic(both(), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 30 });
    expect(outcome).toEqual({ wrote: true, writes: 2, takenOver: [] });
    expect(await weights(namespace, "reviews", "primary")).toEqual({ v1: 70, v2: 30 });
    expect(await weights(edge, "gateway", "reviews")).toEqual({ v1: 70, v2: 30 });

    const after = await read(edge, "gateway");
    expect(after.spec.http[0]).toEqual(before.spec.http[0]);
    expect(after.spec.http[1]).toEqual({
      ...before.spec.http[1],
      route: [
        { ...before.spec.http[1]?.route[0], weight: 70 },
        { destination: { ...before.spec.http[1]?.route[0]?.destination, subset: "v2" }, weight: 30 },
      ],
    });
    expect(after.metadata.annotations?.["team.example.com/owner"]).toBe("edge");
    expect(JSON.parse(after.metadata.annotations?.[OWNERS] ?? "{}")).toEqual({ reviews: `${namespace}/reviews`, "reviews-canary-header": `${namespace}/reviews` });

    expect(await router.setTraffic(both(), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 30 })).toEqual({ wrote: false, writes: 0, takenOver: [] });
    expect(await router.sighting(both())).toEqual({ liveVersion: "v1" });
  });

  it("mirrors on every listed VirtualService, and takes the mirror out of each at the end", async () => {
    await router.setTraffic(both(), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0, mirror: { percentage: 20 } });
    const mirrored = await read(edge, "gateway");
    expect(mirrored.spec.http[1]).toMatchObject({ mirror: { host: `reviews.${namespace}.svc.cluster.local`, subset: "v2", port: { number: 9080 } }, mirrorPercentage: { value: 20 } });
    expect((await read(namespace, "reviews")).spec.http[0]).toMatchObject({ mirror: { host: "reviews", subset: "v2" }, mirrorPercentage: { value: 20 } });
    await router.setTraffic(both(), { stableVersion: "v1", canaryWeight: 0 }, ["v1", "v2"]);
    for (const [ns, name] of [
      [namespace, "reviews"],
      [edge, "gateway"],
    ] as const) {
      for (const route of (await read(ns, name)).spec.http) expect(route).not.toHaveProperty("mirror");
    }
  });

  it("names the one that failed and routes the others; once it exists, the next call writes only it", async () => {
    const three = rollout([{ name: "reviews" }, { name: "gateway", namespace: edge, routes: ["reviews"] }, { name: "canary-gateway", namespace: edge, routes: ["reviews"] }]);
    const traffic = { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 30 };
    const failure = await router.setTraffic(three, traffic).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TrafficError);
    expect((failure as TrafficError).message).toBe(
      `VirtualService ${edge}/canary-gateway not found: create it, or fix trafficRouting.istio.virtualServices[2] (2 of 3 VirtualServices routed as wanted)`,
    );
    expect(await weights(namespace, "reviews", "primary")).toEqual({ v1: 70, v2: 30 });
    expect(await weights(edge, "gateway", "reviews")).toEqual({ v1: 70, v2: 30 });

    await createGateway("canary-gateway");
    expect(await router.setTraffic(three, traffic)).toEqual({ wrote: true, writes: 1, takenOver: [] });
    expect(await weights(edge, "canary-gateway", "reviews")).toEqual({ v1: 70, v2: 30 });

    await router.releaseRoutes(three);
    for (const [ns, name] of [
      [namespace, "reviews"],
      [edge, "gateway"],
      [edge, "canary-gateway"],
    ] as const)
      expect((await read(ns, name)).metadata.annotations?.[OWNERS]).toBeUndefined();
  });

  it("refuses the whole call, writing none of them, when another Rollout owns a route on one", async () => {
    await objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "Rollout",
        metadata: { name: "gateway-owner" },
        spec: { service: "reviews", version: "v1", trafficRouting: { istio: { virtualServices: [{ name: "gateway", namespace: edge, routes: ["reviews"] }] } }, steps: [{ setWeight: 10 }] },
      },
    });
    const owned = await read(edge, "gateway");
    await objects.replaceNamespacedCustomObject({
      ...VS,
      namespace: edge,
      name: "gateway",
      body: { ...owned, metadata: { ...owned.metadata, annotations: { ...owned.metadata.annotations, [OWNERS]: JSON.stringify({ reviews: `${namespace}/gateway-owner` }) } } },
    });
    const mesh = await read(namespace, "reviews");

    const failure = await router.setTraffic(both(), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 30 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TrafficError);
    expect(failure).toMatchObject({
      ownedBy: `${namespace}/gateway-owner`,
      message: expect.stringContaining(`route reviews of VirtualService ${edge}/gateway is managed by Rollout ${namespace}/gateway-owner`),
    });
    expect((await read(namespace, "reviews")).metadata.resourceVersion).toBe(mesh.metadata.resourceVersion);
    expect(await router.sighting(both())).toEqual({ routeConflict: { ownedBy: `${namespace}/gateway-owner`, message: (failure as TrafficError).message } });
  });
});
