/**
 * What every chaos case checks, whatever it broke: the VirtualService's weights are integers
 * summing to 100 at every observed moment; the Rollout's status moves through each expected
 * position once, in order (none lost, none doubled), seen through a watch, so every write counts;
 * and Slack and the Events tell each step once.
 */
import { CoreV1Api, Watch, type KubeConfig } from "@kubernetes/client-node";
import { expect } from "vitest";
import { GROUP, PLURAL, VERSION } from "../../src/kube/rollouts.js";
import { RolloutStatusSchema, type RolloutStatus } from "../../src/rollout/status.js";
import { waitUntil, type SlackReceiver } from "../env/index.js";
import type { ControllerProcess } from "../env/controller-process.js";
import type { World } from "../integration/release-harness.js";

/** Where a Rollout stands, as one string: "#2 v3 step 1" during release 2, "Healthy v3 #2" after it. */
export function position(status: RolloutStatus): string {
  return status.release ? `#${status.release.id} ${status.release.version} step ${status.release.stepIndex}` : `${status.phase} ${status.stableVersion ?? "-"} #${status.releaseCount}`;
}

export interface Invariants {
  /** Every distinct status written, in order, as positions (consecutive repeats folded). */
  positions(): string[];
  /** Weight observations, and the ones that were not integers summing to 100. */
  weights(): { observations: number; bad: Record<string, number>[] };
  stop(): Promise<void>;
}

/**
 * Watches the Rollout's status (re-watching from the last resourceVersion when the watch ends, so
 * an API server restart loses nothing etcd kept) and samples the weights every `sampleMs`.
 */
export function watchInvariants(world: World, kc: KubeConfig, options: { name?: string; sampleMs?: number } = {}): Invariants {
  const name = options.name ?? "reviews";
  const seen: string[] = [];
  const bad: Record<string, number>[] = [];
  let observations = 0;
  let stopped = false;
  let resourceVersion: string | undefined;
  let abort: { abort(): void } | undefined;
  const watch = new Watch(kc);
  const start = async (): Promise<void> => {
    if (stopped) return;
    const again = () => void setTimeout(() => void start(), 200);
    try {
      abort = await watch.watch(
        `/apis/${GROUP}/${VERSION}/namespaces/${world.namespace}/${PLURAL}`,
        { fieldSelector: `metadata.name=${name}`, ...(resourceVersion ? { resourceVersion } : {}) },
        (phase: string, object: { metadata?: { resourceVersion?: string }; status?: unknown }) => {
          if (phase === "ERROR") resourceVersion = undefined;
          if (phase !== "ADDED" && phase !== "MODIFIED") return;
          resourceVersion = object.metadata?.resourceVersion;
          const parsed = RolloutStatusSchema.safeParse(object.status);
          if (!parsed.success) return;
          const at = position(parsed.data);
          if (seen.at(-1) !== at) seen.push(at);
        },
        again,
      );
    } catch {
      again();
    }
  };
  void start();
  const sampler = (async () => {
    while (!stopped) {
      const weights = await world.weights().catch(() => undefined);
      if (weights) {
        observations += 1;
        const values = Object.values(weights);
        if (values.some((w) => !Number.isInteger(w)) || values.reduce((a, b) => a + b, 0) !== 100) bad.push(weights);
      }
      await new Promise((resolve) => setTimeout(resolve, options.sampleMs ?? 100));
    }
  })();
  return {
    positions: () => [...seen],
    weights: () => ({ observations, bad: [...bad] }),
    async stop() {
      stopped = true;
      abort?.abort();
      await sampler;
    },
  };
}

/**
 * The positions release `id` of `version` goes through: every one of its `steps` when promoted;
 * when rolled back, its first step (it may fail at any later one) and the rollback to `stable`.
 */
export function releasePositions(id: number, version: string, steps: number, outcome: { promoted: true } | { rolledBackTo: string }): string[] {
  const walked = Array.from({ length: "promoted" in outcome ? steps : 1 }, (_, i) => `#${id} ${version} step ${i}`);
  return [...walked, "promoted" in outcome ? `Healthy ${version} #${id}` : `RolledBack ${outcome.rolledBackTo} #${id}`];
}

/** Each position once, in the expected order: a lost write or a repeated step fails here with both lists shown. */
export function expectPositions(observed: string[], expected: string[]): void {
  const repeated = observed.filter((p, i) => observed.indexOf(p) !== i);
  expect(repeated, `positions seen twice in ${JSON.stringify(observed)}`).toEqual([]);
  expect(observed.filter((p) => expected.includes(p))).toEqual(expected);
}

/** Slack's texts once one starting with `last` has arrived, after giving a stray duplicate time to arrive too. */
export async function slackTexts(slack: SlackReceiver, last: string, timeoutMs = 20_000): Promise<string[]> {
  const texts = () => slack.delivered().map((p) => String((p.body as { text?: unknown }).text ?? ""));
  await waitUntil(`"${last}..." in Slack`, async () => texts().some((t) => t.startsWith(last)), { timeoutMs });
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  return texts();
}

/**
 * Slack's incoming webhooks take no idempotency key, so a notification job whose replica is
 * SIGKILLed while its post is in flight (Slack has the message, the replica never heard back) is run
 * again by the other replica once the lock lapses (at-least-once, docs/operations.md). Each post
 * names its event in an Idempotency-Key header: a second copy of the same key, with a kill between
 * the first copy's sending (up to `windowMs` before it arrived, a loaded machine reads slowly) and
 * the second's arrival, is such a redelivery. They are taken out (and returned, to be printed); any
 * other repeat (two events of the same text, or a copy without a kill) stays in and fails
 * expectAnnouncedOnce.
 */
export function withoutRedeliveries(slack: SlackReceiver, kills: readonly number[], windowMs = 5_000): { texts: string[]; redelivered: string[] } {
  const firstAt = new Map<string, number>();
  const texts: string[] = [];
  const redelivered: string[] = [];
  for (const post of slack.delivered()) {
    const text = String((post.body as { text?: unknown }).text ?? "");
    const key = post.headers["idempotency-key"];
    const first = typeof key === "string" ? firstAt.get(key) : undefined;
    if (typeof key === "string" && first === undefined) firstAt.set(key, post.receivedAt);
    if (first !== undefined && kills.some((k) => k >= first - windowMs && k <= post.receivedAt)) {
      redelivered.push(text);
      continue;
    }
    texts.push(text);
  }
  return { texts, redelivered };
}

/**
 * What happened around Slack, in time order, for a failure message: each post received (with its
 * text), each kill, and each replica's notification log lines (event id, attempt), so a repeated
 * text shows whether it was one event sent twice (its job run again) or two events.
 */
export function deliveryTrace(slack: SlackReceiver, kills: readonly number[], processes: readonly ControllerProcess[]): string {
  const rows: [number, string][] = [
    ...slack
      .delivered()
      .map((p): [number, string] => [p.receivedAt, `slack received ${String(p.headers["idempotency-key"])} ${JSON.stringify(String((p.body as { text?: unknown }).text ?? "").slice(0, 60))}`]),
    ...kills.map((k): [number, string] => [k, "kill"]),
    ...processes.flatMap((proc) =>
      proc
        .logs()
        .filter((l) => /notification|stalled|lock|step|started/i.test(l.msg))
        .map((l): [number, string] => [
          Date.parse(String(l["time"] ?? "")) || 0,
          `pid ${proc.pid} ${l.msg} ${JSON.stringify({ event: l["event"], attempt: l["attempt"], kind: l["kind"], err: l["err"] })}`,
        ]),
    ),
  ];
  const start = rows.reduce((min, [t]) => (t > 0 && t < min ? t : min), Infinity);
  return rows
    .sort((a, b) => a[0] - b[0])
    .map(([t, text]) => `${((t - start) / 1000).toFixed(3).padStart(8)} ${text}`)
    .join("\n");
}

/** Events of the namespace counted by reason. */
export async function eventCounts(kc: KubeConfig, namespace: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const e of (await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace })).items) counts[e.reason ?? "?"] = (counts[e.reason ?? "?"] ?? 0) + (e.count ?? 1);
  return counts;
}

/** What Slack tells of a FAST_STEPS-shaped release of `version` over `stable` (prefixes): promoted, or rolled back at its first check. */
export function releaseTexts(version: string, stable: string, outcome: "promoted" | "rolled back"): string[] {
  const started = [`reviews ${version}: canary started (stable ${stable})`, `reviews ${version}: step 1/4, 20% to canary`];
  if (outcome === "rolled back") return [...started, `reviews ${version}: check failed`, `reviews ${version} rolled back`];
  return [...started, `reviews ${version}: step 3/4, 60% to canary`, `reviews ${version} promoted`];
}

/**
 * Texts a release may add when the machine is slow, without anything being lost or doubled: a
 * check that saw fewer requests than minRequests is inconclusive, and says so (a 1 s mesh stall
 * under load is enough). They are checks' verdicts, not steps or outcomes.
 */
const MAY_ADD = [/^reviews v\d+: check inconclusive: /];

/** Slack told what `expected` lists (prefixes, in order), each once: nothing lost, doubled or added (besides MAY_ADD). */
export function expectAnnouncedOnce(texts: string[], expected: string[]): void {
  const unmatched = texts.filter((t) => !MAY_ADD.some((pattern) => pattern.test(t)));
  const missing = expected.filter((prefix) => {
    const at = unmatched.findIndex((t) => t.startsWith(prefix));
    if (at >= 0) unmatched.splice(at, 1);
    return at < 0;
  });
  expect({ missing, extra: unmatched }, `Slack texts ${JSON.stringify(texts, null, 1)}`).toEqual({ missing: [], extra: [] });
}

/** Milliseconds as "1.2 s", and a list of them as "min / median / max". */
export function spread(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const s = (v: number | undefined) => `${((v ?? 0) / 1000).toFixed(1)} s`;
  return `${s(sorted[0])} / ${s(sorted[Math.floor(sorted.length / 2)])} / ${s(sorted.at(-1))}`;
}
