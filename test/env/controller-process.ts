/** Runs `tideway run` as a real child process against the test services, capturing its JSON logs. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitUntil } from "./process.js";
import { SCRAPE_INTERVAL } from "./prometheus.js";

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface ControllerProcess {
  pid: number;
  port: number;
  url: string;
  /** Every stdout/stderr line, raw. */
  output: string[];
  logs(): LogLine[];
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(): Promise<void>;
  /** SIGKILL: no chance to finish anything. */
  kill(): Promise<void>;
}

const ROOT = new URL("../../", import.meta.url);

/** The V8 flags of the container image's NODE_OPTIONS (Dockerfile, chart values); docs/performance.md has the measurements. */
export const IMAGE_NODE_FLAGS = ["--max-semi-space-size=1", "--max-old-space-size=80", "--v8-pool-size=1"];

/** The rest of the container image's memory settings (Dockerfile ENV): at most two glibc malloc arenas. */
export const IMAGE_ENV: Record<string, string> = { MALLOC_ARENA_MAX: "2" };

export interface ControllerEndpoints {
  kubeconfigPath: string;
  redisUrl: string;
}

export async function startController(options: {
  gitUrl: string;
  endpoints: ControllerEndpoints;
  args?: string[];
  env?: Record<string, string>;
  prefix?: string;
  logLevel?: string;
  /** Flags naming Redis (e.g. `--redis-sentinels ...`) instead of `--redis-url <endpoints.redisUrl>`. */
  redisArgs?: string[];
  /** Run the compiled dist/main.js (as in production) instead of the TypeScript source through tsx. */
  compiled?: boolean;
  /** V8 flags for a compiled run; the container image's NODE_OPTIONS by default (and its IMAGE_ENV, which `env` overrides). */
  nodeFlags?: string[];
}): Promise<ControllerProcess> {
  const port = await freePort();
  const cacheDir = mkdtempSync(join(tmpdir(), "tideway-controller-"));
  const { kubeconfigPath, redisUrl } = options.endpoints;
  const args = [
    // Compiled, as the container image runs it (same V8 flags as its NODE_OPTIONS, same malloc setting).
    ...(options.compiled ? [...(options.nodeFlags ?? IMAGE_NODE_FLAGS), "dist/main.js"] : ["--import", "tsx", "src/main.ts"]),
    "run",
    "--git-url",
    options.gitUrl,
    "--git-branch",
    "main",
    "--git-interval",
    "1s",
    "--git-cache-dir",
    cacheDir,
    "--kubeconfig",
    kubeconfigPath,
    ...(options.redisArgs ?? ["--redis-url", redisUrl]),
    "--queue-prefix",
    options.prefix ?? `t${Math.random().toString(36).slice(2, 8)}`,
    "--listen",
    `127.0.0.1:${port}`,
    "--log-level",
    options.logLevel ?? "debug",
    // The test Prometheus scrapes every second; the built-ins' window and the guard's follow it.
    "--prometheus-scrape-interval",
    SCRAPE_INTERVAL,
    ...(options.args ?? []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...(options.compiled ? IMAGE_ENV : {}), ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // A git the controller started may outlive a SIGKILL by a moment, still writing here: retry.
  const removeCache = () => rmSync(cacheDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  const output: string[] = [];
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output.push(
      ...chunk
        .toString("utf8")
        .split("\n")
        .filter((l) => l.length > 0),
    );
    for (const wake of waiters) wake();
  };
  let partial = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    const text = partial + chunk.toString("utf8");
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    collect(Buffer.from(lines.join("\n")));
  });
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const logs = () =>
    output.flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
  const controller: ControllerProcess = {
    pid: child.pid ?? 0,
    port,
    url: `http://127.0.0.1:${port}`,
    output,
    logs,
    waitForLog(predicate, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs().find(predicate);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`log line not seen within ${timeoutMs} ms; last lines:\n${output.slice(-15).join("\n")}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
      removeCache();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      removeCache();
    },
  };
  await waitUntil(
    "the controller's /healthz",
    async () => {
      if (child.exitCode !== null) throw new Error(`tideway run exited with ${child.exitCode}:\n${output.slice(-15).join("\n")}`);
      return (await fetch(`${controller.url}/healthz`)).ok;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  return controller;
}
