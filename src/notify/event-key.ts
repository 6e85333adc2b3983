/** Which event a delivery is for: the same across retries and re-enqueues, distinct across Rollouts. */
import { createHash } from "node:crypto";
import type { Notice } from "./notice.js";

/**
 * "bookinfo/reviews/7": the engine's id is unique within one Rollout, so it is scoped by the
 * Rollout (a sync problem's id is derived from the problem). An event without an id gets one
 * derived from what it says, so a replay still matches.
 */
export function eventKey(event: Notice): string {
  const scope = `${event.rollout.namespace}/${event.rollout.name}`;
  const id = event.id !== "" ? event.id : derivedId(event);
  return id.startsWith(`${scope}/`) ? id : `${scope}/${id}`;
}

function derivedId(event: Notice): string {
  const releaseId = "releaseId" in event ? event.releaseId : undefined;
  const digest = createHash("sha256")
    .update(JSON.stringify([releaseId ?? null, event.kind, event.message]))
    .digest("hex");
  return `${event.kind}-${digest.slice(0, 16)}`;
}
