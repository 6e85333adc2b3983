/**
 * Everything the page shows, as the watches deliver it: the Rollouts, their Events and the checks
 * recorded over time. Each change is handed to the subscribers (the page's event streams) as the
 * Rollout's new view.
 */
import { z } from "zod";
import type { RolloutObject } from "../kube/rollouts.js";
import { KIND } from "../rollout/schema.js";
import { RolloutStatusSchema } from "../rollout/status.js";
import { recordChecks, type ReleaseSeries } from "./series.js";
import { rolloutView, type RolloutEvent, type RolloutView } from "./view.js";

export type BoardChange = { kind: "rollout"; view: RolloutView } | { kind: "removed"; namespace: string; name: string } | { kind: "problem"; problem: string | undefined };

const time = z.union([z.string(), z.date().transform((d) => d.toISOString())]);

/** An Event as the API server sends it (a list decodes its times to Dates, a watch leaves them strings). */
const EventSchema = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string().optional(), creationTimestamp: time.optional() }),
  involvedObject: z.object({ kind: z.string().optional(), name: z.string().optional(), namespace: z.string().optional() }),
  type: z.string().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTimestamp: time.nullish(),
  eventTime: time.nullish(),
  firstTimestamp: time.nullish(),
  count: z.number().nullish(),
});

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

export class Board {
  private readonly objects = new Map<string, RolloutObject>();
  private readonly events = new Map<string, Map<string, RolloutEvent>>();
  private readonly series = new Map<string, ReleaseSeries>();
  private readonly problems = new Map<string, string>();
  private readonly subscribers = new Set<(change: BoardChange) => void>();

  subscribe(subscriber: (change: BoardChange) => void): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  views(): RolloutView[] {
    return [...this.objects.keys()].sort().flatMap((key) => {
      const view = this.view(key);
      return view ? [view] : [];
    });
  }

  view(key: string): RolloutView | undefined {
    const object = this.objects.get(key);
    return object ? rolloutView(object, [...(this.events.get(key)?.values() ?? [])], this.series.get(key)) : undefined;
  }

  /** What is wrong with the watches now (the page shows it), or undefined. */
  problem(): string | undefined {
    return this.problems.size > 0 ? [...this.problems.values()].join("; ") : undefined;
  }

  setProblem(feed: string, problem: string | undefined): void {
    const before = this.problem();
    if (problem === undefined) this.problems.delete(feed);
    else this.problems.set(feed, problem);
    const after = this.problem();
    if (after !== before) this.publish({ kind: "problem", problem: after });
  }

  putRollout(object: RolloutObject): void {
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    if (this.objects.get(key)?.metadata.resourceVersion === object.metadata.resourceVersion) return;
    this.objects.set(key, object);
    const status = RolloutStatusSchema.safeParse(object.status);
    const series = recordChecks(this.series.get(key), status.success ? status.data : undefined);
    if (series) this.series.set(key, series);
    this.changed(key);
  }

  removeRollout(namespace: string, name: string): void {
    const key = keyOf(namespace, name);
    if (!this.objects.delete(key)) return;
    this.series.delete(key);
    this.publish({ kind: "removed", namespace, name });
  }

  /** An Event added or changed (`removed`: gone, e.g. past its TTL); Events of other kinds are ignored. */
  putEvent(raw: unknown, removed = false): void {
    const parsed = EventSchema.safeParse(raw);
    if (!parsed.success) return;
    const event = parsed.data;
    const { kind, name } = event.involvedObject;
    const namespace = event.involvedObject.namespace ?? event.metadata.namespace;
    if (kind !== KIND || name === undefined || namespace === undefined) return;
    const key = keyOf(namespace, name);
    const events = this.events.get(key) ?? new Map<string, RolloutEvent>();
    this.events.set(key, events);
    if (removed) events.delete(event.metadata.name);
    else
      events.set(event.metadata.name, {
        type: event.type ?? "Normal",
        reason: event.reason ?? "",
        message: event.message ?? "",
        at: event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata.creationTimestamp ?? "",
        count: event.count ?? 1,
      });
    if (this.objects.has(key)) this.changed(key);
  }

  private changed(key: string): void {
    const view = this.view(key);
    if (view) this.publish({ kind: "rollout", view });
  }

  private publish(change: BoardChange): void {
    for (const subscriber of this.subscribers) subscriber(change);
  }
}
