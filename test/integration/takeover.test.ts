/**
 * Take-over: two replicas on one Redis, each querying Prometheus through its own slow proxy (3 s a
 * query), so "which replica runs this analysis" is seen from outside. When one proxy receives a
 * query, its replica is SIGKILLed in the middle of that job; the other replica must run the job
 * within a few seconds (BullMQ hands it back once the dead worker's lock lapses). Several rounds;
 * the figure is printed. The release is then promoted, with weights integers summing to 100.
 */
import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { startController, type ControllerProcess } from "../env/controller-process.js";
import { createWorld } from "./release-harness.js";
import { services } from "./services.js";

const QUERY_DELAY_MS = 3_000;
const ROUNDS = 4;

interface SlowPrometheus {
  url: string;
  /** When each query arrived (ms since the epoch). */
  queries: number[];
  close(): Promise<void>;
}

/** Forwards to the test Prometheus after QUERY_DELAY_MS: an analysis job stays running that long. */
async function slowPrometheus(target: string): Promise<SlowPrometheus> {
  const queries: number[] = [];
  const server: Server = createServer((request, response) => {
    queries.push(Date.now());
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      setTimeout(() => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(request.headers)) if (typeof value === "string" && name !== "host" && name !== "connection") headers[name] = value;
        fetch(new URL(request.url ?? "/", target), { method: request.method ?? "GET", headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) }).then(
          async (answer) => response.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" }).end(Buffer.from(await answer.arrayBuffer())),
          () => response.writeHead(502).end(),
        );
      }, QUERY_DELAY_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    queries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const ANALYSIS = [
  "  analysis:",
  "    interval: 2s",
  "    minRequests: 5",
  "    inconclusiveLimit: 100",
  "    onInconclusive: pause",
  "    metrics:",
  "      - name: success-rate",
  "        min: 0.95",
  "    guard: { enabled: false }",
].join("\n");

describe("a replica killed mid-reconcile", () => {
  it(`has its job carried on by the other replica within a few seconds (${ROUNDS} rounds)`, async () => {
    const proxies = [await slowPrometheus(services().prometheusUrl), await slowPrometheus(services().prometheusUrl)] as const;
    cleanups.push(() => Promise.all(proxies.map((p) => p.close())).then(() => undefined));
    // The resync is out of the way: only BullMQ's stall check can hand the job over.
    const world = await createWorld({ controllerArgs: ["--resync-interval", "10m", "--prometheus-url", proxies[0].url] });
    cleanups.push(() => world.stop());
    const replica = (proxy: SlowPrometheus): Promise<ControllerProcess> =>
      startController({
        gitUrl: world.remote.url,
        prefix: `w${world.namespace.replace(/-/g, "")}`,
        endpoints: services(),
        args: ["--git-source-name", world.namespace, "--resync-interval", "10m", "--prometheus-url", proxy.url],
      });
    // replicas[i] queries through proxies[i]; the world's controller is replica 0 until it is killed.
    const replicas: ControllerProcess[] = [world.controller, await replica(proxies[1])];
    cleanups.push(() => Promise.all(replicas.map((r) => r.stop())).then(() => undefined));

    await world.release("v1", { analysis: "" });
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    await world.release("v2", { analysis: ANALYSIS, steps: ["- setWeight: 20", "- pause: {}"] });
    await world.waitForStatus((s) => s.release?.version === "v2" && s.release.trafficApplied);

    const takeovers: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      // The next query on either proxy: that replica is mid-analysis. Kill it there.
      const seen = proxies.map((p) => p.queries.length);
      const started = Date.now();
      while (proxies.every((p, i) => p.queries.length === seen[i])) {
        if (Date.now() - started > 60_000) throw new Error("no analysis query within 60 s");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const victim = proxies[0].queries.length > (seen[0] ?? 0) ? 0 : 1;
      const survivor = 1 - victim;
      await replicas[victim]?.kill();
      const killedAt = Date.now();
      const before = proxies[survivor]?.queries.length ?? 0;
      while ((proxies[survivor]?.queries.length ?? 0) === before) {
        if (Date.now() - killedAt > 60_000) throw new Error("the surviving replica did not take the analysis over within 60 s");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      takeovers.push((proxies[survivor]?.queries[before] ?? 0) - killedAt);
      console.log(`[take-over] round ${round + 1}: replica ${victim} killed mid-analysis, replica ${survivor} ran it ${takeovers.at(-1)} ms later`);
      // A new replica in place of the dead one, on the same proxy.
      replicas[victim] = await replica(proxies[victim]);
    }
    console.log(`[take-over] a job of a SIGKILLed replica ran on the other after ${takeovers.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ")} (${ROUNDS} rounds)`);

    await world.rollouts.patchMetadata(world.namespace, "reviews", { annotations: { "tideway.io/promote": "full" } });
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 60_000);
    await world.waitForWeights((w) => w.v2 === 100 && Object.keys(w).length === 1);
    // Lock 5 s (renewed every 2.5 s) + a stall check every second: 6.5 s at worst on an idle machine.
    for (const ms of takeovers) expect(ms).toBeLessThan(10_000);
  }, 300_000);
});
