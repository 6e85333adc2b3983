/**
 * A Sentinel-managed Redis on loopback: a primary, a replica and three Sentinels (Debian's
 * redis-server and redis-sentinel), with a fail-over in about two seconds once the primary dies.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { findExecutable, freePort, removeDir, ServerProcess, tempDir, waitUntil } from "./process.js";

export const SENTINEL_NAME = "tideway";

export interface RedisSentinelEnvironment {
  /** The Sentinels, as `--redis-sentinels` takes them. */
  sentinels: string;
  name: string;
  password?: string;
  /** host:port of the node the Sentinels call the primary now. */
  primary(): Promise<string>;
  /** SIGKILLs the current primary; resolves with its address once the Sentinels name another. */
  killPrimary(): Promise<{ killed: string; promoted: string }>;
  stop(): Promise<void>;
}

const DOWN_AFTER_MS = 1_000;

export async function startRedisSentinel(options: { password?: string } = {}): Promise<RedisSentinelEnvironment> {
  const server = findExecutable("redis-server", ["/usr/bin", "/usr/sbin"]);
  const sentinel = findExecutable("redis-sentinel", ["/usr/bin", "/usr/sbin"]);
  if (!server || !sentinel) throw new Error("redis-server or redis-sentinel not found: install Debian's redis-server and redis-sentinel (bash scripts/test-deps.sh does)");
  const dir = tempDir("redis-sentinel");
  const processes: ServerProcess[] = [];
  const auth = options.password ? ["--requirepass", options.password, "--masterauth", options.password] : [];
  const node = async (name: string, extra: string[]) => {
    const port = await freePort();
    const nodeDir = join(dir, name);
    mkdirSync(nodeDir);
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", nodeDir, "--daemonize", "no", ...auth, ...extra];
    processes.push(new ServerProcess(name, server, args, { logDir: dir }));
    return port;
  };
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    removeDir(dir);
  };
  const client = (port: number, password = options.password) => {
    const redis = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...(password ? { password } : {}) });
    redis.on("error", () => undefined);
    return redis;
  };
  const ask = async <T>(port: number, question: (redis: Redis) => Promise<T>, password?: string): Promise<T> => {
    const redis = client(port, password);
    try {
      await redis.connect();
      return await question(redis);
    } finally {
      redis.disconnect();
    }
  };
  try {
    const primaryPort = await node("redis-primary", []);
    await node("redis-replica", ["--replicaof", "127.0.0.1", String(await waitForPing(primaryPort))]);
    // The replica in sync first: a Sentinel learns of replicas from the primary's INFO, every 10 s after the first.
    await waitUntil(
      "the replica to sync",
      async () => {
        const replication = await ask(primaryPort, (r) => r.info("replication"));
        return /connected_slaves:1/.test(replication) && /state=online/.test(replication);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const sentinelPorts: number[] = [];
    for (const i of [0, 1, 2]) {
      const port = await freePort();
      const config = join(dir, `sentinel-${i}.conf`);
      // Sentinel rewrites its configuration file as it learns the topology: one file each.
      writeFileSync(
        config,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          "daemonize no",
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_NAME} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${SENTINEL_NAME} 10000`,
          ...(options.password ? [`sentinel auth-pass ${SENTINEL_NAME} ${options.password}`] : []),
          "",
        ].join("\n"),
      );
      processes.push(new ServerProcess(`sentinel-${i}`, sentinel, [config], { logDir: dir }));
      sentinelPorts.push(port);
    }
    const primary = async () => {
      const [host, port] = await ask(sentinelPorts[0] ?? 0, (r) => r.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_NAME) as Promise<string[]>, "");
      return `${host}:${port}`;
    };
    // Ready when every Sentinel knows the replica and the two other Sentinels.
    await waitUntil(
      "the Sentinels to know the primary, the replica and each other",
      async () => {
        for (const port of sentinelPorts) {
          const fields = await ask(port, (r) => r.call("SENTINEL", "MASTER", SENTINEL_NAME) as Promise<string[]>, "");
          const field = (name: string) => fields[fields.indexOf(name) + 1];
          if (field("num-slaves") !== "1" || field("num-other-sentinels") !== "2") return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const killPrimary = async () => {
      const killed = await primary();
      const port = Number(killed.split(":")[1]);
      const pid = Number(/process_id:(\d+)/.exec(await ask(port, (r) => r.info("server")))?.[1]);
      process.kill(pid, "SIGKILL");
      let promoted = killed;
      await waitUntil(
        "the Sentinels to promote the replica",
        async () => {
          promoted = await primary();
          return promoted !== killed;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      return { killed, promoted };
    };
    return {
      sentinels: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(","),
      name: SENTINEL_NAME,
      ...(options.password ? { password: options.password } : {}),
      primary,
      killPrimary,
      stop,
    };
  } catch (error) {
    const logs = processes.map((p) => `${p.name}:\n${p.tail(10)}`).join("\n");
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`, { cause: error });
  }

  async function waitForPing(port: number): Promise<number> {
    await waitUntil("redis PING", async () => (await ask(port, (r) => r.ping())) === "PONG", { timeoutMs: 15_000 });
    return port;
  }
}
