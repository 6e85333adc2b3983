/**
 * Problems of the git sync itself, told to people like release events (log line, Kubernetes
 * Event, Slack, the webhook) but belonging to no release: a bad file (or a Rollout the API
 * server refused) and a commit whose signature does not verify. Git finds them (git/sync-events.ts);
 * notify tells them (notify/sync-announcer.ts).
 */
import type { Commit } from "./commit.js";

export const SYNC_EVENT_KINDS = ["invalid", "unverified"] as const;
export type SyncEventKind = (typeof SYNC_EVENT_KINDS)[number];

/** Where a problem that names no Rollout is told: "git" in the controller's namespace. */
export const GIT_SOURCE_NAME = "git";

export interface SyncEvent {
  /**
   * Derived from the problem itself, so the same problem told again (by another replica, after a
   * restart, at a later commit) has the same id and makes no second Event or notification.
   */
  id: string;
  kind: SyncEventKind;
  severity: "warning";
  /** One line: "rollouts/x.yaml:4:3: spec.steps[0].setWeight: ..." or "commit 1a2b3c4 not applied: ...". */
  message: string;
  /** The Rollout the problem is about, or "git" in the controller's namespace. */
  rollout: { namespace: string; name: string };
  /** The commit the problem was found in. */
  commit: Commit;
  details: Record<string, string | number>;
}

/**
 * The problems standing after one sync, by kind. A kind that is present is the whole truth for
 * it (an empty list: none left); a kind that is absent was not looked at (nothing was synced).
 */
export type StandingProblems = Partial<Record<SyncEventKind, readonly SyncEvent[]>>;

export function isSyncEvent(event: { kind: string }): event is SyncEvent {
  return (SYNC_EVENT_KINDS as readonly string[]).includes(event.kind);
}
