/**
 * Two Rollouts naming the same VirtualService route (issue 11, item 2). The first to write it
 * claims the route on the VirtualService; a second one is refused (status, Event, Slack), its
 * commands change nothing, and once the owner is gone it takes the route over as a canary from
 * what the route serves. Two repositories (two controllers, as two teams would run) share the
 * cluster here: inside one repository the git sync already refuses the second file.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { validate } from "../../src/cli/validate.js";
import { createGitRemote, startSlackReceiver, waitUntil, type GitRemote, type SlackReceiver } from "../env/index.js";
import { startController, type ControllerProcess } from "./controller-process.js";
import { createWorld, VS, type World } from "./release-harness.js";
import { rolloutYaml } from "./rollout-yaml.js";
import { kubeConfig, services } from "./services.js";

const OWNERS = "tideway.io/route-owners";

let world: World | undefined;
let second: { remote: GitRemote; controller: ControllerProcess } | undefined;
let slack: SlackReceiver | undefined;
afterEach(async () => {
  await second?.controller.stop();
  await second?.remote.stop();
  await world?.stop();
  await slack?.stop();
  world = undefined;
  second = undefined;
  slack = undefined;
});

const textOf = (receiver: SlackReceiver) => receiver.delivered().map((p) => (p.body as { text: string }).text);

async function virtualService(w: World): Promise<{ metadata: { resourceVersion: string; annotations?: Record<string, string> } }> {
  return (await w.objects.getNamespacedCustomObject({ ...VS, namespace: w.namespace, name: "reviews" })) as { metadata: { resourceVersion: string; annotations?: Record<string, string> } };
}

async function events(namespace: string, name: string) {
  const list = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace });
  return list.items.filter((e) => e.involvedObject.name === name);
}

describe("two Rollouts naming the same VirtualService route", () => {
  it("refuses the second, whose commands leave the VirtualService as it was, and lets it take the route over as a canary once the owner is gone", async () => {
    slack = await startSlackReceiver();
    world = await createWorld();
    const w = world;
    await w.release("v1");
    await w.waitForStatus((s) => s.phase === "Healthy");
    await w.release("v2", { steps: ["- setWeight: 50"], analysis: "" });
    await w.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 60_000);
    // Promoted in the same reconcile that confirmed its last weight: the promotion's traffic is written too.
    await w.waitForWeights((weights) => weights.v2 === 100 && Object.keys(weights).length === 1, 15_000);
    expect(JSON.parse((await virtualService(w)).metadata.annotations?.[OWNERS] ?? "{}")).toEqual({ primary: `${w.namespace}/reviews`, "reviews-canary-header": `${w.namespace}/reviews` });

    // Another team's repository names the same route for its own Rollout of reviews, at v5.
    const remote = await createGitRemote();
    await remote.commit({
      "rollouts/reviews-b.yaml": rolloutYaml({ name: "reviews-b", namespace: w.namespace, service: "reviews", version: "v5", steps: ["- setWeight: 50", "- pause: {}"] }),
    });
    const controller = await startController({
      gitUrl: remote.url,
      args: ["--git-source-name", `${w.namespace}-b`, "--prometheus-url", services().prometheusUrl, "--resync-interval", "5s"],
      env: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl },
    });
    second = { remote, controller };

    const refused = await w.waitForStatus((s) => s.phase === "Refused", 60_000, "reviews-b");
    const owned = `route primary of VirtualService reviews is managed by Rollout ${w.namespace}/reviews`;
    expect(refused.conditions.find((c) => c.type === "TrafficApplied")).toMatchObject({ status: "False", reason: "RouteOwnedByOther", message: expect.stringContaining(owned) });
    expect(refused.message).toContain(owned);
    await waitUntil(
      "a Refused event on reviews-b",
      async () => (await events(w.namespace, "reviews-b")).some((e) => e.reason === "Refused" && e.type === "Warning" && e.message?.includes(owned) === true),
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    const receiver = slack;
    await waitUntil("the refusal in Slack", async () => textOf(receiver).some((t) => t.includes(owned)), { timeoutMs: 15_000, intervalMs: 200 });

    // Commands on the refused Rollout are recorded as ignored and write nothing to the VirtualService.
    const before = await virtualService(w);
    await w.rollouts.patchMetadata(w.namespace, "reviews-b", { annotations: { "tideway.io/promote": "full", "tideway.io/by": "alice" } });
    await w.waitForStatus((s) => s.commands.some((c) => c.command === "promote"), 30_000, "reviews-b");
    await w.rollouts.patchMetadata(w.namespace, "reviews-b", { annotations: { "tideway.io/abort": "just testing" } });
    const afterCommands = await w.waitForStatus((s) => s.commands.some((c) => c.command === "abort"), 30_000, "reviews-b");
    expect(afterCommands.commands.map((c) => [c.command, c.result])).toEqual([
      ["promote", `ignored: ${afterCommands.conditions.find((c) => c.type === "TrafficApplied")?.message ?? ""}`],
      ["abort", `ignored: ${afterCommands.conditions.find((c) => c.type === "TrafficApplied")?.message ?? ""}`],
    ]);
    expect(afterCommands.phase).toBe("Refused");
    expect(await virtualService(w)).toEqual(before);
    expect(await w.weights()).toEqual({ v2: 100 });
    expect(w.mesh.snapshot().versions.v5).toBeUndefined(); // not one request ever reached reviews-b's version
    // Told once, not at every look; each ignored command is told too (Slack hears it just after status records it).
    await waitUntil("the ignored abort in Slack", async () => textOf(receiver).some((t) => t.includes(owned) && t.includes("abort ignored")), { timeoutMs: 15_000, intervalMs: 200 });
    expect(
      textOf(receiver)
        .filter((t) => t.includes(owned))
        .map((t) => t.split(":")[1]),
    ).toEqual([" refused", " promote ignored", " abort ignored"]);

    // The owner leaves git: its finalizer gives the route up, and reviews-b releases v5 from v2.
    await w.remote.commit({ "rollouts/reviews.yaml": null }, "remove reviews");
    const takenOver = await w.waitForStatus((s) => s.phase === "Paused" && s.canaryWeight === 50, 60_000, "reviews-b");
    expect(takenOver).toMatchObject({ stableVersion: "v2", canaryVersion: "v5" });
    expect(await w.weights()).toEqual({ v2: 50, v5: 50 });
    expect(JSON.parse((await virtualService(w)).metadata.annotations?.[OWNERS] ?? "{}")).toEqual({ primary: `${w.namespace}/reviews-b`, "reviews-canary-header": `${w.namespace}/reviews-b` });
  }, 240_000);

  it("in one repository: the git sync refuses the second file with file:line and field, and so does tideway validate", async () => {
    world = await createWorld();
    const w = world;
    const shadow = rolloutYaml({ name: "shadow", namespace: w.namespace, service: "reviews", version: "v5" });
    await w.remote.commit({
      "rollouts/reviews.yaml": rolloutYaml({ name: "reviews", namespace: w.namespace, version: "v1" }),
      "rollouts/shadow.yaml": shadow,
    });
    await w.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    const line = shadow.split("\n").findIndex((l) => l.includes("virtualService:")) + 1;
    const expected = `rollouts/shadow.yaml:${line}:`;
    await waitUntil(
      "an InvalidRollout event for shadow",
      async () =>
        (await events(w.namespace, "shadow")).some(
          (e) => e.reason === "InvalidRollout" && e.message?.startsWith(`${expected}`) === true && e.message.includes("spec.trafficRouting.istio.virtualService: "),
        ),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await expect(w.rollouts.get(w.namespace, "shadow")).rejects.toThrow(/not found/i);
    expect(await w.weights()).toEqual({ v1: 100 });

    let stderr = "";
    const code = await validate(["rollouts"], { cwd: w.remote.workTree, stdout: () => undefined, stderr: (text) => (stderr += text) });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      new RegExp(
        `^rollouts/shadow\\.yaml:${line}:\\d+: spec\\.trafficRouting\\.istio\\.virtualService: VirtualService reviews is already managed by Rollout ${w.namespace}/reviews \\(rollouts/reviews\\.yaml:\\d+\\)`,
      ),
    );
  }, 120_000);
});
