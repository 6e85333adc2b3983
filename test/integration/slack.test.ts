import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { startSlackReceiver, waitUntil, type SlackReceiver } from "../env/index.js";
import { createWorld, FAST_ANALYSIS, VS, type World } from "./release-harness.js";
import { rolloutYaml } from "./rollout-yaml.js";
import { kubeConfig } from "./services.js";

let world: World | undefined;
let slack: SlackReceiver | undefined;
afterEach(async () => {
  await world?.stop();
  await slack?.stop();
  world = undefined;
});

/**
 * The messages delivered, but for inconclusive checks: on a loaded machine the first check can
 * come before Prometheus has scraped the canary twice ("0 requests < 5"). That message is right,
 * and not what these sequences are about.
 */
const texts = (receiver: SlackReceiver) =>
  receiver
    .delivered()
    .map((p) => (p.body as { text: string }).text)
    .filter((text) => !/^reviews v\d+: check inconclusive: /.test(text));

async function worldWithSlack(options: Parameters<typeof createWorld>[0] = {}): Promise<{ world: World; slack: SlackReceiver }> {
  slack = await startSlackReceiver();
  world = await createWorld({ ...options, controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl } });
  return { world, slack };
}

describe("Slack notifications", () => {
  it("go by the Rollout's events filter, while the generic webhook hears every event", async () => {
    const hook = await startSlackReceiver();
    try {
      slack = await startSlackReceiver();
      world = await createWorld({ controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl, TIDEWAY_NOTIFY_WEBHOOK_URL: hook.webhookUrl } });
      const onlyPromotions = `${FAST_ANALYSIS}\n  notifications:\n    slack:\n      events: [promoted]`;
      await world.release("v1", { analysis: onlyPromotions });
      await world.waitForStatus((s) => s.phase === "Healthy");
      await world.release("v2", { analysis: onlyPromotions });
      await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 90_000);
      await waitUntil("the promotion in Slack", async () => texts(slack as SlackReceiver).some((t) => t.includes("promoted")), { timeoutMs: 15_000 });
      await waitUntil("the promotion at the webhook", async () => hook.delivered().some((p) => JSON.stringify(p.body).includes("promoted")), { timeoutMs: 15_000 });
      expect(texts(slack)).toEqual(["reviews v2 promoted: 100% of traffic, now stable (was v1)"]);
      const kinds = hook.delivered().map((p) => (p.body as { kind?: string }).kind);
      expect(kinds).toEqual(expect.arrayContaining(["adopted", "started", "step", "promoted"]));
    } finally {
      await hook.stop();
    }
  });

  it("tell a healthy release in order, once each, with the commit", async () => {
    const { world, slack } = await worldWithSlack();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2");
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 90_000);
    await waitUntil("the promotion in Slack", async () => texts(slack).some((t) => t.includes("promoted")), { timeoutMs: 15_000 });
    expect(texts(slack)).toEqual([
      "reviews: v1 adopted as stable, 100% of traffic",
      "reviews v2: canary started (stable v1)",
      "reviews v2: step 1/4, 20% to canary",
      "reviews v2: step 3/4, 60% to canary",
      "reviews v2 promoted: 100% of traffic, now stable (was v1)",
    ]);
    const last = slack.delivered().at(-1)?.body as { blocks: { text?: { text: string }; elements?: { text: string }[] }[] };
    expect(JSON.stringify(last.blocks)).toContain("reviews v2");
    expect(world.controller.output.join("\n")).not.toContain(slack.webhookUrl);
    expect(world.controller.output.join("\n")).not.toContain("testsecrettoken");
  });

  it("tell a failed release: the failed check, then the rollback with its reason", async () => {
    const { world, slack } = await worldWithSlack({ behaviour: { v2: { errorRate: 0.4, latencyMs: 20 } } });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2");
    await world.waitForStatus((s) => s.phase === "RolledBack", 60_000);
    await waitUntil("the rollback in Slack", async () => texts(slack).some((t) => t.includes("rolled back")), { timeoutMs: 15_000 });
    const messages = texts(slack);
    expect(messages.slice(0, 3)).toEqual(["reviews: v1 adopted as stable, 100% of traffic", "reviews v2: canary started (stable v1)", "reviews v2: step 1/4, 20% to canary"]);
    // Slack's text escapes <, > and &.
    expect(messages[3]).toMatch(/^reviews v2: check failed: success-rate 0\.\d+ &lt; 0\.95$/);
    expect(messages[4]).toMatch(/^reviews v2 rolled back: success-rate 0\.\d+ &lt; 0\.95; 100% to v1$/);
    expect(messages).toHaveLength(5);
  });

  it("tell a bad file with its file:line and field, once, while it stays broken over later commits", async () => {
    const { world, slack } = await worldWithSlack();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    const bad = `apiVersion: tideway.io/v1alpha1\nkind: Rollout\nmetadata: { name: ratings, namespace: ${world.namespace} }\nspec:\n  service: ratings\n  version: v1\n  trafficRouting: { istio: { virtualService: { name: ratings } } }\n  steps:\n    - setWeight: 150\n`;
    await world.remote.commit({ "rollouts/ratings.yaml": bad }, "add ratings");
    const invalid = () => slack.delivered().filter((p) => (p.body as { text: string }).text.startsWith("rollouts/ratings.yaml:"));
    await waitUntil("the bad file in Slack", async () => invalid().length > 0, { timeoutMs: 30_000 });
    const posted = JSON.stringify(invalid()[0]?.body);
    expect((invalid()[0]?.body as { text: string }).text).toMatch(/^rollouts\/ratings\.yaml:9:\d+: spec\.steps\[0\]\.setWeight: expected an integer from 0 to 100, found 150$/);
    expect(posted).toContain("invalid Rollout in git");
    expect(posted).toContain("spec.steps[0].setWeight");
    expect(posted).toContain("add ratings");
    // A later commit that leaves the file broken does not announce it again; the good Rollout releases.
    await world.release("v2", { steps: ["- setWeight: 50"], analysis: "" });
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 60_000);
    await waitUntil("the promotion in Slack", async () => texts(slack).some((t) => t.includes("v2 promoted")), { timeoutMs: 15_000 });
    expect(invalid()).toHaveLength(1);
  });

  it("wait out a 429 with Retry-After, and twenty 500s do not slow the release; every message arrives once", async () => {
    slack = await startSlackReceiver();
    slack.failNext(1, 429, 2);
    slack.failNext(20, 500);
    world = await createWorld({ controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl, TIDEWAY_NOTIFY_MAX_BACKOFF: "1s" } });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    const started = Date.now();
    await world.release("v2");
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 90_000);
    console.log(`[measure] release with Slack failing: ${Date.now() - started} ms`);
    const receiver = slack;
    await waitUntil("every message once Slack recovers", async () => texts(receiver).length >= 5, { timeoutMs: 120_000, intervalMs: 500 });
    expect(texts(receiver)).toEqual([
      "reviews: v1 adopted as stable, 100% of traffic",
      "reviews v2: canary started (stable v1)",
      "reviews v2: step 1/4, 20% to canary",
      "reviews v2: step 3/4, 60% to canary",
      "reviews v2 promoted: 100% of traffic, now stable (was v1)",
    ]);
    const [first, second] = receiver.posts;
    expect(first?.status).toBe(429);
    expect((second?.receivedAt ?? 0) - (first?.receivedAt ?? 0)).toBeGreaterThanOrEqual(1_900);
  }, 240_000);
});

describe("Slack in a burst of new Rollouts", () => {
  it("summarises 40 Rollouts adopted at once whose DestinationRules are missing: a few posts naming the counts, an Event per Rollout", async () => {
    const { world, slack } = await worldWithSlack();
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await waitUntil("the single adoption in Slack", async () => texts(slack).length > 0, { timeoutMs: 15_000 });
    expect(texts(slack)).toEqual(["reviews: v1 adopted as stable, 100% of traffic"]);

    const count = 40;
    const names = Array.from({ length: count }, (_, i) => `svc-${i}`);
    // A VirtualService each and no DestinationRule: every one is adopted and cannot route.
    for (const name of names) {
      const route = { name: "primary", route: [{ destination: { host: name, subset: "v1" }, weight: 100 }] };
      await world.objects.createNamespacedCustomObject({
        ...VS,
        namespace: world.namespace,
        body: { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name }, spec: { hosts: [name], http: [route] } },
      });
    }
    const files = Object.fromEntries(names.map((name) => [`rollouts/${name}.yaml`, rolloutYaml({ name, namespace: world.namespace, version: "v1" })]));
    const before = slack.delivered().length;
    await world.remote.commit(files, "add 40 services");
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const eventsOf = async (reason: string) => (await core.listNamespacedEvent({ namespace: world.namespace })).items.filter((e) => e.reason === reason).length;
    await waitUntil("an Event per Rollout for both", async () => (await eventsOf("Adopted")) >= count + 1 && (await eventsOf("TrafficFailed")) >= count, { timeoutMs: 120_000, intervalMs: 1_000 });
    const posted = () => slack.delivered().slice(before);
    await waitUntil("the counts in Slack", async () => posted().some((p) => /cannot route/.test(JSON.stringify(p.body))), { timeoutMs: 60_000, intervalMs: 500 });
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const summary = posted().map((p) => (p.body as { text: string }).text);
    console.log(`[measure] posts for ${count} new Rollouts that cannot route: ${summary.length}`);
    expect(summary.length).toBeLessThanOrEqual(3);
    const told = summary.join("\n");
    expect(told).toMatch(/no DestinationRule/);
    expect(told).toMatch(/and \d+ more/);
  }, 240_000);
});
