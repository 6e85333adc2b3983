/** Which event a delivery is for: the same across retries and re-enqueues, distinct across Rollouts. */
import { createHash } from "node:crypto";
import type { ReleaseEvent } from "../rollout/engine.js";

/**
 * "bookinfo/reviews/7": the engine's id is unique within one Rollout, so it is scoped by the
 * Rollout. An event without an id gets one derived from what it says, so a replay still matches.
 */
export function eventKey(event: ReleaseEvent): string {
  const scope = `${event.rollout.namespace}/${event.rollout.name}`;
  const id = event.id !== "" ? event.id : derivedId(event);
  return id.startsWith(`${scope}/`) ? id : `${scope}/${id}`;
}

function derivedId(event: ReleaseEvent): string {
  const digest = createHash("sha256").update(JSON.stringify([event.releaseId ?? null, event.kind, event.message])).digest("hex");
  return `${event.kind}-${digest.slice(0, 16)}`;
}
