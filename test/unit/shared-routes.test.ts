import { describe, expect, it } from "vitest";
import { parseRolloutFiles } from "../../src/rollout/parse.js";
import { formatProblem } from "../../src/rollout/problem.js";

/** A Rollout file; `routes` and `header` (a setHeaderRoute step's name) only when given. The virtualService field is on line 10. */
function file(name: string, options: { vs?: string; routes?: string[]; namespace?: string; header?: string; service?: string } = {}): string {
  return [
    "apiVersion: tideway.io/v1alpha1",
    "kind: Rollout",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${options.namespace ?? "bookinfo"}`,
    "spec:",
    `  service: ${options.service ?? "reviews"}`,
    "  version: v2",
    "  trafficRouting:",
    `    istio: { virtualService: { name: ${options.vs ?? "reviews"}${options.routes ? `, routes: [${options.routes.join(", ")}]` : ""} } }`,
    "  steps:",
    "    - setWeight: 10",
    ...(options.header ? [`    - setHeaderRoute: { name: ${options.header}, headers: { x-beta: { exact: "1" } } }`] : []),
    "",
  ].join("\n");
}

const check = (files: Record<string, string>) => {
  const result = parseRolloutFiles(Object.entries(files).map(([path, text]) => ({ path, text })));
  return { problems: result.problems.map(formatProblem), kept: result.rollouts.map((r) => r.rollout.name), raw: result.problems };
};

describe("two Rollouts of one repository naming the same VirtualService route", () => {
  it.each<{ case: string; a: Parameters<typeof file>[1]; b: Parameters<typeof file>[1]; problem: string }>([
    {
      case: "the same route listed by both",
      a: { routes: ["primary"] },
      b: { routes: ["mobile", "primary"] },
      problem:
        "b.yaml:10:30: spec.trafficRouting.istio.virtualService: route primary of VirtualService reviews is already managed by Rollout bookinfo/a (a.yaml:10): two Rollouts cannot manage one route",
    },
    {
      case: "no routes listed by either (the VirtualService's only route)",
      a: {},
      b: {},
      problem:
        "b.yaml:10:30: spec.trafficRouting.istio.virtualService: VirtualService reviews is already managed by Rollout bookinfo/a (a.yaml:10), and a Rollout that lists no routes may manage any of its routes: list distinct routes in both",
    },
    {
      case: "no routes listed by one",
      a: { routes: ["primary"] },
      b: {},
      problem:
        "b.yaml:10:30: spec.trafficRouting.istio.virtualService: VirtualService reviews is already managed by Rollout bookinfo/a (a.yaml:10), and a Rollout that lists no routes may manage any of its routes: list distinct routes in both",
    },
    {
      case: "distinct routes but one header route name (the same service)",
      a: { routes: ["primary"] },
      b: { routes: ["mobile"] },
      problem:
        "b.yaml:10:30: spec.trafficRouting.istio.virtualService: header route reviews-canary-header of VirtualService reviews is already managed by Rollout bookinfo/a (a.yaml:10): give one of them another header route name (setHeaderRoute.name)",
    },
  ])("refuses the later one for $case, at its virtualService field, naming the first", ({ a, b, problem }) => {
    const { problems, kept, raw } = check({ "a.yaml": file("a", a), "b.yaml": file("b", b) });
    expect(problems).toEqual([problem]);
    expect(kept).toEqual(["a"]);
    expect(raw[0]?.rollout).toEqual({ name: "b", namespace: "bookinfo" });
  });

  it.each<{ case: string; a: Parameters<typeof file>[1]; b: Parameters<typeof file>[1] }>([
    { case: "distinct routes and header route names", a: { routes: ["primary"] }, b: { routes: ["mobile"], header: "mobile-beta" } },
    { case: "distinct routes of two services", a: { routes: ["primary"] }, b: { routes: ["mobile"], service: "ratings" } },
    { case: "different VirtualServices", a: {}, b: { vs: "ratings" } },
    { case: "the same VirtualService name in different namespaces", a: {}, b: { namespace: "shop" } },
  ])("accepts both with $case", ({ a, b }) => {
    expect(check({ "a.yaml": file("a", a), "b.yaml": file("b", b) })).toMatchObject({ problems: [], kept: ["a", "b"] });
  });

  it("compares a third only with the Rollouts kept, and reports each refused one", () => {
    const { problems, kept } = check({ "a.yaml": file("a", { routes: ["primary"] }), "b.yaml": file("b", { routes: ["primary"] }), "c.yaml": file("c", { routes: ["primary"] }) });
    expect(kept).toEqual(["a"]);
    expect(problems.map((p) => p.split(":")[0])).toEqual(["b.yaml", "c.yaml"]);
  });

  it("reports a duplicate name as a duplicate, not as a shared route", () => {
    expect(check({ "a.yaml": file("a"), "b.yaml": file("a") }).problems).toEqual(['b.yaml:4:9: metadata.name: Rollout "a" in namespace "bookinfo" is already defined at a.yaml:4']);
  });
});

/** A Rollout of reviews listing several VirtualServices, one per line from line 11 (`virtualServices[i]`). */
function listing(name: string, vses: string[]): string {
  return [
    "apiVersion: tideway.io/v1alpha1",
    "kind: Rollout",
    "metadata:",
    `  name: ${name}`,
    "  namespace: bookinfo",
    "spec:",
    "  service: reviews",
    "  version: v2",
    "  trafficRouting:",
    "    istio:",
    "      virtualServices:",
    ...vses.map((vs) => `        - ${vs}`),
    "  steps:",
    "    - setWeight: 10",
    "",
  ].join("\n");
}

describe("Rollouts listing several VirtualServices", () => {
  it("refuses the later one at the list entry it shares with an earlier Rollout, however the namespace is written", () => {
    const { problems, kept } = check({
      "a.yaml": listing("a", ["{ name: reviews, routes: [primary] }", "{ name: gateway, namespace: edge, routes: [reviews] }"]),
      "b.yaml": listing("b", ["{ name: ratings }", "{ name: gateway, namespace: edge, routes: [reviews, ratings] }"]),
    });
    expect(kept).toEqual(["a"]);
    expect(problems).toEqual([
      "b.yaml:13:11: spec.trafficRouting.istio.virtualServices[1]: route reviews of VirtualService edge/gateway is already managed by Rollout bookinfo/a (a.yaml:13): two Rollouts cannot manage one route",
    ]);
  });

  it("matches a single virtualService in the Rollout's namespace with a list entry naming that namespace", () => {
    const { problems } = check({ "a.yaml": file("a", { routes: ["primary"] }), "b.yaml": listing("b", ["{ name: ratings }", "{ name: reviews, namespace: bookinfo, routes: [primary] }"]) });
    expect(problems).toEqual([
      "b.yaml:13:11: spec.trafficRouting.istio.virtualServices[1]: route primary of VirtualService reviews is already managed by Rollout bookinfo/a (a.yaml:10): two Rollouts cannot manage one route",
    ]);
  });

  it("accepts distinct routes of a VirtualService two Rollouts list", () => {
    const a = listing("a", ["{ name: reviews, routes: [primary] }", "{ name: gateway, namespace: edge, routes: [reviews] }"]);
    const b = listing("b", ["{ name: reviews, routes: [mobile] }", "{ name: gateway, namespace: edge, routes: [mobile] }"]).replace(
      "    - setWeight: 10",
      '    - setHeaderRoute: { name: mobile-beta, headers: { x-beta: { exact: "1" } } }',
    );
    expect(check({ "a.yaml": a, "b.yaml": b })).toMatchObject({ problems: [], kept: ["a", "b"] });
  });
});
