/**
 * Adoption: how fast a first sync's Rollouts are adopted (each Rollout's first reconcile: its
 * VirtualService read, its stable adopted at 100%, status written, an Event). One controller,
 * compiled, with the image's settings; a fresh set of namespaces, a git source and a queue prefix
 * for each count. The services have a DestinationRule and a VirtualService but no pods (adoption
 * does not wait for them), so the setup is quick and 10,000 fit.
 * BENCH_BASELINE=1 runs each count first with `bench/without-pool.ts` (a TLS connection per API
 * request, as before PooledKubeConfig) and then as built.
 * BENCH_NODE_FLAGS adds flags to the controller's (e.g. a CPU profile).
 * BENCH_SNAPSHOT=<dir>: 15 s after adoption (the 5 s lists of DestinationRules have expired), a heap
 * snapshot into <dir> (SIGUSR2). The heap in use printed after it is read over /metrics while the
 * controller runs, so it is a few MB noisy; the snapshot's reachable total is the exact figure.
 * Run: npm run build && npx tsx bench/adoption.ts [counts=1000,2000]
 */
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { CoreV1Api } from "@kubernetes/client-node";
import { createGitRemote } from "../test/env/index.js";
import { IMAGE_NODE_FLAGS, startController } from "../test/env/controller-process.js";
import { benchServices, controllerMetric as metric, meshObjects, sleep } from "./lib.js";

const counts = (process.argv[2] ?? "1000,2000").split(",").map(Number);
const NAMESPACES = 10;
const modes = process.env.BENCH_BASELINE === "1" ? ["one connection per request", "as built"] : ["as built"];

function rollout(index: number, namespace: string): string {
  return `apiVersion: tideway.io/v1alpha1
kind: Rollout
metadata: { name: svc-${index}, namespace: ${namespace} }
spec:
  service: svc-${index}
  version: v1
  trafficRouting: { istio: { virtualService: { name: svc-${index} } } }
  steps:
    - setWeight: 10
    - pause: 10s
`;
}

const load = async () =>
  (await import("node:os"))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

const services = await benchServices();
const kc = services.kube.kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
try {
  let round = 0;
  for (const count of counts) {
    for (const mode of modes) {
      round++;
      const prefix = `adopt${round}`;
      const setup = Date.now();
      for (let n = 0; n < NAMESPACES; n++) await core.createNamespace({ body: { metadata: { name: `${prefix}-${n}` } } });
      for (let i = 0; i < count; i += 20) {
        await Promise.all(Array.from({ length: Math.min(20, count - i) }, (_, j) => meshObjects(kc, `${prefix}-${(i + j) % NAMESPACES}`, `svc-${i + j}`, { create: false, workloadVersions: [] })));
      }
      const remote = await createGitRemote();
      const files: Record<string, string> = {};
      for (let i = 0; i < count; i++) files[`rollouts/svc-${i}.yaml`] = rollout(i, `${prefix}-${i % NAMESPACES}`);
      await remote.commit(files, `${count} Rollouts`);
      console.error(`[bench] ${count} VirtualServices and DestinationRules in ${Date.now() - setup} ms`);
      const baseline = mode !== "as built";
      const loadBefore = await load();
      const controller = await startController({
        gitUrl: remote.url,
        endpoints: { kubeconfigPath: services.kube.kubeconfigPath, redisUrl: services.redis.url },
        prefix,
        logLevel: "warn",
        compiled: true,
        // With BENCH_BASELINE both runs load tsx (the baseline's patch is TypeScript), so their CPU compares.
        nodeFlags: [
          ...IMAGE_NODE_FLAGS,
          ...(modes.length > 1 ? ["--import", "tsx"] : []),
          ...(baseline ? ["--import", "./bench/without-pool.ts"] : []),
          // BENCH_NODE_FLAGS: more flags, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (written when the controller stops).
          ...(process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean),
          ...(process.env.BENCH_SNAPSHOT ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${process.env.BENCH_SNAPSHOT}`] : []),
        ],
        args: ["--git-source-name", prefix, "--git-interval", "2s", "--prometheus-url", services.prometheus.url, "--resync-interval", "5m"],
      });
      const started = Date.now();
      try {
        while ((await metric(controller.url, "tideway_release_events_total", { kind: "adopted" })) < count) {
          if (Date.now() - started > 900_000) throw new Error(`${count} Rollouts not adopted in 15 minutes`);
          await sleep(1_000);
        }
      } catch (error) {
        console.error(`[bench] controller output, last lines:\n${controller.output.slice(-30).join("\n")}`);
        throw error;
      }
      const ms = Date.now() - started;
      const cpu = await metric(controller.url, "process_cpu_seconds_total");
      const passes = await metric(controller.url, "tideway_reconcile_duration_seconds_count");
      console.log(
        `${count} Rollouts, ${mode}: adopted in ${(ms / 1000).toFixed(1)} s (${((count * 1000) / ms).toFixed(1)}/s), controller CPU ${cpu.toFixed(1)} s (${((cpu * 1000) / count).toFixed(1)} ms per Rollout), ${passes} reconcile passes; load average ${loadBefore} before, ${await load()} after`,
      );
      const snapshotDir = process.env.BENCH_SNAPSHOT;
      if (snapshotDir) {
        if (!existsSync(snapshotDir)) mkdirSync(snapshotDir, { recursive: true });
        await sleep(15_000);
        const before = new Set(readdirSync(snapshotDir));
        process.kill(controller.pid, "SIGUSR2");
        // Written when its size stops changing for 3 s.
        let file: string | undefined;
        for (let last = -1, still = 0; still < 3; await sleep(1_000)) {
          file ??= readdirSync(snapshotDir).find((f) => !before.has(f) && f.endsWith(".heapsnapshot"));
          const size = file ? statSync(`${snapshotDir}/${file}`).size : -1;
          still = size > 0 && size === last ? still + 1 : 0;
          last = size;
        }
        const mb = async (name: string) => ((await metric(controller.url, name)) / 1048576).toFixed(1);
        console.log(`${count} Rollouts: after a full GC, heap used ${await mb("nodejs_heap_size_used_bytes")} MB of ${await mb("nodejs_heap_size_total_bytes")} MB; snapshot ${snapshotDir}/${file}`);
      }
      await controller.stop();
      await remote.stop();
    }
  }
} finally {
  await services.stop();
}
