/** Redis connections for BullMQ (workers need maxRetriesPerRequest: null). */
import { Redis, type RedisOptions } from "ioredis";

export function redisConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
}

/** The URL with any password replaced, for logs. */
export function displayRedisUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, "//***@");
}
