/** What a notification is about: a release event of one Rollout, or a problem of the git sync. */
import type { ReleaseEvent } from "../rollout/engine.js";
import type { SyncEvent } from "../rollout/sync-event.js";

export type Notice = ReleaseEvent | SyncEvent;
