/**
 * The DestinationRules the readiness read and the Istio router need (name, host, subsets), shared
 * by both and kept a few seconds. A Rollout's rule is read alone, by name: the rule named as its
 * service (the convention of the examples and `kubectl create`), one small GET. Only when there is
 * no rule of that name, or the one of that name is not for the service's host, is the namespace
 * listed (one list per namespace, shared by its Rollouts). At 10,000 Rollouts (1,000 rules of 30
 * subsets per namespace) the list, read every few seconds per namespace and replica, was
 * megabytes of JSON and cost more CPU and heap than all else (docs/performance.md); before the
 * shared list, each Rollout's first pass listed its namespace's rules twice (N^2 per namespace).
 * Concurrent callers share one request. Callers that found no rule or subset they need ask again
 * with `fresh` before they conclude anything (a subset just added for a new version is seen at
 * once); only what was found may be up to `ttlMs` old.
 */
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { namesService } from "../rollout/destination.js";
import type { Rollout } from "../rollout/model.js";
import { isNotFound, kubeError } from "./errors.js";

const DR = { group: "networking.istio.io", version: "v1", plural: "destinationrules" } as const;

/** A DestinationRule as far as Tideway reads it. */
export interface RuleView {
  metadata: { name: string };
  spec: { host?: unknown; subsets?: { name?: unknown; labels?: unknown }[] };
}

/** How long a rule or a namespace's list is reused when nothing asked for is missing from it. */
export const RULE_LIST_TTL_MS = 5_000;

interface Entry<T> {
  value: Promise<T>;
  at: number;
}

export class DestinationRuleLists {
  private readonly api: CustomObjectsApi;
  /** namespace -> its list. */
  private readonly lists = new Map<string, Entry<RuleView[]>>();
  /** "namespace/name" -> that rule, or undefined when there is none. */
  private readonly rules = new Map<string, Entry<RuleView | undefined>>();
  /** Requests made to the API server (for tests and benchmarks): `gets` + `listRequests`. */
  requests = 0;
  /** GETs of one rule by name. */
  gets = 0;
  /** Lists of a namespace's rules. */
  listRequests = 0;

  constructor(
    kc: KubeConfig,
    private readonly ttlMs = RULE_LIST_TTL_MS,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  /**
   * The rules that may serve the Rollout's service: the rule named as the service, alone, when its
   * host names the service; otherwise (no rule of that name, or one for another host) the
   * namespace's list. `fresh` applies to both reads: a GET, and a list when it comes to that,
   * started after this call. When two rules name the service's host, the one named as the service
   * is taken (`destinationRuleOf` prefers it too). The raw API error of a failed read is thrown;
   * a GET's 404 only means "look in the list".
   */
  async forService(rollout: Rollout, options: { fresh?: boolean } = {}): Promise<RuleView[]> {
    const { namespace } = rollout;
    const name = rollout.spec.service;
    const named = await this.cached(this.rules, `${namespace}/${name}`, options, () => this.fetchOne(namespace, name));
    if (named !== undefined && typeof named.spec.host === "string" && namesService(rollout, named.spec.host)) return [named];
    return this.list(namespace, options);
  }

  /**
   * The namespace's rules. `fresh`: a list that started after this call (joined when one is already
   * under way since then). A failed list is not kept; the raw API error is thrown.
   */
  list(namespace: string, options: { fresh?: boolean } = {}): Promise<RuleView[]> {
    return this.cached(this.lists, namespace, options, () => this.fetch(namespace));
  }

  private cached<T>(entries: Map<string, Entry<T>>, key: string, options: { fresh?: boolean }, read: () => Promise<T>): Promise<T> {
    const asked = Date.now();
    const entry = entries.get(key);
    if (entry !== undefined && (options.fresh ? entry.at >= asked : asked - entry.at < this.ttlMs)) return entry.value;
    const value = read();
    const fresh: Entry<T> = { value, at: asked };
    entries.set(key, fresh);
    const forget = () => {
      if (entries.get(key) === fresh) entries.delete(key);
    };
    value.catch(forget);
    // Past its TTL an entry is only asked for again, never reused: dropped then, else every
    // namespace's last list stays (200 rules of 30 subsets: 0.5 MB).
    setTimeout(forget, this.ttlMs).unref();
    return value;
  }

  /** The rule named `name`, or undefined when there is no such rule (or no DestinationRule kind). */
  private async fetchOne(namespace: string, name: string): Promise<RuleView | undefined> {
    this.requests++;
    this.gets++;
    let rule: unknown;
    try {
      rule = await this.api.getNamespacedCustomObject({ ...DR, namespace, name });
    } catch (error) {
      if (isNotFound(kubeError(error, ""))) return undefined;
      throw error;
    }
    return viewOf(rule)[0];
  }

  private async fetch(namespace: string): Promise<RuleView[]> {
    this.requests++;
    this.listRequests++;
    const list = (await this.api.listNamespacedCustomObject({ ...DR, namespace })) as { items?: unknown[] };
    return (list.items ?? []).flatMap(viewOf);
  }
}

/** What Tideway reads of a DestinationRule, or nothing when it is not one. */
function viewOf(item: unknown): RuleView[] {
  const rule = item as { metadata?: { name?: unknown }; spec?: { host?: unknown; subsets?: unknown } };
  if (typeof rule.metadata?.name !== "string" || typeof rule.spec !== "object" || rule.spec === null) return [];
  const subsets = Array.isArray(rule.spec.subsets)
    ? rule.spec.subsets.flatMap((s: unknown) => (typeof s === "object" && s !== null ? [{ name: (s as { name?: unknown }).name, labels: (s as { labels?: unknown }).labels }] : []))
    : undefined;
  return [{ metadata: { name: rule.metadata.name }, spec: { host: rule.spec.host, ...(subsets ? { subsets } : {}) } }];
}
