/**
 * The pure part of Gateway API routing: given an HTTPRoute's `spec.rules` as the API server has
 * them and the traffic a Rollout wants, the rules to write. Each version is a Service of its own
 * (a backendRef; HTTPRoute has no subsets). Only the managed rules' backendRefs of the Rollout's
 * versions and their weights change, plus Tideway's own header rule; every other rule, field and
 * backendRef is carried over as it was. Weights are integers; the managed rule's sum to 100.
 */
import { destinationFor, versionOfDestination } from "../rollout/destination.js";
import type { HeaderMatch } from "../rollout/schema.js";
import type { Rollout } from "../rollout/model.js";
import type { HttpRouteRef } from "../rollout/routing.js";
import type { Traffic } from "../rollout/traffic.js";
import { isObject, ownedVersions, RoutingError, splitWeights, type Json, type JsonObject } from "./virtual-service.js";

/** The rules Tideway manages in `route`: those named in the Rollout, or the only one there is besides its header rule. */
export function managedRuleIndexes(rules: Json[], route: Pick<HttpRouteRef, "name" | "rules" | "where">, headerRuleName?: string): number[] {
  const names = route.rules;
  if (names === undefined) {
    const candidates = rules.flatMap((rule, index) => (isObject(rule) && rule.name === headerRuleName && headerRuleName !== undefined ? [] : [index]));
    if (candidates.length !== 1) throw new RoutingError(`HTTPRoute ${route.name} has ${candidates.length} rules; name the ones Tideway manages (rules[].name) in ${route.where}.rules`);
    return candidates;
  }
  return names.map((name) => {
    const index = rules.findIndex((rule) => isObject(rule) && rule.name === name);
    if (index < 0) {
      const known = rules.flatMap((rule) => (isObject(rule) && typeof rule.name === "string" ? [rule.name] : []));
      throw new RoutingError(`HTTPRoute ${route.name} has no rule named "${name}" (it has: ${known.join(", ") || "no named rules"})`);
    }
    return index;
  });
}

/** The version a backendRef is, when it is a Service of this Rollout's naming. */
function versionOfBackend(rollout: Rollout): (entry: Json | undefined) => string | undefined {
  const versionOf = versionOfDestination(rollout);
  return (entry) => {
    if (!isObject(entry) || typeof entry.name !== "string") return undefined;
    if (entry.kind !== undefined && entry.kind !== "Service") return undefined;
    if (entry.group !== undefined && entry.group !== "") return undefined;
    return versionOf({ host: entry.name });
  };
}

/** A backendRef's weight as Gateway API reads it: 1 when absent. */
const weightOf = (entry: Json | undefined): number => (isObject(entry) && typeof entry.weight === "number" ? entry.weight : 1);

function rewriteRule(rule: JsonObject, rollout: Rollout, route: HttpRouteRef, traffic: Traffic, formerVersions: readonly string[]): JsonObject {
  const backends = Array.isArray(rule.backendRefs) ? rule.backendRefs : [];
  const versionAt = versionOfBackend(rollout);
  const known = new Set([traffic.stableVersion, ...(traffic.canaryVersion !== undefined ? [traffic.canaryVersion] : []), ...formerVersions]);
  const owned = ownedVersions(backends, versionAt, known);
  const managed = new Map<string, JsonObject>();
  const others: Json[] = [];
  let othersBeforeFirstManaged = -1;
  let unrelatedWeight = 0;
  for (const entry of backends) {
    const version = versionAt(entry);
    if (version !== undefined && owned(version) && isObject(entry)) {
      if (!managed.has(version)) managed.set(version, entry);
      if (othersBeforeFirstManaged < 0) othersBeforeFirstManaged = others.length;
    } else {
      others.push(entry);
      unrelatedWeight += weightOf(entry);
    }
  }
  if (unrelatedWeight >= 100) throw new RoutingError(`HTTPRoute ${route.name}: other backendRefs of a managed rule already take a weight of ${unrelatedWeight} of 100`);
  const canaryVersion = traffic.canaryVersion !== traffic.stableVersion ? traffic.canaryVersion : undefined;
  const split = splitWeights(100 - unrelatedWeight, canaryVersion === undefined ? 0 : traffic.canaryWeight);
  const template = managed.get(traffic.stableVersion) ?? managed.values().next().value;
  const entryFor = (version: string, weight: number): JsonObject => {
    const own = managed.get(version);
    if (own) return { ...own, weight }; // its other fields (port, filters) stay exactly as they were
    return { ...(template ?? {}), name: destinationFor(rollout, version).host, weight };
  };
  const ours = [entryFor(traffic.stableVersion, split.stable)];
  // A canary at 0% needs no backendRef: starting and ending a release then writes nothing.
  if (canaryVersion !== undefined && split.canary > 0) ours.push(entryFor(canaryVersion, split.canary));
  const stableBefore = managed.get(traffic.stableVersion);
  if (ours.length === 1 && others.length === 0 && stableBefore && stableBefore.weight === undefined && ours[0]) delete ours[0].weight; // a lone backend needs no weight
  const at = othersBeforeFirstManaged < 0 ? 0 : othersBeforeFirstManaged;
  return { ...rule, backendRefs: [...others.slice(0, at), ...ours, ...others.slice(at)] };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Gateway API header matches: Exact, or RegularExpression (a prefix becomes one). */
function headerMatches(headers: Record<string, HeaderMatch>): JsonObject[] {
  return Object.entries(headers).map(([name, rule]): JsonObject => {
    if (rule.exact !== undefined) return { type: "Exact", name, value: rule.exact };
    if (rule.prefix !== undefined) return { type: "RegularExpression", name, value: `${escapeRegex(rule.prefix)}.*` };
    return { type: "RegularExpression", name, value: rule.regex ?? "" };
  });
}

/**
 * The HTTPRoute `spec.rules` to write for `traffic`; throws RoutingError when it cannot be routed.
 * The header rule takes the first managed rule's matches, each with the header matches added, so
 * it covers no request the managed rule does not; Gateway API prefers it (more header matches)
 * and it is placed first besides.
 */
export function routeHttpTraffic(rules: Json[], rollout: Rollout, route: HttpRouteRef, traffic: Traffic, headerRuleName: string, formerVersions: readonly string[] = []): Json[] {
  const indexes = managedRuleIndexes(rules, route, headerRuleName);
  const next = rules.map((rule, index) => (indexes.includes(index) && isObject(rule) ? rewriteRule(rule, rollout, route, traffic, formerVersions) : rule));
  const withoutHeaderRule = next.filter((rule) => !(isObject(rule) && rule.name === headerRuleName));
  if (!traffic.headerRoute || traffic.canaryVersion === undefined) return withoutHeaderRule;
  const first = Math.min(...managedRuleIndexes(withoutHeaderRule, route, headerRuleName));
  const base = withoutHeaderRule[first];
  const baseMatches = isObject(base) && Array.isArray(base.matches) && base.matches.length > 0 ? base.matches : [{}];
  const added = headerMatches(traffic.headerRoute.headers);
  const matches = baseMatches.map((match): Json => {
    const own = isObject(match) ? match : {};
    return { ...own, headers: [...(Array.isArray(own.headers) ? own.headers : []), ...added] };
  });
  const baseBackends = isObject(base) && Array.isArray(base.backendRefs) ? base.backendRefs : [];
  const versionAt = versionOfBackend(rollout);
  const template = baseBackends.find((entry) => versionAt(entry) !== undefined);
  const canary: JsonObject = { ...(isObject(template) ? template : {}), name: destinationFor(rollout, traffic.canaryVersion).host, weight: 100 };
  const headerRule: JsonObject = { name: headerRuleName, matches, backendRefs: [canary] };
  return [...withoutHeaderRule.slice(0, first), headerRule, ...withoutHeaderRule.slice(first)];
}

/** What the managed rules send where now: for verifying a write and for the first sighting. */
export function observedHttpWeights(rules: Json[], rollout: Rollout, route: HttpRouteRef, headerRuleName: string): { weights: Record<string, number>; headerRoute: boolean } {
  const versionAt = versionOfBackend(rollout);
  const weights: Record<string, number> = {};
  for (const index of managedRuleIndexes(rules, route, headerRuleName)) {
    const rule = rules[index];
    const backends = isObject(rule) && Array.isArray(rule.backendRefs) ? rule.backendRefs : [];
    const total = backends.reduce<number>((sum, entry) => sum + weightOf(entry), 0);
    for (const entry of backends) {
      const version = versionAt(entry);
      if (version === undefined) continue;
      const weight = total > 0 ? Math.round((weightOf(entry) * 100) / total) : 0;
      weights[version] = Math.max(weights[version] ?? 0, weight);
    }
  }
  return { weights, headerRoute: rules.some((rule) => isObject(rule) && rule.name === headerRuleName) };
}

/** The rules a Rollout claims on its HTTPRoute: its managed rules and its header rule. */
export function claimedRules(rules: Json[], rollout: Rollout, route: HttpRouteRef, headerRuleName: string): string[] {
  const managed = managedRuleIndexes(rules, route, headerRuleName).map((index) => {
    const rule = rules[index];
    return isObject(rule) && typeof rule.name === "string" ? rule.name : "(unnamed)";
  });
  return [...new Set([...managed, headerRuleName])];
}
