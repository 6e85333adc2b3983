/**
 * The git sync's lock in Redis, so that replicas never apply a commit at the same time. It lives
 * `ttlMs` and is extended while its holder runs, so a replica that dies holding it blocks the
 * others for seconds, not minutes; only the holder (by its token) extends or releases it.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

/** Compare-and-extend, compare-and-delete: only the replica holding the lock touches it. */
const EXTEND_IF_OWNER = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const DELETE_IF_OWNER = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/** Another replica holds the lock: the caller's job is retried. */
export class LockHeldError extends Error {}

export class RedisLock {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs = 5_000,
  ) {}

  /** Runs `work` holding the lock; throws LockHeldError at once when another holder has it. */
  async withLock<T>(work: () => Promise<T>): Promise<T> {
    const token = randomUUID();
    const locked = await this.redis.set(this.key, token, "PX", this.ttlMs, "NX");
    if (locked !== "OK") throw new LockHeldError("another replica is syncing; retrying");
    const heartbeat = setInterval(() => {
      this.redis.eval(EXTEND_IF_OWNER, 1, this.key, token, String(this.ttlMs)).catch(() => undefined);
    }, this.ttlMs / 3);
    try {
      return await work();
    } finally {
      clearInterval(heartbeat);
      await this.redis.eval(DELETE_IF_OWNER, 1, this.key, token);
    }
  }
}
