/**
 * Redis connections for BullMQ (workers need maxRetriesPerRequest: null): one Redis by URL, or
 * the primary that Redis Sentinel names, followed across a fail-over.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { RedisTarget } from "./redis-target.js";

export type { RedisTarget } from "./redis-target.js";

/**
 * After a fail-over the old primary may come back as a replica: a command sent to it fails with
 * READONLY, and reconnecting (through the Sentinels, to the new primary) and resending it is right.
 */
const reconnectOnReadOnly = (error: Error): 2 | false => (error.message.startsWith("READONLY") ? 2 : false);

export function redisConnection(target: string | RedisTarget, options: RedisOptions = {}): Redis {
  const common: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, reconnectOnError: reconnectOnReadOnly };
  if (typeof target === "string") return new Redis(target, { ...common, ...options });
  if ("url" in target) return new Redis(target.url, { ...common, ...options });
  return new Redis({
    ...common,
    sentinels: target.sentinels,
    name: target.name,
    role: "master",
    ...(target.password ? { password: target.password } : {}),
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    // No `failoverDetector`: in ioredis 6 its +switch-master handler disconnects the connector even
    // while a reconnect is resolving the primary through the Sentinels; that reconnect then fails
    // with "Connection is closed." and the client ends for good (seen in CI: every queue write
    // refused after a fail-over). A killed primary's socket closes by itself, and a demoted one
    // answers READONLY (reconnectOnReadOnly above), so both paths reach the new primary without it.
    // While the Sentinels elect a new primary, look again at least every second (ioredis' default backs off to 5 s).
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    ...options,
  });
}
