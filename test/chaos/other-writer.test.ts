/**
 * Another writer edits the shared VirtualService all through a release, as a person or another
 * tool would (read, change, replace with the resourceVersion read): it retunes a route Tideway does
 * not manage four times a second and, once, sets the managed weights to 50/50. Its route keeps
 * every edit; the managed weights are put back to the step's; the release is promoted with every
 * position written once and every step told once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSlackReceiver } from "../env/index.js";
import { createWorld, FAST_ANALYSIS, VS } from "../integration/release-harness.js";
import { kubeConfig } from "../integration/services.js";
import { eventCounts, expectAnnouncedOnce, expectPositions, releasePositions, releaseTexts, slackTexts, watchInvariants } from "./invariants.js";

const STEPS = ["- setWeight: 20", "- pause: 12s", "- setWeight: 60", "- pause: 4s"];

interface Route {
  name?: string;
  match?: unknown[];
  timeout?: string;
  route: { destination: { host: string; subset?: string }; weight?: number }[];
}
interface VirtualService {
  metadata: { resourceVersion?: string };
  spec: { http: Route[] };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe("another writer on the VirtualService mid-release", () => {
  it("keeps its route's every edit, and has the managed weights put back", async () => {
    const admin: Route = { name: "admin", match: [{ uri: { prefix: "/admin" } }], timeout: "1s", route: [{ destination: { host: "reviews-admin" } }] };
    const primary: Route = { name: "primary", route: [{ destination: { host: "reviews", subset: "v1" }, weight: 100 }] };
    const slack = await startSlackReceiver();
    cleanups.push(() => slack.stop());
    const world = await createWorld({ http: [admin, primary], controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl } });
    cleanups.push(() => world.stop());
    await world.release("v1", { analysis: "" });
    const first = await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    const invariants = watchInvariants(world, kubeConfig());
    cleanups.push(() => invariants.stop());

    const where = { ...VS, namespace: world.namespace, name: "reviews" };
    const read = async () => (await world.objects.getNamespacedCustomObject(where)) as VirtualService;
    /** One read-change-replace; false when another write came between (409). */
    const edit = async (change: (vs: VirtualService) => void): Promise<boolean> => {
      const vs = await read();
      change(vs);
      return world.objects.replaceNamespacedCustomObject({ ...where, body: vs }).then(
        () => true,
        (error: unknown) => {
          if ((error as { code?: number }).code === 409) return false;
          throw error;
        },
      );
    };
    let timeoutSeconds = 1;
    let conflicts = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const next = timeoutSeconds + 1;
        if (await edit((vs) => vs.spec.http.filter((r) => r.name === "admin").forEach((r) => (r.timeout = `${next}s`)))) timeoutSeconds = next;
        else conflicts += 1;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();

    await world.release("v2", { steps: STEPS, analysis: FAST_ANALYSIS });
    await world.waitForStatus((s) => s.release?.version === "v2" && s.release.stepIndex === 1 && s.release.trafficApplied, 60_000);
    while (!(await edit((vs) => vs.spec.http.filter((r) => r.name === "primary").forEach((r) => r.route.forEach((d) => (d.weight = 50)))))) conflicts += 1;
    const overwrittenAt = Date.now();
    await world.waitForWeights((w) => w.v1 === 80 && w.v2 === 20, 20_000);
    const putBackAfter = Date.now() - overwrittenAt;
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 90_000);
    await world.waitForWeights((w) => w.v2 === 100 && Object.keys(w).length === 1);
    writing = false;
    await writer;
    const texts = await slackTexts(slack, "reviews v2 promoted");
    await invariants.stop();
    const { observations, bad } = invariants.weights();
    console.log(
      `[chaos other writer] ${timeoutSeconds - 1} edits of its own route (${conflicts} conflicts retried); managed weights put back ${(putBackAfter / 1000).toFixed(1)} s after it set 50/50; ${observations} weight samples`,
    );

    const after = await read();
    expect(after.spec.http.find((r) => r.name === "admin")).toEqual({ ...admin, timeout: `${timeoutSeconds}s` });
    expect(timeoutSeconds).toBeGreaterThan(10);
    expect(bad).toEqual([]);
    expectPositions(invariants.positions(), [`Healthy v1 #${first.releaseCount}`, ...releasePositions(first.releaseCount + 1, "v2", 4, { promoted: true })]);
    expectAnnouncedOnce(texts, ["reviews: v1 adopted as stable", ...releaseTexts("v2", "v1", "promoted")]);
    const events = await eventCounts(kubeConfig(), world.namespace);
    expect({ Started: events.Started, Promoted: events.Promoted }).toEqual({ Started: 1, Promoted: 1 });
  }, 180_000);
});
