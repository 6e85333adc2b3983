import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { RolloutWatch } from "../../src/kube/informer.js";
import { freePort, waitUntil } from "../env/index.js";
import { kubeConfig } from "./services.js";

describe("the Rollout watch when the API server cannot be reached", () => {
  it("backs off longer and longer between attempts, up to the maximum", async () => {
    const port = await freePort();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "gone", server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "nobody", token: "t" }],
      contexts: [{ name: "gone", cluster: "gone", user: "nobody" }],
      currentContext: "gone",
    });
    const delays: number[] = [];
    let connects = 0;
    const watch = new RolloutWatch(kc, { onChange: () => undefined, onError: (_error, restartInMs) => delays.push(restartInMs), onConnect: () => connects++, minBackoffMs: 100, maxBackoffMs: 800 });
    try {
      await watch.start();
      await waitUntil("five failed attempts", async () => delays.length >= 5, { timeoutMs: 10_000, intervalMs: 50 });
      expect(delays.slice(0, 5)).toEqual([100, 200, 400, 800, 800]);
      // Never connected, not even for a moment between an attempt's start and its failure (/readyz).
      expect(connects).toBe(0);
      expect(watch.connected).toBe(false);
    } finally {
      await watch.stop();
    }
  });
});

describe("the Rollout watch on the real API server", () => {
  it("is connected once it has listed and its watch is answered", async () => {
    let connects = 0;
    const changes: string[] = [];
    const watch = new RolloutWatch(kubeConfig(), { onChange: (ref, kind) => changes.push(`${kind} ${ref.name}`), onConnect: () => connects++, labelSelector: "tideway.io/test=informer-none" });
    try {
      await watch.start();
      await waitUntil("connected", async () => watch.connected, { timeoutMs: 10_000, intervalMs: 50 });
      expect(connects).toBe(1);
      expect(changes).toEqual([]);
    } finally {
      await watch.stop();
    }
  });
});
