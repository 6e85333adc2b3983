/** A release event or a sync problem as the JSON body of a generic webhook: flat, stable field names. Pure. */
import type { Commit } from "../rollout/commit.js";
import type { ReleaseEvent } from "../rollout/engine.js";
import { isSyncEvent } from "../rollout/sync-event.js";
import { eventKey } from "./event-key.js";
import type { Notice } from "./notice.js";

export interface WebhookMessage {
  /** "bookinfo/reviews/7": unique per event; receivers can dedupe on it (deliveries are at least once). */
  id: string;
  kind: Notice["kind"];
  severity: Notice["severity"];
  message: string;
  rollout: string;
  namespace: string;
  /** "" for a sync problem, which belongs to no release. */
  version: string;
  stableVersion: string;
  releaseId: number | null;
  details: ReleaseEvent["details"];
  commit: Commit | null;
}

export function webhookMessage(event: Notice, context: { commit?: Commit } = {}): WebhookMessage {
  const release = isSyncEvent(event) ? undefined : event;
  const commit = isSyncEvent(event) ? event.commit : context.commit;
  return {
    id: eventKey(event),
    kind: event.kind,
    severity: event.severity,
    message: event.message,
    rollout: event.rollout.name,
    namespace: event.rollout.namespace,
    version: release?.version ?? "",
    stableVersion: release?.stableVersion ?? "",
    releaseId: release?.releaseId ?? null,
    details: event.details,
    commit: commit ?? null,
  };
}
