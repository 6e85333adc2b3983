import { describe, expect, it } from "vitest";
import { destinationFor, destinationRuleOf, destinationServiceName, namesService, versionOfDestination } from "../../src/rollout/destination.js";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema, type RolloutSpecInput } from "../../src/rollout/schema.js";

function rollout(istio: Partial<NonNullable<RolloutSpecInput["trafficRouting"]["istio"]>> = {}): Rollout {
  const spec = RolloutSpecSchema.parse({ service: "reviews", version: "v2", trafficRouting: { istio: { virtualService: { name: "reviews" }, ...istio } }, steps: [{ setWeight: 10 }] });
  return { name: "reviews", namespace: "bookinfo", spec };
}

describe("a version's destination", () => {
  it.each([
    ["the subset named after the version, by default", {}, { host: "reviews", subset: "v2" }, "reviews"],
    ["the subset its template names", { subset: "{{ service }}-{{ version }}" }, { host: "reviews", subset: "reviews-v2" }, "reviews"],
    ["the Service its host template names", { host: "reviews-{{ version }}" }, { host: "reviews-v2" }, "reviews-v2"],
    [
      "a fully qualified host, whose telemetry names the short Service",
      { host: "reviews-{{ version }}.{{ namespace }}.svc.cluster.local" },
      { host: "reviews-v2.bookinfo.svc.cluster.local" },
      "reviews-v2",
    ],
  ])("is %s", (_, istio, destination, service) => {
    const r = rollout(istio);
    expect(destinationFor(r, "v2")).toEqual(destination);
    expect(destinationServiceName(r, "v2")).toBe(service);
  });

  it.each([
    ["subset", {}],
    ["subset template", { subset: "{{ service }}-{{ version }}" }],
    ["host", { host: "reviews-{{ version }}" }],
    ["qualified host", { host: "reviews-{{ version }}.{{ namespace }}.svc.cluster.local" }],
  ])("is read back as its version (%s)", (_, istio) => {
    const r = rollout(istio);
    for (const version of ["v1", "v2", "2024-01-01.3"]) expect(versionOfDestination(r)(destinationFor(r, version))).toBe(version);
  });

  it("is told apart from other services' destinations", () => {
    expect(versionOfDestination(rollout())({ host: "ratings", subset: "v2" })).toBeUndefined();
    expect(versionOfDestination(rollout())({ host: "reviews" })).toBeUndefined();
    expect(versionOfDestination(rollout({ host: "reviews-{{ version }}" }))({ host: "ratings-v2" })).toBeUndefined();
    expect(namesService(rollout(), "reviews.bookinfo.svc.cluster.local")).toBe(true);
    expect(namesService(rollout(), "reviews-v2")).toBe(false);
  });
});

describe("the DestinationRule of the service", () => {
  const rule = (name: string, host: string) => ({ metadata: { name }, spec: { host, subsets: [] } });

  it("is the one named as the service among those for its host, else the first for its host", () => {
    const named = rule("reviews", "reviews.bookinfo.svc.cluster.local");
    expect(destinationRuleOf(rollout(), [rule("a-reviews", "reviews"), named, rule("z-reviews", "reviews")])?.metadata).toEqual(named.metadata);
    expect(destinationRuleOf(rollout(), [rule("ratings", "ratings"), rule("b-reviews", "reviews"), rule("c-reviews", "reviews")])?.metadata).toEqual({ name: "b-reviews" });
    // A rule named as the service but for another host is not the service's.
    expect(destinationRuleOf(rollout(), [rule("reviews", "ratings"), rule("reviews-rule", "reviews")])?.metadata).toEqual({ name: "reviews-rule" });
    expect(destinationRuleOf(rollout(), [rule("reviews", "ratings")])).toBeUndefined();
  });
});
