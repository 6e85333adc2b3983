/**
 * What the Dockerfile's production stage runs, without Docker: dist/ and package.json on top of
 * `npm ci --omit=dev`, started with the image's NODE_OPTIONS, HOME and git cache directory.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGitRemote, freePort, waitUntil, type GitRemote } from "../env/index.js";
import { tempDir } from "../env/process.js";
import { services } from "./services.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

/** The runtime stage's ENV value of `name`, as the image sets it. */
function imageEnv(name: string): string {
  const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  const match = new RegExp(`${name}=("([^"]*)"|\\S+)`).exec(runtime);
  if (!match) throw new Error(`Dockerfile: no ENV ${name} in the runtime stage`);
  return match[2] ?? match[1] ?? "";
}

let app: string;
let env: NodeJS.ProcessEnv;
let remote: GitRemote | undefined;

beforeAll(() => {
  execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "pipe" });
  app = tempDir("image");
  cpSync(join(ROOT, "dist"), join(app, "dist"), { recursive: true });
  for (const file of ["package.json", "package-lock.json"]) cpSync(join(ROOT, file), join(app, file));
  // One install, as the image's deps stage does it (scripts off: nothing here needs them).
  execFileSync("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], {
    cwd: app,
    stdio: "pipe",
    env: { ...process.env, NPM_CONFIG_PREFER_OFFLINE: process.env.NPM_CONFIG_PREFER_OFFLINE ?? "true" },
  });
  const home = join(app, "home");
  mkdirSync(home);
  env = {
    PATH: process.env.PATH,
    NODE_ENV: "production",
    HOME: home,
    NODE_OPTIONS: imageEnv("NODE_OPTIONS"),
    TIDEWAY_GIT_CACHE_DIR: join(app, "cache"),
  };
}, 600_000);

afterAll(async () => {
  await remote?.stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

const node = (...args: string[]) => execFileSync(process.execPath, ["dist/main.js", ...args], { cwd: app, env, encoding: "utf8" });

describe("the production image's command", () => {
  it("installs no development dependency", () => {
    const installed = JSON.parse(readFileSync(join(app, "node_modules", ".package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    expect(Object.values(installed.packages).filter((p) => p.dev)).toEqual([]);
    for (const dev of ["typescript", "vitest", "tsx", "eslint"]) expect(installed.packages[`node_modules/${dev}`]).toBeUndefined();
  });

  it("prints its version from dist/ with production dependencies only", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(node("--version").trim()).toBe(pkg.version);
  });

  it("documents every run flag", () => {
    const help = node("run", "--help");
    for (const flag of [
      "--git-url",
      "--git-cache-dir",
      "--git-token-file",
      "--git-ssh-key-file",
      "--webhook-secret-file",
      "--slack-webhook-url-file",
      "--redis-url",
      "--redis-url-file",
      "--prometheus-url",
      "--listen",
    ]) {
      expect(help).toContain(flag);
    }
  });

  it("runs the controller with the image's settings, answers /healthz and stops cleanly on SIGTERM", async () => {
    remote = await createGitRemote();
    await remote.commit({ "rollouts/README.md": "no Rollouts yet\n" });
    const { kubeconfigPath, redisUrl, prometheusUrl } = services();
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        "dist/main.js",
        "run",
        "--git-url",
        remote.url,
        "--git-path",
        "rollouts",
        "--kubeconfig",
        kubeconfigPath,
        "--redis-url",
        redisUrl,
        "--prometheus-url",
        prometheusUrl,
        "--queue-prefix",
        `prod${port}`,
        "--listen",
        `127.0.0.1:${port}`,
      ],
      { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    const output: string[] = [];
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitUntil(
        "/healthz of the production build",
        async () => {
          if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${output.join("")}`);
          return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok ?? false;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      await waitUntil("/readyz of the production build", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, { timeoutMs: 30_000, intervalMs: 200 });
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    // The clone went to the cache directory the image points at its writable volume.
    expect(execFileSync("git", ["-C", join(env.TIDEWAY_GIT_CACHE_DIR ?? "", "repo"), "rev-parse", "HEAD"], { encoding: "utf8" }).trim()).toBe(await remote.head());
  });
});
