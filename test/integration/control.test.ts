import { execFile } from "node:child_process";
import { userInfo } from "node:os";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorld, type World } from "./release-harness.js";
import { services } from "./services.js";

const run = promisify(execFile);
let world: World;

/** Runs the real CLI, as a user would, against the test cluster. */
async function tideway(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "src/main.ts", ...args, "-n", world.namespace, "--kubeconfig", services().kubeconfigPath], {
      cwd: new URL("../../", import.meta.url),
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

async function lastCommand() {
  const status = await world.status();
  const object = await world.rollouts.get(world.namespace, "reviews");
  const leftover = Object.keys(object.metadata.annotations ?? {}).filter((k) => /^tideway\.io\/(abort|promote|pause|resume|retry|by)$/.test(k));
  return { command: status?.commands.at(-1), leftover, status };
}

describe("the tideway CLI against a running release", () => {
  beforeAll(async () => {
    world = await createWorld();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2", { steps: ["- setWeight: 20", "- pause: {}", "- setWeight: 50", "- pause: 1h"] });
    await world.waitForStatus((s) => s.phase === "Paused" && s.release?.pauseReason === "gate");
  }, 120_000);
  afterAll(async () => {
    await world?.stop();
  });

  it("status shows phase, versions, weight and step like kubectl get", async () => {
    const { code, stdout } = await tideway("status");
    expect(code).toBe(0);
    const [header, row] = stdout.trim().split("\n");
    expect(header).toMatch(/^NAME\s+PHASE\s+STABLE\s+CANARY\s+WEIGHT\s+READY\s+STEP\s+LAST ANALYSIS\s+MESSAGE$/);
    expect(row).toMatch(/^reviews\s+Paused\s+v1\s+v2\s+20\s+v1 1\/1, v2 1\/1\s+2\/4\s+/);
    const json = JSON.parse((await tideway("status", "reviews", "-o", "json")).stdout) as { name: string; status: { phase: string } }[];
    expect(json[0]).toMatchObject({ name: "reviews", status: { phase: "Paused" } });
  });

  it("promote completes the manual gate", async () => {
    const { code, stdout } = await tideway("promote", "reviews");
    expect(code).toBe(0);
    expect(stdout).toContain("completed step 2/4");
    await world.waitForWeights((w) => w.v2 === 50);
    // Without --by, the login name of whoever runs the CLI is recorded.
    expect(await lastCommand()).toMatchObject({ command: { command: "promote", value: "step", source: "annotation", user: userInfo().username }, leftover: [] });
  });

  it("pause holds the release and resume lets it go on", async () => {
    expect((await tideway("pause", "reviews", "--reason", "checking dashboards")).stdout).toContain("paused at step 4/4");
    expect((await world.status())?.phase).toBe("Paused");
    expect((await tideway("resume", "reviews")).stdout).toContain("resumed");
    expect((await world.status())?.phase).toBe("Progressing");
    expect((await lastCommand()).leftover).toEqual([]);
  });

  it("abort sends all traffic to stable and records why", async () => {
    const { stdout } = await tideway("abort", "reviews", "--reason", "bad latency", "--by", "bob");
    expect(stdout).toContain("aborted v2");
    await world.waitForWeights((w) => w.v1 === 100 && (w.v2 ?? 0) === 0);
    const { command, status, leftover } = await lastCommand();
    expect(leftover).toEqual([]);
    expect(command).toMatchObject({ command: "abort", value: "bad latency", user: "bob" });
    expect(status).toMatchObject({ phase: "Aborted" });
    expect(status?.history.at(-1)).toMatchObject({ outcome: "aborted", reason: "bad latency by bob" });
  });

  it("retry starts the aborted version again, and promote --full finishes it", async () => {
    expect((await tideway("retry", "reviews")).stdout).toContain("retrying v2");
    await world.waitForStatus((s) => s.canaryVersion === "v2" && s.canaryWeight === 20);
    expect((await tideway("promote", "reviews", "--full")).stdout).toContain("promoted v2 in full");
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2");
    await world.waitForWeights((w) => w.v2 === 100);
  });

  it("a command that does not apply says so and exits 1", async () => {
    const { code, stdout } = await tideway("resume", "reviews");
    expect(code).toBe(1);
    expect(stdout).toContain("ignored: nothing is paused");
  });

  it("waits for its own command's result when status already holds the last ten", async () => {
    while (((await world.status())?.commands.length ?? 0) < 10) expect((await tideway("resume", "reviews")).code).toBe(1);
    const before = (await world.status())?.commands.map((c) => c.id) ?? [];
    const { code, stdout } = await tideway("abort", "reviews", "--reason", "too late");
    expect(code).toBe(1);
    expect(stdout).toContain("ignored: no release in flight");
    const { command, leftover, status } = await lastCommand();
    expect(status?.commands).toHaveLength(10);
    expect(command).toMatchObject({ command: "abort", value: "too late" });
    expect(before).not.toContain(command?.id);
    expect(leftover).toEqual([]);
  }, 120_000);
});
