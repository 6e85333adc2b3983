import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { IncomingWebhook } from "@slack/webhook";
import { Queue, QueueEvents, Worker } from "bullmq";
import { Counter, Registry } from "prom-client";
import { PrometheusDriver } from "prometheus-query";
import { simpleGit } from "simple-git";
import { afterAll, describe, expect, it } from "vitest";
import { createGitRemote, registerTarget, startSlackReceiver, waitUntil } from "../env/index.js";
import { kubeConfig, services, uniqueName } from "./services.js";

const VS = { group: "networking.istio.io", version: "v1", plural: "virtualservices" } as const;

interface VirtualServiceShape {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { hosts: string[]; http: { name: string; route: { destination: { host: string; subset: string }; weight: number }[] }[] };
}

describe("the Kubernetes API server", () => {
  it("stores a VirtualService and applies a JSON patch and a merge patch to it", async () => {
    const kc = kubeConfig();
    const namespace = uniqueName("smoke");
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const objects = kc.makeApiClient(CustomObjectsApi);
    await objects.createNamespacedCustomObject({
      ...VS,
      namespace,
      body: {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name: "reviews" },
        spec: {
          hosts: ["reviews"],
          http: [
            {
              name: "primary",
              route: [
                { destination: { host: "reviews", subset: "v1" }, weight: 100 },
                { destination: { host: "reviews", subset: "v2" }, weight: 0 },
              ],
            },
          ],
        },
      },
    });

    await objects.patchNamespacedCustomObject({
      ...VS,
      namespace,
      name: "reviews",
      body: [
        { op: "replace", path: "/spec/http/0/route/0/weight", value: 90 },
        { op: "replace", path: "/spec/http/0/route/1/weight", value: 10 },
      ],
    });
    await objects.patchNamespacedCustomObject(
      { ...VS, namespace, name: "reviews", body: { metadata: { annotations: { "example.com/owner": "team-reviews" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );

    const vs = (await objects.getNamespacedCustomObject({ ...VS, namespace, name: "reviews" })) as VirtualServiceShape;
    expect(vs.spec.http[0]?.route.map((r) => [r.destination.subset, r.weight])).toEqual([
      ["v1", 90],
      ["v2", 10],
    ]);
    expect(vs.metadata.annotations?.["example.com/owner"]).toBe("team-reviews");
  });

  it("rejects a VirtualService that breaks Istio's real CRD schema", async () => {
    const objects = kubeConfig().makeApiClient(CustomObjectsApi);
    await expect(
      objects.createNamespacedCustomObject({
        ...VS,
        namespace: "default",
        body: { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "bad" }, spec: { hosts: "not-a-list" } },
      }),
    ).rejects.toMatchObject({ code: 422 });
  });

  it("enforces RBAC: a user without bindings may not list pods, the admin may", () => {
    const { kubectl, kubeconfigPath } = services();
    if (!kubectl) throw new Error("kubectl was not built; run bash scripts/k8s-binaries.sh");
    const canI = (...extra: string[]) => {
      try {
        return execFileSync(kubectl, ["--kubeconfig", kubeconfigPath, "auth", "can-i", "list", "pods", ...extra], { encoding: "utf8" }).trim();
      } catch (error) {
        return String((error as { stdout?: string }).stdout ?? "").trim();
      }
    };
    expect(canI()).toBe("yes");
    expect(canI("--as", "someone-else")).toBe("no");
  });
});

describe("Redis with BullMQ", () => {
  it("carries a job from a queue to a worker and its result back", async () => {
    const connection = { url: services().redisUrl, maxRetriesPerRequest: null };
    const name = uniqueName("smoke");
    const queue = new Queue(name, { connection });
    const events = new QueueEvents(name, { connection });
    const worker = new Worker(name, async (job) => ({ doubled: (job.data as { n: number }).n * 2 }), { connection });
    try {
      await events.waitUntilReady();
      const job = await queue.add("double", { n: 21 }, { jobId: "double-21" });
      await expect(job.waitUntilFinished(events, 15_000)).resolves.toEqual({ doubled: 42 });
      expect(await queue.getJobCounts("completed")).toEqual({ completed: 1 });
    } finally {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe("Prometheus", () => {
  let server: Server | undefined;
  let unregister: (() => void) | undefined;
  afterAll(async () => {
    unregister?.();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  });

  it("scrapes a prom-client counter and answers a PromQL query over it", async () => {
    const registry = new Registry();
    const marker = uniqueName("smoke");
    const counter = new Counter({ name: "tideway_smoke_total", help: "smoke", labelNames: ["marker"], registers: [registry] });
    counter.inc({ marker }, 42);
    server = createServer(async (_request, response) => {
      response.setHeader("content-type", registry.contentType);
      response.end(await registry.metrics());
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const { prometheusUrl, prometheusTargetsDir } = services();
    unregister = await registerTarget(prometheusUrl, prometheusTargetsDir, `127.0.0.1:${port}`, { smoke: marker });

    const prometheus = new PrometheusDriver({ endpoint: prometheusUrl });
    let value: number | undefined;
    await waitUntil(
      "the counter in Prometheus",
      async () => {
        const result = await prometheus.instantQuery(`sum(tideway_smoke_total{marker="${marker}", smoke="${marker}"})`);
        value = result.result[0]?.value.value;
        return value !== undefined;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    expect(value).toBe(42);
  });
});

describe("git", () => {
  it("pushes a commit to a bare remote that simple-git clones and then fetches the next one", async () => {
    const remote = await createGitRemote();
    const cloneDir = mkdtempSync(join(tmpdir(), "tideway-clone-"));
    try {
      const first = await remote.commit({ "rollouts/reviews.yaml": "version: v1\n" });
      await simpleGit().clone(remote.url, cloneDir, ["--branch", "main"]);
      const clone = simpleGit(cloneDir);
      expect((await clone.revparse(["HEAD"])).trim()).toBe(first);

      const second = await remote.commit({ "rollouts/reviews.yaml": "version: v2\n" });
      await clone.fetch("origin", "main");
      expect((await clone.revparse(["origin/main"])).trim()).toBe(second);
      await clone.reset(["--hard", "origin/main"]);
      expect(readFileSync(join(cloneDir, "rollouts/reviews.yaml"), "utf8")).toBe("version: v2\n");
    } finally {
      rmSync(cloneDir, { recursive: true, force: true });
      await remote.stop();
    }
  });
});

describe("the Slack receiver", () => {
  it("records an incoming-webhook post, and answers 429 with Retry-After when told to", async () => {
    const slack = await startSlackReceiver();
    try {
      const webhook = new IncomingWebhook(slack.webhookUrl);
      slack.failNext(1, 429, 7);
      await expect(webhook.send({ text: "reviews v2: canary started, 10%" })).rejects.toThrow();
      await webhook.send({ text: "reviews v2: canary started, 10%" });

      expect(slack.posts.map((p) => p.status)).toEqual([429, 200]);
      expect(slack.delivered().map((p) => p.body)).toEqual([{ text: "reviews v2: canary started, 10%" }]);
      expect(slack.posts[0]?.path).toBe("/services/T000TEST/B000TEST/testsecrettoken");
    } finally {
      await slack.stop();
    }
  });

  it("answers 500 for the next N posts, then 200 again", async () => {
    const slack = await startSlackReceiver();
    try {
      slack.failNext(2, 500);
      for (let i = 0; i < 3; i++) {
        await fetch(slack.webhookUrl, { method: "POST", body: JSON.stringify({ text: `m${i}` }) });
      }
      expect(slack.posts.map((p) => p.status)).toEqual([500, 500, 200]);
    } finally {
      await slack.stop();
    }
  });
});
