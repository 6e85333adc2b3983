import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { RolloutClient } from "../../src/kube/rollouts.js";
import { createGitRemote, startRedis, waitUntil } from "../env/index.js";
import { startController } from "./controller-process.js";
import { rolloutYaml } from "./rollout-yaml.js";
import { kubeConfig, uniqueName } from "./services.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe("a Redis that needs a password", () => {
  it("is reached through --redis-url-file (the chart's Secret), and its password reaches no log", async () => {
    const password = "r3dis-Pa55/word";
    const redis = await startRedis({ password });
    cleanups.push(() => redis.stop());
    const dir = mkdtempSync(join(tmpdir(), "tideway-redis-url-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const urlFile = join(dir, "redis-url");
    writeFileSync(urlFile, `${redis.url}\n`);
    expect(redis.url).toContain(encodeURIComponent(password));

    const namespace = uniqueName("redisauth");
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: namespace } } });
    const remote = await createGitRemote();
    cleanups.push(() => remote.stop());
    await remote.commit({ "rollouts/reviews.yaml": rolloutYaml({ name: "reviews", namespace, version: "v1" }) });
    // --redis-url points at nothing: only the file's URL (with the password) can make this work.
    const controller = await startController({
      gitUrl: remote.url,
      args: ["--git-source-name", namespace],
      env: { TIDEWAY_REDIS_URL_FILE: urlFile },
      endpoints: { redisUrl: "redis://127.0.0.1:1" },
    });
    cleanups.push(() => controller.stop());

    await waitUntil("/readyz", async () => (await fetch(`${controller.url}/readyz`).catch(() => undefined))?.ok ?? false, { timeoutMs: 30_000, intervalMs: 200 });
    // A git sync is a BullMQ job: the Rollout appearing proves the queues run on that Redis.
    const client = new RolloutClient(kubeConfig());
    await waitUntil("the Rollout mirrored from git", async () => (await client.get(namespace, "reviews").catch(() => undefined)) !== undefined, { timeoutMs: 30_000, intervalMs: 200 });
    expect(controller.output.join("\n")).not.toContain(password);
    expect(controller.output.join("\n")).not.toContain(encodeURIComponent(password));
  });
});
