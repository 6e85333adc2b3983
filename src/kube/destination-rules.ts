/**
 * The DestinationRules of a namespace, as the readiness read and the Istio router need them (name,
 * host, subsets), listed once per namespace for a short while and shared by every Rollout there.
 * Without it each Rollout's first pass listed its namespace's rules twice, so adopting N Rollouts
 * in one namespace cost N^2 rule reads. Concurrent callers share one request. Callers that found
 * no rule or subset they need ask again with `fresh` before they conclude anything (a subset just
 * added for a new version is seen at once); only what was found may be up to `ttlMs` old.
 */
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";

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
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  /**
   * The namespace's rules. `fresh`: a list that started after this call (joined when one is already
   * under way since then). A failed list is not kept; the raw API error is thrown.
   */
  list(namespace: string, options: { fresh?: boolean } = {}): Promise<RuleView[]> {
    const asked = Date.now();
    const entry = this.entries.get(namespace);
    if (entry !== undefined && (options.fresh ? entry.at >= asked : asked - entry.at < this.ttlMs)) return entry.rules;
    const rules = this.fetch(namespace);
    const fresh: Entry = { rules, at: asked };
    this.entries.set(namespace, fresh);
    const forget = () => {
      if (this.entries.get(namespace) === fresh) this.entries.delete(namespace);
    };
    rules.catch(forget);
    // Past its TTL a list is only asked for again, never reused: dropped then, else every
    // namespace's last list stays (200 rules of 30 subsets: 0.5 MB).
    setTimeout(forget, this.ttlMs).unref();
    return rules;
  }

  private async fetch(namespace: string): Promise<RuleView[]> {
    this.requests++;
    const list = (await this.api.listNamespacedCustomObject({ ...DR, namespace })) as { items?: unknown[] };
    return (list.items ?? []).flatMap((item) => {
      const rule = item as { metadata?: { name?: unknown }; spec?: { host?: unknown; subsets?: unknown } };
      if (typeof rule.metadata?.name !== "string" || typeof rule.spec !== "object" || rule.spec === null) return [];
      const subsets = Array.isArray(rule.spec.subsets)
        ? rule.spec.subsets.flatMap((s: unknown) => (typeof s === "object" && s !== null ? [{ name: (s as { name?: unknown }).name, labels: (s as { labels?: unknown }).labels }] : []))
        : undefined;
      return [{ metadata: { name: rule.metadata.name }, spec: { host: rule.spec.host, ...(subsets ? { subsets } : {}) } }];
    });
  }
}
