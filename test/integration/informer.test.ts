import { createServer, connect, type AddressInfo, type Socket } from "node:net";
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

/** A TCP relay to the API server that can go silent, as a connection through a dead NAT does: nothing errors, nothing arrives. */
async function relay(target: URL): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("data", (chunk) => void (frozen || upstream.write(chunk)));
    upstream.on("data", (chunk) => void (frozen || client.write(chunk)));
    client.on("end", () => frozen || upstream.end());
    upstream.on("end", () => frozen || client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    freeze: () => void (frozen = true),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("the Rollout watch on a connection that goes silent", () => {
  it("gives it up shortly after the watch's timeout and says it is not connected", async () => {
    const admin = kubeConfig();
    const server = new URL(admin.getCurrentCluster()?.server ?? "");
    const proxy = await relay(server);
    const kc = new KubeConfig();
    const options = JSON.parse(admin.exportConfig()) as { clusters: { cluster: { server: string } }[] };
    for (const c of options.clusters) c.cluster.server = `https://127.0.0.1:${proxy.port}`;
    kc.loadFromString(JSON.stringify(options));
    const errors: string[] = [];
    const watch = new RolloutWatch(kc, { onChange: () => undefined, onError: (error) => errors.push(error.message), watchTimeoutSeconds: 2, watchGraceMs: 3_000, minBackoffMs: 100 });
    try {
      await watch.start();
      await waitUntil("connected", async () => watch.connected, { timeoutMs: 10_000, intervalMs: 50 });
      // A few server-side timeouts pass: each ends the watch cleanly and it is taken up again.
      await new Promise((resolve) => setTimeout(resolve, 7_000));
      expect(errors).toEqual([]);
      expect(watch.connected).toBe(true);
      proxy.freeze();
      const frozenAt = Date.now();
      await waitUntil("the silent watch given up", async () => errors.length > 0, { timeoutMs: 15_000, intervalMs: 50 });
      expect(errors[0]).toMatch(/did not end 3000 ms after its 2 s timeout/);
      expect(watch.connected).toBe(false);
      console.log(`[measure] silent watch given up after ${Date.now() - frozenAt} ms (timeout 2 s + grace 3 s)`);
    } finally {
      await watch.stop();
      await proxy.close();
    }
  }, 60_000);
});
