/**
 * A Rollout the API server refuses (its namespace does not exist) is reported like a bad file,
 * does not hold back the rest of its commit, and is applied once the namespace exists; problems
 * that stay the same are told once, not at every poll or every later commit.
 */
import { CoreV1Api, type CoreV1Event } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { RolloutClient, type RolloutObject } from "../../src/kube/rollouts.js";
import { createGitRemote, waitUntil } from "../env/index.js";
import { startController } from "./controller-process.js";
import { rolloutYaml } from "./rollout-yaml.js";
import { kubeConfig, uniqueName } from "./services.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a Rollout in a namespace that does not exist", () => {
  it("is reported at its file and line once, the rest of the commit is synced once, and it is applied when the namespace appears", async () => {
    const kc = kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const namespace = uniqueName("refused");
    const missing = uniqueName("missing");
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const remote = await createGitRemote();
    cleanups.push(() => remote.stop());
    await remote.commit({ "README.md": "rollouts\n" });
    const controller = await startController({ gitUrl: remote.url, args: ["--git-source-name", namespace, "--namespace", namespace] });
    cleanups.push(() => controller.stop());
    const client = new RolloutClient(kc);
    const get = (ns: string, name: string): Promise<RolloutObject | undefined> => client.get(ns, name).catch(() => undefined);

    const ghost = rolloutYaml({ name: "ghost", namespace: missing, version: "v1" });
    const broken = rolloutYaml({ name: "broken", namespace, version: "v1", steps: ["- setWeight: 150"] });
    const sha = await remote.commit({
      "rollouts/ghost.yaml": ghost,
      "rollouts/good.yaml": rolloutYaml({ name: "good", namespace, version: "v1" }),
      "rollouts/broken.yaml": broken,
    });
    await waitUntil("the good Rollout", async () => (await get(namespace, "good")) !== undefined, { timeoutMs: 20_000 });
    const invalidEvents = async (): Promise<CoreV1Event[]> => (await core.listNamespacedEvent({ namespace })).items.filter((e) => e.reason === "InvalidRollout");
    const about = (events: CoreV1Event[], file: string) => events.filter((e) => e.message?.startsWith(file));
    const namespaceLine = ghost.split("\n").findIndex((l) => l.includes("namespace:")) + 1;
    await waitUntil("the refused Rollout's Event", async () => about(await invalidEvents(), "rollouts/ghost.yaml").length > 0, { timeoutMs: 20_000 });
    const [told] = about(await invalidEvents(), "rollouts/ghost.yaml");
    expect(told?.message).toMatch(new RegExp(`^rollouts/ghost\\.yaml:${namespaceLine}:\\d+: metadata\\.namespace: namespace "${missing}" does not exist`));

    // Five more polls (1 s each): the commit counts as synced, and nothing is told again.
    await sleep(5_000);
    const lines = (text: string) => controller.output.filter((l) => l.includes(text));
    expect(lines('"msg":"synced commit"').filter((l) => l.includes(sha))).toHaveLength(1);
    expect(lines("invalid Rollout file: rollouts/ghost.yaml")).toHaveLength(1);
    expect(lines("invalid Rollout file: rollouts/broken.yaml")).toHaveLength(1);
    expect(about(await invalidEvents(), "rollouts/ghost.yaml")).toHaveLength(1);
    expect(about(await invalidEvents(), "rollouts/broken.yaml")).toHaveLength(1);
    expect(lines('"level":50')).toEqual([]); // no error lines ("mirror write failed")

    // Another commit: the problems that stay the same are not told again.
    await remote.commit({ "rollouts/good.yaml": rolloutYaml({ name: "good", namespace, version: "v2" }) });
    await waitUntil("the good Rollout at v2", async () => ((await get(namespace, "good"))?.spec as { version?: string } | undefined)?.version === "v2", { timeoutMs: 20_000 });
    await sleep(2_000);
    expect(lines("invalid Rollout file: rollouts/broken.yaml")).toHaveLength(1);
    expect(lines("invalid Rollout file: rollouts/ghost.yaml")).toHaveLength(1);
    expect(about(await invalidEvents(), "rollouts/broken.yaml")).toHaveLength(1);

    // The namespace appears: the next poll applies the Rollout, without a new commit.
    await core.createNamespace({ body: { metadata: { name: missing } } });
    cleanups.push(async () => {
      await core.deleteNamespace({ name: missing });
    });
    await waitUntil("the Rollout in the new namespace", async () => (await get(missing, "ghost")) !== undefined, { timeoutMs: 20_000 });
  });
});
