/** Redis connections for BullMQ (workers need maxRetriesPerRequest: null). */
import { Redis, type RedisOptions } from "ioredis";

export function redisConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
}
