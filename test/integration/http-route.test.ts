/**
 * The Gateway API router against the real API server with the Gateway API's own CRDs (from the
 * sigs.k8s.io/gateway-api module, the experimental channel's HTTPRoute): weights as backendRefs of
 * per-version Services, the header rule, everything else byte-for-byte, read back and verified.
 */
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { beforeEach, describe, expect, it } from "vitest";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema } from "../../src/rollout/schema.js";
import { HttpRouteTraffic } from "../../src/traffic/gateway-api.js";
import { TrafficError } from "../../src/traffic/router.js";
import { HTTP_ROUTE } from "../env/index.js";
import { kubeConfig, uniqueName } from "./services.js";

const OWNERS = "tideway.io/route-owners";
const kc = kubeConfig();
const objects = kc.makeApiClient(CustomObjectsApi);
const router = new HttpRouteTraffic(kc);

interface HttpRoute {
  metadata: { resourceVersion: string; annotations?: Record<string, string> };
  spec: { parentRefs: unknown[]; hostnames: string[]; rules: { name?: string; matches?: unknown[]; backendRefs?: { name: string; port: number; weight?: number }[] }[] };
}

let namespace: string;
beforeEach(async () => {
  namespace = uniqueName("gwapi");
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  await objects.createNamespacedCustomObject({
    ...HTTP_ROUTE,
    namespace,
    body: {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "reviews", annotations: { "team.example.com/owner": "reviews-team" } },
      spec: {
        parentRefs: [{ group: "", kind: "Service", name: "reviews" }],
        hostnames: ["reviews.example.com"],
        rules: [
          { name: "admin", matches: [{ path: { type: "PathPrefix", value: "/admin" } }], backendRefs: [{ name: "admin", port: 8080 }] },
          { name: "primary", matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "reviews-v1", port: 9080 }], timeouts: { request: "5s" } },
        ],
      },
    },
  });
});

const rollout = (): Rollout => ({
  name: "reviews",
  namespace,
  spec: RolloutSpecSchema.parse({
    service: "reviews",
    version: "v2",
    trafficRouting: { gatewayAPI: { httpRoute: { name: "reviews", rules: ["primary"] } } },
    steps: [{ setWeight: 10 }, { setHeaderRoute: { headers: { "x-canary": { exact: "true" } } } }],
  }),
});

const read = async () => (await objects.getNamespacedCustomObject({ ...HTTP_ROUTE, namespace, name: "reviews" })) as HttpRoute;

describe("the Gateway API HTTPRoute router", () => {
  it("weighs per-version Services in the managed rule, adds the header rule first, and leaves everything else as it was", async () => {
    const before = await read();
    const headerRoute = { name: "reviews-canary-header", headers: { "x-canary": { exact: "true" } } };
    expect(await router.setTraffic(rollout(), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 30, headerRoute })).toEqual({ wrote: true, writes: 1, takenOver: [] });
    const after = await read();
    expect(after.spec.rules.map((r) => r.name)).toEqual(["admin", "reviews-canary-header", "primary"]);
    expect(after.spec.rules[0]).toEqual(before.spec.rules[0]);
    expect(after.spec.rules[1]).toMatchObject({ backendRefs: [{ name: "reviews-v2", port: 9080, weight: 100 }] });
    // The API server defaults each backendRef's group and kind; the router keeps them.
    const service = { group: "", kind: "Service", port: 9080 };
    expect(after.spec.rules[2]).toEqual({
      ...before.spec.rules[1],
      backendRefs: [
        { ...service, name: "reviews-v1", weight: 70 },
        { ...service, name: "reviews-v2", weight: 30 },
      ],
    });
    expect({ parentRefs: after.spec.parentRefs, hostnames: after.spec.hostnames }).toEqual({ parentRefs: before.spec.parentRefs, hostnames: before.spec.hostnames });
    expect(after.metadata.annotations?.["team.example.com/owner"]).toBe("reviews-team");
    expect(JSON.parse(after.metadata.annotations?.[OWNERS] ?? "{}")).toEqual({ primary: `${namespace}/reviews`, "reviews-canary-header": `${namespace}/reviews` });

    expect(await router.setTraffic(rollout(), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 30, headerRoute })).toEqual({ wrote: false, writes: 0, takenOver: [] });
    expect(await router.sighting(rollout())).toEqual({ liveVersion: "v1" });

    // Promotion: 100% to v2, the header rule and v1's backendRef gone.
    await router.setTraffic(rollout(), { stableVersion: "v2", canaryWeight: 0 }, ["v1", "v2"]);
    const promoted = await read();
    expect(promoted.spec.rules.map((r) => r.name)).toEqual(["admin", "primary"]);
    expect(promoted.spec.rules[1]?.backendRefs).toEqual([{ group: "", kind: "Service", name: "reviews-v2", port: 9080, weight: 100 }]);

    await router.releaseRoutes(rollout());
    expect((await read()).metadata.annotations?.[OWNERS]).toBeUndefined();
  });

  it("mirrors a share of the managed rule's requests to the canary's Service (the API server accepts the filter), and takes the mirror out at the end", async () => {
    const mirror = { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0, mirror: { percentage: 20 } };
    expect(await router.setTraffic(rollout(), mirror)).toMatchObject({ wrote: true, writes: 1 });
    const on = await read();
    expect((on.spec.rules[1] as { filters?: unknown[] }).filters).toEqual([
      { type: "RequestMirror", requestMirror: { backendRef: { group: "", kind: "Service", name: "reviews-v2", port: 9080 }, percent: 20 } },
    ]);
    expect(await router.setTraffic(rollout(), mirror)).toMatchObject({ wrote: false });
    await router.setTraffic(rollout(), { stableVersion: "v1", canaryWeight: 0 }, ["v1", "v2"]);
    // The API server defaulted the backendRef's weight to 1 when the HTTPRoute was created; the router wrote 100 for it.
    expect((await read()).spec.rules[1]).toEqual({
      name: "primary",
      matches: [{ path: { type: "PathPrefix", value: "/" } }],
      backendRefs: [{ group: "", kind: "Service", name: "reviews-v1", port: 9080, weight: 100 }],
      timeouts: { request: "5s" },
    });
  });

  it("says which HTTPRoute is missing and which field names it", async () => {
    const lost = { ...rollout(), spec: RolloutSpecSchema.parse({ ...rollout().spec, trafficRouting: { gatewayAPI: { httpRoute: { name: "ratings" } } } }) };
    const failure = await router.setTraffic(lost, { stableVersion: "v1", canaryWeight: 0 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TrafficError);
    expect(failure).toMatchObject({ notFound: true, message: `HTTPRoute ${namespace}/ratings not found: create it, or fix trafficRouting.gatewayAPI.httpRoute.name` });
  });
});
