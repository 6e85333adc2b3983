import { afterEach, describe, expect, it } from "vitest";
import { createWorld, type World } from "./release-harness.js";

let world: World | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

/** Enough traffic that a 2% baseline gives the comparison ~20 errors a second to judge. */
const RATE = 1_000;
/** Both versions' error rates wander together over minutes, mostly within 0.55x..1.8x of their mean. */
const DRIFT = { spread: 0.3, timescaleSeconds: 60 };

const analysis = (metric: string) =>
  [
    "  analysis:",
    "    interval: 3s",
    "    minRequests: 5",
    // The comparison stays inconclusive until it has seen enough errors; wait for it.
    "    inconclusiveLimit: 200",
    "    metrics:",
    `      - name: success-rate`,
    `        ${metric}`,
    "    guard: { enabled: false }",
  ].join("\n");
const COMPARE = analysis("compare: { maxIncrease: 0.5 }");
const THRESHOLD = analysis("min: 0.99");

describe("judging the canary against stable on a noisy service", () => {
  it("promotes a canary as noisy as stable (2% errors, drifting) that a 0.99 threshold rolls back", async () => {
    const noisy = { errorRate: 0.02, latencyMs: 20 };
    world = await createWorld({ rate: RATE, errorDrift: DRIFT, behaviour: { v1: noisy, v2: noisy, v3: noisy } });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");

    const started = Date.now();
    await world.release("v2", { steps: ["- setWeight: 50", "- pause: 5s", "- setWeight: 60", "- pause: 6s"], analysis: COMPARE });
    const status = await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 180_000);
    // The release's last verdict per check stays in its history entry after promotion.
    const message = status.history.at(-1)?.checks?.find((c) => c.name === "success-rate")?.message;
    console.log(`[measure] comparison: noisy healthy canary promoted in ${Date.now() - started} ms; last check: ${message}`);
    expect(status.history.at(-1)).toMatchObject({ version: "v2", fromVersion: "v1", outcome: "promoted" });
    expect(status.history.at(-1)?.checks?.find((c) => c.name === "success-rate")?.outcome).toBe("pass");
    expect(message).toMatch(/^v2 error rate \d\.\d\d% vs v1 \d\.\d\d% over [\d,]+ requests: no worse \(99% confidence\)$/);

    // The same canary against a fixed threshold: the baseline alone fails it.
    await world.release("v3", { steps: ["- setWeight: 50", "- pause: 5s"], analysis: THRESHOLD });
    const threshold = await world.waitForStatus((s) => s.phase === "RolledBack", 90_000);
    expect(threshold.history.at(-1)).toMatchObject({ version: "v3", fromVersion: "v2", outcome: "rolled-back" });
    expect(threshold.history.at(-1)?.reason).toMatch(/^success-rate 0\.9\d+ < 0\.99$/);
  });

  it("rolls back a canary with 3x stable's errors (3% vs 1%, drifting), saying so in status", async () => {
    world = await createWorld({ rate: RATE, errorDrift: DRIFT, behaviour: { v1: { errorRate: 0.01, latencyMs: 20 }, v2: { errorRate: 0.03, latencyMs: 20 } } });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");

    const started = Date.now();
    await world.release("v2", { analysis: COMPARE });
    const status = await world.waitForStatus((s) => s.phase === "RolledBack", 120_000);
    await world.waitForWeights((w) => w.v1 === 100 && (w.v2 ?? 0) === 0);
    const reason = status.history.at(-1)?.reason ?? "";
    console.log(`[measure] comparison: 3x regression rolled back in ${Date.now() - started} ms: ${reason}`);
    expect(status.history.at(-1)).toMatchObject({ version: "v2", fromVersion: "v1", outcome: "rolled-back" });
    const words = /^success-rate v2 error rate (\d\.\d\d)% vs v1 (\d\.\d\d)% over [\d,]+ requests: worse by more than 50% \(99% confidence\)$/.exec(reason);
    expect(words, reason).not.toBeNull();
    const [canary, stable] = [Number(words?.[1]), Number(words?.[2])];
    expect(canary / stable).toBeGreaterThan(1.5);
    expect(status.message).toContain("v2 error rate");
  });
});
