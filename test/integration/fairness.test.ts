/**
 * Work is shared fairly: a commit of hundreds of new Rollouts whose traffic cannot apply (their
 * DestinationRules are missing, so every one fails and is tried again) does not hold up a healthy
 * release of another Rollout. Its time is printed beside the same release's time on a quiet
 * controller; the assertion is only a generous bound, which the old single-lane queue (retries
 * every 5 s, adoptions first come first served) did not meet.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createWorld, FAST_STEPS, VS, type World } from "./release-harness.js";
import { rolloutYaml } from "./rollout-yaml.js";

const BULK = Number(process.env.TIDEWAY_FAIRNESS_ROLLOUTS ?? 300);

let world: World | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

async function inBatches<T>(items: readonly T[], size: number, run: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

describe("fair work", () => {
  it(`promotes a healthy release while ${BULK} new Rollouts with missing DestinationRules are adopted and keep failing`, async () => {
    world = await createWorld();
    const w = world;
    await w.release("v1");
    await w.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");

    let started = Date.now();
    await w.release("v2");
    await w.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 90_000);
    const quietMs = Date.now() - started;

    // Each bulk Rollout has its VirtualService and no DestinationRule: its traffic never applies.
    const names = Array.from({ length: BULK }, (_, i) => `bulk-${i}`);
    await inBatches(names, 16, (name) =>
      w.objects.createNamespacedCustomObject({
        ...VS,
        namespace: w.namespace,
        body: {
          apiVersion: "networking.istio.io/v1",
          kind: "VirtualService",
          metadata: { name },
          spec: { hosts: [name], http: [{ name: "primary", route: [{ destination: { host: name, subset: "v1" } }] }] },
        },
      }),
    );
    const files = Object.fromEntries(names.map((name) => [`rollouts/bulk/${name}.yaml`, rolloutYaml({ name, namespace: w.namespace, version: "v1", steps: FAST_STEPS })]));
    await w.remote.commit(files, `${BULK} Rollouts without DestinationRules`);
    // The release comes right behind them, while they are being applied and adopted.
    await w.waitForStatus(() => true, 60_000, names[0]).catch(() => undefined);
    started = Date.now();
    await w.release("v3");
    const promoted = await w.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v3", 120_000);
    const busyMs = Date.now() - started;

    const statuses = await Promise.all(names.map((name) => w.status(name)));
    const adopted = statuses.filter((s) => s !== undefined).length;
    const failing = statuses.filter((s) => s?.conditions.some((c) => c.type === "TrafficApplied" && c.status === "False")).length;
    console.log(
      `[measure] healthy release promoted in ${quietMs} ms on a quiet controller, ${busyMs} ms while ${BULK} new Rollouts failed (${adopted} adopted, ${failing} with traffic failing, by then)`,
    );
    expect(promoted.history.at(-1)).toMatchObject({ version: "v3", outcome: "promoted" });
    expect(failing).toBeGreaterThan(0);
  }, 400_000);
});
