import { describe, expect, it } from "vitest";
import { ROUTE_OWNERS_ANNOTATION } from "../../src/rollout/annotations.js";
import type { Rollout } from "../../src/rollout/model.js";
import { virtualServicesOf, type VirtualServiceRef } from "../../src/rollout/routing.js";
import { RolloutSpecSchema, type RolloutSpecInput } from "../../src/rollout/schema.js";
import { claimedRoutes, claimRoutes, describeConflict, otherOwners, readRouteOwners, releaseRoutes, stillClaims, withRouteOwners } from "../../src/traffic/route-owners.js";
import { RoutingError, type Json } from "../../src/traffic/virtual-service.js";

function rollout(name: string, istio: Partial<NonNullable<RolloutSpecInput["trafficRouting"]["istio"]>> = {}, steps: RolloutSpecInput["steps"] = [{ setWeight: 10 }]): Rollout {
  const spec = RolloutSpecSchema.parse({ service: "reviews", version: "v2", trafficRouting: { istio: { virtualService: { name: "reviews" }, ...istio } }, steps });
  return { name, namespace: "bookinfo", spec };
}

/** The Rollout's only VirtualService. */
function vsOf(r: Rollout): VirtualServiceRef {
  const [ref] = virtualServicesOf(r);
  if (ref === undefined) throw new Error("no VirtualService");
  return ref;
}

const http: Json[] = [
  { name: "admin", route: [{ destination: { host: "admin" } }] },
  { name: "primary", route: [{ destination: { host: "reviews", subset: "v1" } }] },
  { name: "mobile", route: [{ destination: { host: "reviews", subset: "v1" } }] },
];
const vs = { namespace: "bookinfo", name: "reviews" };
const annotated = (value: string) => ({ name: "reviews", annotations: { "team.example.com/owner": "reviews-team", [ROUTE_OWNERS_ANNOTATION]: value } });

describe("the routes a Rollout claims", () => {
  it.each<{ case: string; http: Json[]; istio?: Partial<NonNullable<RolloutSpecInput["trafficRouting"]["istio"]>>; steps?: RolloutSpecInput["steps"]; claimed: string[] }>([
    {
      case: "the routes it names and its default header route",
      http,
      istio: { virtualService: { name: "reviews", routes: ["primary", "mobile"] } },
      claimed: ["primary", "mobile", "reviews-canary-header"],
    },
    { case: "the only route, by its name, when it names none", http: [http[1] ?? null], claimed: ["primary", "reviews-canary-header"] },
    { case: "an only route without a name", http: [{ route: [] }], claimed: ["(unnamed)", "reviews-canary-header"] },
    { case: "the header route its steps name", http: [http[1] ?? null], steps: [{ setHeaderRoute: { name: "beta", headers: { "x-beta": { exact: "1" } } } }], claimed: ["primary", "beta"] },
  ])("$case", ({ http: routes, istio, steps, claimed }) => {
    expect(claimedRoutes(routes, rollout("a", istio, steps), vsOf(rollout("a", istio, steps)))).toEqual(claimed);
  });

  it("cannot be told when its routes are not there", () => {
    expect(() => claimedRoutes(http, rollout("a", { virtualService: { name: "reviews", routes: ["main"] } }), vsOf(rollout("a", { virtualService: { name: "reviews", routes: ["main"] } })))).toThrow(
      RoutingError,
    );
  });
});

describe("the owners recorded on the VirtualService", () => {
  it("are none without the annotation, and read from it otherwise", () => {
    expect(readRouteOwners({ name: "reviews" }, "reviews")).toEqual({});
    expect(readRouteOwners(annotated('{"primary":"bookinfo/a"}'), "reviews")).toEqual({ primary: "bookinfo/a" });
  });

  it.each(["not json", "[]", '{"primary": 7}'])("refuse an annotation edited into %j, saying how to fix it", (value) => {
    expect(() => readRouteOwners(annotated(value), "reviews")).toThrow(`VirtualService reviews: annotation ${ROUTE_OWNERS_ANNOTATION} is not a JSON object of route name to "namespace/rollout"`);
  });

  it("name the other Rollouts holding any of the routes, with the routes each holds", () => {
    const owners = { primary: "bookinfo/a", "reviews-canary-header": "bookinfo/a", mobile: "bookinfo/c", admin: "bookinfo/b" };
    expect([...otherOwners(owners, ["primary", "mobile", "reviews-canary-header"], "bookinfo/b")]).toEqual([
      ["bookinfo/a", ["primary", "reviews-canary-header"]],
      ["bookinfo/c", ["mobile"]],
    ]);
    expect([...otherOwners(owners, ["admin"], "bookinfo/b")]).toEqual([]);
  });
});

describe("claiming and releasing routes", () => {
  it("claims unowned routes (a route weighted before ownership was recorded), in a stable order", () => {
    expect(claimRoutes({}, ["primary", "reviews-canary-header"], "bookinfo/a")).toEqual({ primary: "bookinfo/a", "reviews-canary-header": "bookinfo/a" });
  });

  it("gives up the routes it no longer names, keeping the others' claims", () => {
    const owners = { primary: "bookinfo/a", admin: "bookinfo/b" };
    expect(claimRoutes(owners, ["mobile"], "bookinfo/a")).toEqual({ admin: "bookinfo/b", mobile: "bookinfo/a" });
  });

  it("replaces a stale claim it was allowed to take over", () => {
    expect(claimRoutes({ primary: "bookinfo/gone" }, ["primary"], "bookinfo/a")).toEqual({ primary: "bookinfo/a" });
  });

  it("releases every route of a deleted Rollout and nothing else", () => {
    expect(releaseRoutes({ primary: "bookinfo/a", "reviews-canary-header": "bookinfo/a", admin: "bookinfo/b" }, "bookinfo/a")).toEqual({ admin: "bookinfo/b" });
  });

  it("writes the annotation leaving every other annotation and field as it was, and removes it when nobody owns anything", () => {
    const metadata = { name: "reviews", resourceVersion: "7", annotations: { "team.example.com/owner": "reviews-team" } };
    expect(withRouteOwners(metadata, { primary: "bookinfo/a" })).toEqual({
      ...metadata,
      annotations: { "team.example.com/owner": "reviews-team", [ROUTE_OWNERS_ANNOTATION]: '{"primary":"bookinfo/a"}' },
    });
    expect(withRouteOwners(annotated("{}"), {})).toEqual({ name: "reviews", annotations: { "team.example.com/owner": "reviews-team" } });
    expect(withRouteOwners({ name: "reviews" }, {})).toEqual({ name: "reviews" });
  });
});

describe("whether a recorded owner still claims a route", () => {
  it.each<{ case: string; owner: Rollout; still: boolean }>([
    { case: "one that names the route", owner: rollout("a", { virtualService: { name: "reviews", routes: ["primary"] } }), still: true },
    { case: "one that now names another route", owner: rollout("a", { virtualService: { name: "reviews", routes: ["mobile"] } }), still: false },
    { case: "one that now names another VirtualService", owner: rollout("a", { virtualService: { name: "ratings" } }), still: false },
    { case: "one in another namespace", owner: { ...rollout("a", { virtualService: { name: "reviews", routes: ["primary"] } }), namespace: "other" }, still: false },
    { case: "one whose routes cannot be found here (counted as claiming)", owner: rollout("a", { virtualService: { name: "reviews", routes: ["gone"] } }), still: true },
  ])("$case: $still", ({ owner, still }) => {
    expect(stillClaims(owner, vs, http, "primary")).toBe(still);
  });
});

describe("the refusal's message", () => {
  it("names the first contested route, its VirtualService and its owner, and what to do", () => {
    expect(describeConflict(rollout("b"), vsOf(rollout("b")), ["primary", "reviews-canary-header"], "bookinfo/a")).toBe(
      "route primary of VirtualService reviews is managed by Rollout bookinfo/a: name another route in trafficRouting.istio.virtualService.routes, or remove one of the two Rollouts",
    );
  });

  it("says how to rename a contested header route", () => {
    expect(describeConflict(rollout("b"), vsOf(rollout("b")), ["reviews-canary-header"], "bookinfo/a")).toBe(
      "header route reviews-canary-header of VirtualService reviews is managed by Rollout bookinfo/a: give this Rollout's header route another name (setHeaderRoute.name)",
    );
  });
});
