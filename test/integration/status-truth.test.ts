/**
 * Status says what is really true, as a user reads it with `tideway status`: a Prometheus that
 * accepts connections and never answers shows up as slow analysis, and a VirtualService that
 * cannot be written is "traffic not applied", never "100% of traffic".
 */
import { execFile } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";
import { promisify } from "node:util";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { createWorld, VS, type World } from "./release-harness.js";
import { kubeConfig, services } from "./services.js";

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** The real CLI, as a user runs it. */
async function tidewayStatus(world: World): Promise<string> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "src/main.ts", "status", "reviews", "-n", world.namespace, "--kubeconfig", services().kubeconfigPath], {
    cwd: new URL("../../", import.meta.url),
  });
  return stdout;
}

/** A TCP server that accepts connections and never says a word: a hung Prometheus. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("status, read as a user reads it", () => {
  it("names a Prometheus that does not answer, in status and in tideway status", async () => {
    const silent = await silentServer();
    cleanups.push(() => silent.close());
    const world = await createWorld({ controllerArgs: ["--prometheus-url", silent.url, "--prometheus-timeout", "2s"] });
    cleanups.push(() => world.stop());
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy");
    await world.release("v2", { steps: ["- setWeight: 20", "- pause: 1m", "- setWeight: 60", "- pause: 1m"] });

    const status = await world.waitForStatus((s) => (s.release?.checks.errored ?? 0) > 0, 60_000);
    expect(status.message).toMatch(/^v2 at 20%, step 2\/4: pause 1m, 0 passing checks; last check success-rate error: .*no answer from \S+ within 2000 ms/);
    const table = await tidewayStatus(world);
    expect(table).toMatch(/success-rate - \(error: .*no answer from \S+ within 2000 ms/);
  });

  it("does not say 100% of traffic while the VirtualService cannot be written", async () => {
    const world = await createWorld();
    cleanups.push(() => world.stop());
    await kubeConfig()
      .makeApiClient(CustomObjectsApi)
      .deleteNamespacedCustomObject({ ...VS, namespace: world.namespace, name: "reviews" });
    await world.release("v1");
    const status = await world.waitForStatus((s) => s.conditions.some((c) => c.type === "TrafficApplied" && c.status === "False"));
    expect(status.message).toMatch(/^v1 is stable; traffic not applied \(retrying\): /);
    expect(status.message).not.toContain("100%");
    expect(await tidewayStatus(world)).toContain("traffic not applied (retrying)");
  });
});
