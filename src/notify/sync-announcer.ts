/**
 * Tells the problems of the git sync (see rollout/sync-event.ts): a log line, a Warning Event and
 * a notification each, once while a problem stays the same. A sync that changed another file, or
 * a poll that finds the same refused commit, repeats nothing; the Event and the notification are
 * keyed by the problem's id, so another replica (or a restart) telling it again adds neither.
 */
import type { Logger } from "pino";
import { shortSha } from "../rollout/commit.js";
import type { StandingProblems, SyncEvent, SyncEventKind } from "../rollout/sync-event.js";

/** Records a Kubernetes Event; a `key` names it, so recording the same key twice leaves one. */
export interface SyncEventRecorder {
  record(target: { namespace: string; name: string }, type: "Warning", reason: string, message: string, key: string): Promise<void>;
}

/** Queues a notification for every target that hears it. */
export interface SyncNotifier {
  enqueue(event: SyncEvent): Promise<void>;
}

export interface SyncAnnouncerOptions {
  log: Logger;
  events: SyncEventRecorder;
  /** Absent when no notification target is configured. */
  notifications?: SyncNotifier;
  /** Called for each problem told (the release-events counter). */
  onTold?: (event: SyncEvent) => void;
}

const EVENT_REASONS: Record<SyncEventKind, string> = { invalid: "InvalidRollout", unverified: "UnverifiedCommit" };

export class SyncAnnouncer {
  /** The ids told, by kind: what the last sync that looked at that kind found. */
  private readonly told = new Map<SyncEventKind, ReadonlySet<string>>();

  constructor(private readonly options: SyncAnnouncerOptions) {}

  /** Tells each standing problem not told before; a kind's problems that are gone may be told again when they come back. */
  async announce(standing: StandingProblems): Promise<void> {
    for (const [kind, events = []] of Object.entries(standing) as [SyncEventKind, readonly SyncEvent[] | undefined][]) {
      const told = this.told.get(kind) ?? new Set<string>();
      const now = new Set<string>();
      for (const event of events) {
        if (!told.has(event.id) && !now.has(event.id)) await this.tell(event);
        now.add(event.id);
      }
      this.told.set(kind, now);
    }
  }

  private async tell(event: SyncEvent): Promise<void> {
    const { log, events, notifications, onTold } = this.options;
    onTold?.(event);
    this.logLine(event);
    await events.record(event.rollout, "Warning", EVENT_REASONS[event.kind], this.eventMessage(event), event.id);
    await notifications?.enqueue(event).catch((error: unknown) => log.warn({ err: String(error), event: event.id }, "notification not queued"));
  }

  private logLine(event: SyncEvent): void {
    const { commit, details } = event;
    if (event.kind === "unverified") {
      this.options.log.error({ commit, reason: details["reason"] }, "commit signature not verified; not applied");
      return;
    }
    this.options.log.warn({ commit: commit.sha, file: details["file"], line: details["line"], column: details["column"], rollout: event.rollout }, `invalid Rollout file: ${event.message}`);
  }

  private eventMessage(event: SyncEvent): string {
    return event.kind === "invalid" ? `${event.message} (commit ${shortSha(event.commit.sha)})` : event.message;
  }
}
