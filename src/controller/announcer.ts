/**
 * Release announcements: each event status records becomes a log line, a Kubernetes Event and a
 * notification (Slack, the generic webhook). The Event and the notification are keyed by the
 * event's id, so announcing an event twice (an outbox replayed after a crash) leaves one of each.
 */
import type { Logger } from "pino";
import type { EventSink } from "../kube/events.js";
import type { RolloutObject } from "../kube/rollouts.js";
import { commitFromAnnotations, type Commit } from "../rollout/commit.js";
import type { ReleaseEvent } from "../rollout/engine.js";
import type { Rollout } from "../rollout/model.js";
import type { ControllerMetrics } from "./metrics.js";

/** Where release events go besides the log and Events: the notification queue. */
export type Notifier = (event: ReleaseEvent, rollout: Rollout, commit?: Commit) => Promise<void>;

export class ReleaseAnnouncer {
  constructor(private readonly deps: { events: EventSink; log: Logger; metrics: ControllerMetrics; notify?: Notifier }) {}

  /** Announces each event; returns those whose notification could not be queued, to try again. */
  async announce(rollout: Rollout, object: RolloutObject, events: readonly ReleaseEvent[]): Promise<ReleaseEvent[]> {
    const unsent: ReleaseEvent[] = [];
    for (const event of events) {
      this.deps.metrics.releaseEvents.inc({ namespace: rollout.namespace, rollout: rollout.name, kind: event.kind });
      const fields = { rollout: `${rollout.namespace}/${rollout.name}`, kind: event.kind, version: event.version, stable: event.stableVersion, event: event.id };
      if (event.severity === "warning") this.deps.log.warn(fields, event.message);
      else this.deps.log.info(fields, event.message);
      // The uid makes the id unique across a Rollout deleted and created again under the same name.
      const globalId = `${object.metadata.uid ?? `${rollout.namespace}-${rollout.name}`}-${event.id}`;
      const target = { namespace: rollout.namespace, name: rollout.name, ...(object.metadata.uid ? { uid: object.metadata.uid } : {}) };
      await this.deps.events.record(target, event.severity === "warning" ? "Warning" : "Normal", reasonOf(event.kind), event.message, globalId);
      try {
        await this.deps.notify?.({ ...event, id: globalId }, rollout, commitFromAnnotations(object.metadata.annotations));
      } catch (error) {
        this.deps.log.warn({ err: String(error), event: event.id }, "notification not queued; kept in the outbox");
        unsent.push(event);
      }
    }
    return unsent;
  }
}

/** "check-failed" -> "CheckFailed": the Event's reason. */
function reasonOf(kind: string): string {
  return kind
    .split("-")
    .map((part) => (part[0] ?? "").toUpperCase() + part.slice(1))
    .join("");
}
