/** Which event a delivery is for: the same across retries and re-enqueues, distinct across Rollouts. */
import type { Notice } from "./notice.js";

/**
 * "bookinfo/reviews/7": the engine's id is unique within one Rollout, so it is scoped by the
 * Rollout (a sync problem's id is derived from the problem, see git/sync-events.ts).
 */
export function eventKey(event: Notice): string {
  const scope = `${event.rollout.namespace}/${event.rollout.name}`;
  return event.id.startsWith(`${scope}/`) ? event.id : `${scope}/${event.id}`;
}
