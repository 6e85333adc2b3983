import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { RolloutWatch } from "../../src/kube/informer.js";
import { freePort, waitUntil } from "../env/index.js";

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
    const watch = new RolloutWatch(kc, { onChange: () => undefined, onError: (_error, restartInMs) => delays.push(restartInMs), minBackoffMs: 100, maxBackoffMs: 800 });
    try {
      await watch.start();
      await waitUntil("five failed attempts", async () => delays.length >= 5, { timeoutMs: 10_000, intervalMs: 50 });
      expect(delays.slice(0, 5)).toEqual([100, 200, 400, 800, 800]);
    } finally {
      await watch.stop();
    }
  });
});
