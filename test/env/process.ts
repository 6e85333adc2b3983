import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A free TCP port on 127.0.0.1, as the kernel hands it out. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        reject(new Error("no port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tideway-${prefix}-`));
}

/**
 * A server process started for a test. It runs under a small shell watchdog that kills it when
 * our stdin pipe closes, so a crashed or killed test runner never leaves servers behind.
 */
export class ServerProcess {
  private readonly child: ChildProcess;
  private exited = false;
  readonly logFile: string;
  private readonly exitPromise: Promise<void>;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv; logDir: string },
  ) {
    this.logFile = join(options.logDir, `${name}.log`);
    const log = createWriteStream(this.logFile);
    const watchdog = [
      // A background job's stdin is /dev/null unless redirected, so keep ours on fd 3 for the watchdog.
      "exec 3<&0",
      '"$@" 3<&- </dev/null & pid=$!',
      "( cat <&3 >/dev/null; kill -TERM $pid 2>/dev/null; sleep 5; kill -KILL $pid 2>/dev/null ) & watch=$!",
      "trap 'kill -TERM $pid 2>/dev/null' TERM",
      "status=0",
      "while kill -0 $pid 2>/dev/null; do wait $pid; status=$?; done",
      "kill $watch 2>/dev/null",
      "exit $status",
    ].join("\n");
    this.child = spawn("bash", ["-c", watchdog, name, command, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout?.pipe(log);
    this.child.stderr?.pipe(log);
    this.exitPromise = new Promise((resolve) => {
      this.child.on("exit", () => {
        this.exited = true;
        resolve();
      });
    });
    this.child.on("error", () => {
      this.exited = true;
    });
  }

  get running(): boolean {
    return !this.exited;
  }

  /** The last lines the process printed, for error messages. */
  tail(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /** Stops the process: SIGTERM, then SIGKILL after `graceMs`. Safe to call twice. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited) return;
    this.child.stdin?.end();
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns true, failing with `describe()` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, options: { timeoutMs: number; intervalMs?: number; process?: ServerProcess }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (options.process && !options.process.running) {
      throw new Error(`${options.process.name} exited while waiting for ${what}:\n${options.process.tail()}`);
    }
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
  const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  const tail = options.process ? `\n${options.process.name} log:\n${options.process.tail()}` : "";
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${detail}${tail}`);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Finds an executable on PATH or in the given directories; undefined when absent. */
export function findExecutable(name: string, dirs: readonly string[] = []): string | undefined {
  const path = process.env.PATH ?? "";
  for (const dir of [...dirs, ...path.split(":")]) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
