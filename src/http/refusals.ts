/**
 * Refused webhooks, logged as counts: a flood of forged deliveries, or a git host still signing
 * with an old secret, would otherwise write one warn line per request.
 */
import type { WebhookProvider } from "./webhooks.js";

/** Distinct client addresses named in one line, enough to find a misconfigured sender. */
const MAX_REMOTES = 5;

/** Who sent the refused request: a git host's webhook, or Slack's interactivity. */
export type RefusedSender = WebhookProvider | "slack";

export interface RefusalCount {
  provider: RefusedSender;
  /** The verdict's reason, e.g. "invalid signature": never a secret or a signature value. */
  reason: string;
  count: number;
}

export type RefusalLine = (fields: { refused: RefusalCount[]; total: number; remotes: string[]; intervalMs: number }) => void;

/**
 * The first refusal after a quiet interval is logged at once, so a wrong secret shows up
 * immediately; the ones after it are counted and logged once per interval, one line for all.
 */
export class RefusalLog {
  private readonly counts = new Map<string, RefusalCount>();
  private readonly remotes = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: RefusalLine,
    private readonly intervalMs: number,
  ) {}

  record(provider: RefusedSender, reason: string, remote: string | undefined): void {
    const key = `${provider}\n${reason}`;
    const entry = this.counts.get(key) ?? { provider, reason, count: 0 };
    entry.count += 1;
    this.counts.set(key, entry);
    if (remote !== undefined && this.remotes.size < MAX_REMOTES) this.remotes.add(remote);
    if (this.timer === undefined) {
      this.flush();
      // An interval with nothing to report ends the aggregation: the next refusal is logged at once.
      this.timer = setInterval(() => {
        if (this.counts.size === 0) this.stopTimer();
        else this.flush();
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Logs what was counted and not yet logged (at shutdown, so no count is lost). */
  close(): void {
    this.stopTimer();
    this.flush();
  }

  private flush(): void {
    if (this.counts.size === 0) return;
    const refused = [...this.counts.values()];
    this.write({ refused, total: refused.reduce((sum, entry) => sum + entry.count, 0), remotes: [...this.remotes], intervalMs: this.intervalMs });
    this.counts.clear();
    this.remotes.clear();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
