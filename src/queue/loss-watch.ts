/**
 * Notices that Redis lost Tideway's keys (FLUSHALL, a restart without persistence, a failover to
 * an empty replica). Redis holds every pending wake-up (pause ends, analysis runs, the guard, the
 * git poll); without this, a release in flight would stall until the next periodic resync.
 *
 * A marker key is set once and checked every few seconds with SET NX: it is there for as long as
 * Redis keeps its data, so the replica whose SET NX succeeds is the one that saw it go, and only
 * that replica is told (the others find the key put back).
 */
import type { Redis } from "ioredis";

export interface LossWatchOptions {
  /** The key to keep, e.g. "tideway:marker". */
  key: string;
  /** How often to look. Default 5 s. */
  intervalMs?: number;
  /** Called when the marker was gone: rebuild what Redis held. */
  onLost: () => void;
  onError?: (error: Error) => void;
}

export class RedisLossWatch {
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private readonly onReady = () => void this.check();

  constructor(
    private readonly redis: Redis,
    private readonly options: LossWatchOptions,
  ) {}

  /** Sets the marker (whether it was there or not is no news at start) and starts looking. */
  async start(): Promise<void> {
    await this.redis.set(this.options.key, String(Date.now()), "NX");
    this.timer = setInterval(() => void this.check(), this.options.intervalMs ?? 5_000);
    this.timer.unref();
    // A reconnect may be to a Redis that restarted empty: look at once.
    this.redis.on("ready", this.onReady);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.redis.off("ready", this.onReady);
  }

  /** True when the marker was missing (and has been put back). */
  async check(): Promise<boolean> {
    if (this.checking || this.redis.status !== "ready") return false;
    this.checking = true;
    try {
      const set = await this.redis.set(this.options.key, String(Date.now()), "NX");
      if (set !== "OK") return false;
      this.options.onLost();
      return true;
    } catch (error) {
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
      return false;
    } finally {
      this.checking = false;
    }
  }
}
