/** Where Tideway's Redis is, as the flags say; no ioredis here, so `tideway run --help` stays light. */

export interface SentinelAddress {
  host: string;
  port: number;
}

/** Where Tideway's Redis is: a URL, or a Sentinel-managed primary. */
export type RedisTarget =
  | { url: string }
  | {
      sentinels: SentinelAddress[];
      /** The primary's name in the Sentinels' configuration (`sentinel monitor <name> ...`). */
      name: string;
      /** The data nodes' password (a secret). */
      password?: string;
      /** The Sentinels' own password, when they have one (a secret). */
      sentinelPassword?: string;
    };

export const DEFAULT_SENTINEL_PORT = 26379;

/**
 * Parses `host:port,host:port` (`[::1]:26379` for IPv6; the port defaults to 26379). Throws a
 * message naming the entry that is wrong.
 */
export function parseSentinels(text: string): SentinelAddress[] {
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) throw new Error(`expected host:port,host:port..., found "${text}"`);
  return entries.map((entry) => {
    const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(entry);
    const host = match?.[1] ?? match?.[2];
    const port = match?.[3] === undefined ? DEFAULT_SENTINEL_PORT : Number(match[3]);
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`expected host:port (e.g. redis-sentinel-0:26379), found "${entry}"`);
    return { host, port };
  });
}
