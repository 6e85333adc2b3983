import { describe, expect, it } from "vitest";
import type { Rollout } from "../../src/rollout/model.js";
import { httpRouteOf, type HttpRouteRef } from "../../src/rollout/routing.js";
import { RolloutSpecSchema } from "../../src/rollout/schema.js";
import { claimedRules, observedHttpWeights, routeHttpTraffic } from "../../src/traffic/http-route.js";
import type { Json } from "../../src/traffic/virtual-service.js";

function rollout(httpRoute: { name: string; rules?: string[] } = { name: "reviews" }, host?: string): Rollout {
  const spec = RolloutSpecSchema.parse({ service: "reviews", version: "v2", trafficRouting: { gatewayAPI: { httpRoute, ...(host ? { host } : {}) } }, steps: [{ setWeight: 10 }] });
  return { name: "reviews", namespace: "bookinfo", spec };
}

function routeOf(r: Rollout): HttpRouteRef {
  const route = httpRouteOf(r);
  if (route === undefined) throw new Error("no HTTPRoute");
  return route;
}

const backend = (name: string, weight?: number) => ({ name, port: 9080, ...(weight === undefined ? {} : { weight }) });
const HEADER = "reviews-canary-header";

describe("routing an HTTPRoute's rule by per-version Services", () => {
  const rules: Json[] = [{ name: "primary", matches: [{ path: { type: "PathPrefix", value: "/reviews" } }], backendRefs: [backend("reviews-v1")], timeouts: { request: "3s" } }];
  const r = rollout();

  it.each([
    [{ stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10 }, [backend("reviews-v1", 90), backend("reviews-v2", 10)]],
    [{ stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0 }, [backend("reviews-v1")]],
    [{ stableVersion: "v1", canaryVersion: "v2", canaryWeight: 100 }, [backend("reviews-v1", 0), backend("reviews-v2", 100)]],
    [{ stableVersion: "v2", canaryWeight: 0 }, [backend("reviews-v2", 100)]],
  ])("routes %j with integer weights summing to 100, the rule's other fields kept", (traffic, backendRefs) => {
    expect(routeHttpTraffic(rules, r, routeOf(r), traffic, HEADER, ["v1"])).toEqual([{ ...(rules[0] as object), backendRefs }]);
  });

  it("keeps someone else's backendRef and its weight, and shares the rest", () => {
    const shared: Json[] = [{ name: "primary", backendRefs: [backend("reviews-v1", 80), backend("legacy-reviews", 20)] }];
    expect(routeHttpTraffic(shared, r, routeOf(r), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 25 }, HEADER, ["v1"])).toEqual([
      { name: "primary", backendRefs: [backend("reviews-v1", 60), backend("reviews-v2", 20), backend("legacy-reviews", 20)] },
    ]);
  });

  it("adds a header rule first, with the managed rule's matches and the header conditions, and removes it with the header route", () => {
    const headerRoute = { name: HEADER, headers: { "x-canary": { exact: "true" }, "x-beta": { prefix: "a.b" } } };
    const withHeader = routeHttpTraffic(rules, r, routeOf(r), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10, headerRoute }, HEADER, ["v1"]);
    expect(withHeader[0]).toEqual({
      name: HEADER,
      matches: [
        {
          path: { type: "PathPrefix", value: "/reviews" },
          headers: [
            { type: "Exact", name: "x-canary", value: "true" },
            { type: "RegularExpression", name: "x-beta", value: "a\\.b.*" },
          ],
        },
      ],
      backendRefs: [backend("reviews-v2", 100)],
    });
    expect(observedHttpWeights(withHeader, r, routeOf(r), HEADER)).toEqual({ weights: { v1: 90, v2: 10 }, headerRoute: true });
    expect(routeHttpTraffic(withHeader, r, routeOf(r), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10 }, HEADER, ["v1"])).toEqual([
      { ...(rules[0] as object), backendRefs: [backend("reviews-v1", 90), backend("reviews-v2", 10)] },
    ]);
  });

  it("leaves every rule it does not manage as it was, and claims its named rules and header rule", () => {
    const many: Json[] = [
      { name: "admin", matches: [{ path: { type: "PathPrefix", value: "/admin" } }], backendRefs: [backend("admin")] },
      { name: "primary", backendRefs: [backend("reviews-v1")] },
    ];
    const named = rollout({ name: "reviews", rules: ["primary"] });
    const next = routeHttpTraffic(many, named, routeOf(named), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 50 }, HEADER, ["v1"]);
    expect(next[0]).toBe(many[0]);
    expect(claimedRules(many, named, routeOf(named), HEADER)).toEqual(["primary", HEADER]);
  });

  it.each([
    {
      case: "several rules and none named",
      rules: [{ name: "a" }, { name: "b" }],
      route: rollout(),
      message: "HTTPRoute reviews has 2 rules; name the ones Tideway manages (rules[].name) in trafficRouting.gatewayAPI.httpRoute.rules",
    },
    { case: "a named rule that is not there", rules: [{ name: "a" }], route: rollout({ name: "reviews", rules: ["main"] }), message: 'HTTPRoute reviews has no rule named "main" (it has: a)' },
  ])("refuses $case with what to fix", ({ rules: given, route, message }) => {
    expect(() => routeHttpTraffic(given, route, routeOf(route), { stableVersion: "v1", canaryWeight: 0 }, HEADER)).toThrow(message);
  });

  it("names each version's Service by the host template", () => {
    const custom = rollout({ name: "reviews" }, "reviews-{{ version }}-svc");
    const before: Json[] = [{ backendRefs: [backend("reviews-v1-svc")] }];
    expect(routeHttpTraffic(before, custom, routeOf(custom), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 30 }, HEADER, ["v1"])).toEqual([
      { backendRefs: [backend("reviews-v1-svc", 70), backend("reviews-v2-svc", 30)] },
    ]);
  });
});

describe("mirroring an HTTPRoute rule", () => {
  const rules: Json[] = [{ name: "primary", backendRefs: [backend("reviews-v1")], filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-team", value: "a" }] } }] }];
  const r = rollout();

  it("adds a RequestMirror filter to the canary's Service beside the rule's own filters, and removes only it when the mirror ends", () => {
    const on = routeHttpTraffic(rules, r, routeOf(r), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0, mirror: { percentage: 20 } }, HEADER, ["v1"]);
    const filters = (on[0] as { filters: unknown[] }).filters;
    expect(filters).toEqual([...((rules[0] as { filters: unknown[] }).filters ?? []), { type: "RequestMirror", requestMirror: { backendRef: { name: "reviews-v2", port: 9080 }, percent: 20 } }]);
    expect(observedHttpWeights(on, r, routeOf(r), HEADER)).toEqual({ weights: { v1: 100 }, headerRoute: false, mirrors: { v2: 20 } });
    expect(routeHttpTraffic(on, r, routeOf(r), { stableVersion: "v1", canaryWeight: 0 }, HEADER, ["v1", "v2"])).toEqual(rules);
  });

  it("writes a share that is not a whole percent as a fraction", () => {
    const on = routeHttpTraffic(rules, r, routeOf(r), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0, mirror: { percentage: 0.5 } }, HEADER, ["v1"]);
    expect((on[0] as { filters: unknown[] }).filters.at(-1)).toEqual({
      type: "RequestMirror",
      requestMirror: { backendRef: { name: "reviews-v2", port: 9080 }, fraction: { numerator: 50, denominator: 10_000 } },
    });
  });

  it("mirrors only matching requests through a rule of its own before the managed one", () => {
    const on = routeHttpTraffic(rules, r, routeOf(r), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0, mirror: { percentage: 100, headers: { "x-shadow": { exact: "1" } } } }, HEADER, [
      "v1",
    ]);
    expect(on[0]).toEqual({
      name: "reviews-canary-mirror",
      matches: [{ headers: [{ type: "Exact", name: "x-shadow", value: "1" }] }],
      backendRefs: [backend("reviews-v1")],
      filters: [{ type: "RequestMirror", requestMirror: { backendRef: { name: "reviews-v2", port: 9080 }, percent: 100 } }],
    });
    expect(on[1]).toEqual(rules[0]);
  });
});
