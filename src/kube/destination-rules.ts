/**
 * The DestinationRules the readiness read and the Istio router need (name, host, subsets), shared
 * by both and kept a few seconds: the rule named as the service, read alone, or when there is none
 * for that host, the namespace's list (one per namespace, shared by its Rollouts). Before, each
 * Rollout's first pass listed its namespace's rules twice, so adopting N Rollouts in a namespace
 * cost N^2 rule reads. Concurrent callers share one request. Callers that found no rule or subset
 * they need ask again with `fresh` before they conclude anything (a subset just added for a new
 * version is seen at once); only what was found may be up to `ttlMs` old.
 */
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { isNotFound, kubeError } from "./errors.js";

const DR = { group: "networking.istio.io", version: "v1", plural: "destinationrules" } as const;

/** A DestinationRule as far as Tideway reads it. */
export interface RuleView {
  metadata: { name: string };
  spec: { host?: unknown; subsets?: { name?: unknown; labels?: unknown }[] };
}

/** How long a namespace's list is reused when nothing asked for is missing from it. */
export const RULE_LIST_TTL_MS = 5_000;

interface Entry {
  rules: Promise<RuleView[]>;
  at: number;
}

export class DestinationRuleLists {
  private readonly api: CustomObjectsApi;
  private readonly entries = new Map<string, Entry>();
  /** Requests made to the API server (for tests and benchmarks). */
  requests = 0;

  constructor(
    kc: KubeConfig,
    private readonly ttlMs = RULE_LIST_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  /**
   * The rules that may serve `service`: the rule named as the service, when it is for the service's
   * host (`isFor`), read alone (one small GET, cached like a list); otherwise the namespace's list.
   * With thousands of rules in a namespace the list is megabytes, and reading it every few seconds
   * per replica cost more than all else at 10,000 Rollouts (docs/performance.md). When two rules
   * name the same host, the one named as the service wins (Istio leaves that case undefined).
   */
  async forService(namespace: string, service: string, isFor: (host: unknown) => boolean, options: { fresh?: boolean } = {}): Promise<RuleView[]> {
    const [named] = await this.cached(`${namespace}/${service}`, options, () => this.fetchOne(namespace, service));
    if (named !== undefined && isFor(named.spec.host)) return [named];
    return this.list(namespace, options);
  }

  /**
   * The namespace's rules. `fresh`: a list that started after this call (joined when one is already
   * under way since then). A failed list is not kept; the raw API error is thrown.
   */
  list(namespace: string, options: { fresh?: boolean } = {}): Promise<RuleView[]> {
    return this.cached(namespace, options, () => this.fetch(namespace));
  }

  private cached(key: string, options: { fresh?: boolean }, read: () => Promise<RuleView[]>): Promise<RuleView[]> {
    const asked = this.now();
    const entry = this.entries.get(key);
    if (entry !== undefined && (options.fresh ? entry.at >= asked : asked - entry.at < this.ttlMs)) return entry.rules;
    const rules = read();
    const fresh: Entry = { rules, at: asked };
    this.entries.set(key, fresh);
    const forget = () => {
      if (this.entries.get(key) === fresh) this.entries.delete(key);
    };
    rules.catch(forget);
    // Past its TTL a list is only asked for again, never reused: dropped then, not when the next
    // list is made, else every namespace's last list stays (200 rules of 30 subsets: 0.5 MB).
    setTimeout(forget, this.ttlMs).unref();
    this.forgetOld(asked);
    return rules;
  }

  /** The rule named `name`, or none when there is no such rule. */
  private async fetchOne(namespace: string, name: string): Promise<RuleView[]> {
    this.requests++;
    try {
      return viewOf(await this.api.getNamespacedCustomObject({ ...DR, namespace, name }));
    } catch (error) {
      if (isNotFound(kubeError(error, ""))) return [];
      throw error;
    }
  }

  private async fetch(namespace: string): Promise<RuleView[]> {
    this.requests++;
    const list = (await this.api.listNamespacedCustomObject({ ...DR, namespace })) as { items?: unknown[] };
    return (list.items ?? []).flatMap(viewOf);
  }

  /** Lists older than the TTL (by `now`, which tests may move) are dropped when another is made. */
  private forgetOld(now: number): void {
    for (const [namespace, entry] of this.entries) if (now - entry.at >= this.ttlMs) this.entries.delete(namespace);
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
