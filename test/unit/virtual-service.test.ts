import { describe, expect, it } from "vitest";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema, type RolloutSpecInput } from "../../src/rollout/schema.js";
import { virtualServicesOf, type VirtualServiceRef } from "../../src/rollout/routing.js";
import { observedWeights, routeTraffic, type Json } from "../../src/traffic/virtual-service.js";

function rollout(istio: Partial<NonNullable<RolloutSpecInput["trafficRouting"]["istio"]>> = {}): Rollout {
  const spec = RolloutSpecSchema.parse({
    service: "reviews",
    version: "v2",
    trafficRouting: { istio: { virtualService: { name: "reviews" }, ...istio } },
    steps: [{ setWeight: 10 }],
  });
  return { name: "reviews", namespace: "bookinfo", spec };
}

/** The Rollout's only VirtualService. */
function vsOf(r: Rollout): VirtualServiceRef {
  const [vs] = virtualServicesOf(r);
  if (vs === undefined) throw new Error("no VirtualService");
  return vs;
}

const dest = (subset: string, weight?: number, host = "reviews") => ({ destination: { host, subset }, ...(weight === undefined ? {} : { weight }) });
const HEADER = "reviews-canary-header";

describe("routing a single-route VirtualService", () => {
  const http: Json[] = [{ name: "primary", route: [dest("v1")] }];

  it.each([
    [{ stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10 }, [dest("v1", 90), dest("v2", 10)]],
    [{ stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0 }, [dest("v1")]],
    [{ stableVersion: "v1", canaryVersion: "v2", canaryWeight: 100 }, [dest("v1", 0), dest("v2", 100)]],
    [{ stableVersion: "v1", canaryWeight: 0 }, [dest("v1")]],
    [{ stableVersion: "v2", canaryWeight: 0 }, [dest("v2", 100)]],
  ])("routes %j", (traffic, route) => {
    expect(routeTraffic(http, rollout(), vsOf(rollout()), traffic, HEADER)).toEqual([{ name: "primary", route }]);
  });

  it("drops the old version's destination after promotion", () => {
    const during: Json[] = [{ name: "primary", route: [dest("v1", 50), dest("v2", 50)] }];
    expect(routeTraffic(during, rollout(), vsOf(rollout()), { stableVersion: "v2", canaryWeight: 0 }, HEADER, ["v1", "v2"])).toEqual([{ name: "primary", route: [dest("v2", 100)] }]);
  });

  it("keeps someone else's subset of the same service, and its weight, through a release and after it", () => {
    const shared: Json[] = [{ name: "primary", route: [dest("v1", 90), dest("shadow-experiment", 10)] }];
    const during = routeTraffic(shared, rollout(), vsOf(rollout()), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 20 }, HEADER, ["v1"]);
    expect(during).toEqual([{ name: "primary", route: [dest("v1", 72), dest("v2", 18), dest("shadow-experiment", 10)] }]);
    const after = routeTraffic(during, rollout(), vsOf(rollout()), { stableVersion: "v2", canaryWeight: 0 }, HEADER, ["v1", "v2"]);
    expect(after).toEqual([{ name: "primary", route: [dest("v2", 90), dest("shadow-experiment", 10)] }]);
    const idle = routeTraffic(shared, rollout(), vsOf(rollout()), { stableVersion: "v1", canaryWeight: 0 }, HEADER, ["v1"]);
    expect(idle).toEqual(shared);
  });

  it("removes a leftover destination of a version it released before (a superseded canary)", () => {
    const leftover: Json[] = [{ name: "primary", route: [dest("v1", 70), dest("v2", 30)] }];
    expect(routeTraffic(leftover, rollout(), vsOf(rollout()), { stableVersion: "v1", canaryVersion: "v3", canaryWeight: 0 }, HEADER, ["v1", "v2"])).toEqual([
      { name: "primary", route: [dest("v1", 100)] },
    ]);
  });

  it("takes the route over on first sighting, when none of its versions is there yet", () => {
    const before: Json[] = [{ name: "primary", route: [dest("v0")] }];
    expect(routeTraffic(before, rollout(), vsOf(rollout()), { stableVersion: "v1", canaryWeight: 0 }, HEADER)).toEqual([{ name: "primary", route: [dest("v1", 100)] }]);
  });

  it("keeps the fields of a managed destination other than its weight", () => {
    const rich: Json[] = [
      { name: "primary", route: [{ destination: { host: "reviews.bookinfo.svc.cluster.local", subset: "v1", port: { number: 9080 } }, headers: { request: { set: { x: "1" } } } }] },
    ];
    expect(routeTraffic(rich, rollout(), vsOf(rollout()), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 30 }, HEADER)).toEqual([
      {
        name: "primary",
        route: [
          { destination: { host: "reviews.bookinfo.svc.cluster.local", subset: "v1", port: { number: 9080 } }, headers: { request: { set: { x: "1" } } }, weight: 70 },
          { destination: { host: "reviews.bookinfo.svc.cluster.local", subset: "v2", port: { number: 9080 } }, headers: { request: { set: { x: "1" } } }, weight: 30 },
        ],
      },
    ]);
  });
});

describe("routing a VirtualService that others share", () => {
  const http: Json[] = [
    { name: "admin", match: [{ uri: { prefix: "/admin" } }], route: [{ destination: { host: "admin" } }], timeout: "3s" },
    { name: "primary", retries: { attempts: 3 }, route: [dest("v1", 80), { destination: { host: "legacy-reviews" }, weight: 20 }] },
    { name: "mirror", route: [{ destination: { host: "ratings" } }], mirror: { host: "ratings-shadow" } },
  ];
  const managed = rollout({ virtualService: { name: "reviews", routes: ["primary"] } });

  it("changes only the managed route's own destinations, sharing what other destinations leave", () => {
    const next = routeTraffic(http, managed, vsOf(managed), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 50 }, HEADER);
    expect(next[0]).toBe(http[0]);
    expect(next[2]).toBe(http[2]);
    expect(next[1]).toEqual({ name: "primary", retries: { attempts: 3 }, route: [dest("v1", 40), dest("v2", 40), { destination: { host: "legacy-reviews" }, weight: 20 }] });
  });

  it("inserts the header route before the managed route and removes it again", () => {
    const headerRoute = { name: HEADER, headers: { "x-canary": { exact: "true" } } };
    const withHeader = routeTraffic(http, managed, vsOf(managed), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10, headerRoute }, HEADER);
    expect(withHeader.map((r) => (r as { name: string }).name)).toEqual(["admin", HEADER, "primary", "mirror"]);
    expect(withHeader[1]).toEqual({ name: HEADER, match: [{ headers: { "x-canary": { exact: "true" } } }], route: [{ destination: { host: "reviews", subset: "v2" }, weight: 100 }] });
    const without = routeTraffic(withHeader, managed, vsOf(managed), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10 }, HEADER);
    expect(without.map((r) => (r as { name: string }).name)).toEqual(["admin", "primary", "mirror"]);
  });

  it("refuses to guess which of several routes to manage", () => {
    expect(() => routeTraffic(http, rollout(), vsOf(rollout()), { stableVersion: "v1", canaryWeight: 0 }, HEADER)).toThrow(
      "VirtualService reviews has 3 http routes; name the ones Tideway manages in trafficRouting.istio.virtualService.routes",
    );
  });

  it("names the routes there are when a managed route is missing", () => {
    expect(() =>
      routeTraffic(
        http,
        rollout({ virtualService: { name: "reviews", routes: ["main"] } }),
        vsOf(rollout({ virtualService: { name: "reviews", routes: ["main"] } })),
        { stableVersion: "v1", canaryWeight: 0 },
        HEADER,
      ),
    ).toThrow('VirtualService reviews has no http route named "main" (it has: admin, primary, mirror)');
  });

  it("reports the weights the managed routes give each version", () => {
    expect(observedWeights(http, managed, vsOf(managed), HEADER)).toEqual({ weights: { v1: 80 }, headerRoute: false });
  });
});

describe("host-per-version routing", () => {
  const byHost = rollout({ host: "reviews-{{ version }}" });

  it("routes to one host per version", () => {
    const http: Json[] = [{ route: [{ destination: { host: "reviews-v1" } }] }];
    expect(routeTraffic(http, byHost, vsOf(byHost), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 25 }, HEADER)).toEqual([
      {
        route: [
          { destination: { host: "reviews-v1" }, weight: 75 },
          { destination: { host: "reviews-v2" }, weight: 25 },
        ],
      },
    ]);
  });
});

describe("weights", () => {
  it.each([0, 1, 33, 50, 67, 99, 100])("are integers summing to 100 at canary weight %d with a 15%% unrelated destination", (w) => {
    const http: Json[] = [{ route: [dest("v1", 85), { destination: { host: "other" }, weight: 15 }] }];
    const [route] = routeTraffic(http, rollout(), vsOf(rollout()), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: w }, HEADER) as { route: { weight: number }[] }[];
    const weights = route!.route.map((r) => r.weight);
    expect(weights.every((x) => Number.isInteger(x) && x >= 0)).toBe(true);
    expect(weights.reduce((a, b) => a + b, 0)).toBe(100);
  });
});

describe("mirroring a VirtualService route", () => {
  const http: Json[] = [{ name: "primary", route: [dest("v1")] }];
  const r = rollout();
  const on = { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0, mirror: { percentage: 20 } };

  it("sets mirror and mirrorPercentage on the managed route, and removes them when the mirror ends", () => {
    const mirrored = routeTraffic(http, r, vsOf(r), on, HEADER, ["v1"]);
    expect(mirrored).toEqual([{ name: "primary", route: [dest("v1")], mirror: { host: "reviews", subset: "v2" }, mirrorPercentage: { value: 20 } }]);
    expect(observedWeights(mirrored, r, vsOf(r), HEADER)).toEqual({ weights: { v1: 100 }, headerRoute: false, mirrors: { v2: 20 } });
    expect(routeTraffic(mirrored, r, vsOf(r), { stableVersion: "v1", canaryWeight: 0 }, HEADER, ["v1", "v2"])).toEqual(http);
  });

  it("leaves someone else's mirror alone, and refuses to mirror over it", () => {
    const theirs: Json[] = [{ name: "primary", route: [dest("v1")], mirror: { host: "ratings-shadow" } }];
    expect(routeTraffic(theirs, r, vsOf(r), { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10 }, HEADER, ["v1"])).toEqual([
      { name: "primary", route: [dest("v1", 90), dest("v2", 10)], mirror: { host: "ratings-shadow" } },
    ]);
    expect(() => routeTraffic(theirs, r, vsOf(r), on, HEADER, ["v1"])).toThrow('VirtualService reviews: route primary already mirrors to {"host":"ratings-shadow"}; Tideway cannot mirror it as well');
  });

  it("mirrors only matching requests through a route of its own before the managed one, answered by the managed route's destinations", () => {
    const matching = { ...on, canaryWeight: 10, mirror: { percentage: 50, headers: { "x-shadow": { exact: "1" } } } };
    const next = routeTraffic(http, r, vsOf(r), matching, HEADER, ["v1"]);
    expect(next).toEqual([
      {
        name: "reviews-canary-mirror",
        match: [{ headers: { "x-shadow": { exact: "1" } } }],
        route: [dest("v1", 90), dest("v2", 10)],
        mirror: { host: "reviews", subset: "v2" },
        mirrorPercentage: { value: 50 },
      },
      { name: "primary", route: [dest("v1", 90), dest("v2", 10)] },
    ]);
    expect(routeTraffic(next, r, vsOf(r), { stableVersion: "v2", canaryWeight: 0 }, HEADER, ["v1", "v2"])).toEqual([{ name: "primary", route: [dest("v2", 100)] }]);
  });
});
