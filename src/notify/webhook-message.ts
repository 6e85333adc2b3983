/** A release event as the JSON body of a generic webhook: flat, stable field names. Pure. */
import type { Commit } from "../rollout/commit.js";
import type { ReleaseEvent } from "../rollout/engine.js";
import { eventKey } from "./event-key.js";

export interface WebhookMessage {
  /** "bookinfo/reviews/7": unique per event; receivers can dedupe on it (deliveries are at least once). */
  id: string;
  kind: ReleaseEvent["kind"];
  severity: ReleaseEvent["severity"];
  message: string;
  rollout: string;
  namespace: string;
  version: string;
  stableVersion: string;
  releaseId: number | null;
  details: ReleaseEvent["details"];
  commit: Commit | null;
}

export function webhookMessage(event: ReleaseEvent, context: { commit?: Commit } = {}): WebhookMessage {
  return {
    id: eventKey(event),
    kind: event.kind,
    severity: event.severity,
    message: event.message,
    rollout: event.rollout.name,
    namespace: event.rollout.namespace,
    version: event.version,
    stableVersion: event.stableVersion,
    releaseId: event.releaseId ?? null,
    details: event.details,
    commit: context.commit ?? null,
  };
}
