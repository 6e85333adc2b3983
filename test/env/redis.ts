import { Redis } from "ioredis";
import { findExecutable, freePort, removeDir, ServerProcess, tempDir, waitUntil } from "./process.js";

export interface RedisEnvironment {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts Debian's redis-server on a free loopback port (or `port`, to bring a stopped one back
 * empty where its clients look) with persistence off (and a password, when given).
 */
export async function startRedis(options: { password?: string; port?: number } = {}): Promise<RedisEnvironment> {
  const bin = findExecutable("redis-server", ["/usr/bin", "/usr/sbin"]);
  if (!bin) throw new Error("redis-server not found: install Debian's redis-server (bash .ci/run does)");
  const dir = tempDir("redis");
  const port = options.port ?? (await freePort());
  const redis = new ServerProcess(
    "redis",
    bin,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--daemonize",
      "no",
      "--protected-mode",
      "yes",
      ...(options.password ? ["--requirepass", options.password] : []),
    ],
    { logDir: dir },
  );
  const url = `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ""}127.0.0.1:${port}`;
  const stop = async () => {
    await redis.stop();
    removeDir(dir);
  };
  try {
    await waitUntil(
      "redis PING",
      async () => {
        const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        client.on("error", () => undefined);
        try {
          await client.connect();
          return (await client.ping()) === "PONG";
        } finally {
          client.disconnect();
        }
      },
      { timeoutMs: 15_000, process: redis },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, stop };
}
