/**
 * Scale: N Rollouts in one repo, M releases in flight on one replica.
 * Targets: < 150 MB RSS; exactly one VirtualService write per weight change; one Prometheus
 * query per metric per analysis run.
 * Run: npm run build && npx tsx bench/scale.ts [rollouts=1000] [inFlight=100]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createGitRemote } from "../test/env/index.js";
import { startController } from "../test/env/controller-process.js";
import { benchServices, controllerMetric as metric, meshObjects, rssMb, scaleRollout as rollout, SCALE_NAMESPACES as NAMESPACES, sleep } from "./lib.js";

const total = Number(process.argv[2] ?? 1000);
const inFlight = Number(process.argv[3] ?? 100);

/** Where the resident memory is: anonymous (heap, malloc) vs file-backed (the node binary). */
function smapsMb(pid: number): string {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return `anonymous ${(kb("Anonymous") / 1024).toFixed(0)} MB, file-backed ${((kb("Rss") - kb("Anonymous")) / 1024).toFixed(0)} MB`;
}

/** The V8 heap as the controller's own /metrics reports it (prom-client's default metrics). */
async function heapMb(url: string): Promise<string> {
  const mb = async (name: string, labels: Record<string, string> = {}) => ((await metric(url, name, labels)) / 1048576).toFixed(0);
  const seconds = async (name: string) => (await metric(url, name)).toFixed(1);
  return `heap used ${await mb("nodejs_heap_size_used_bytes")} MB of ${await mb("nodejs_heap_size_total_bytes")} MB (old ${await mb("nodejs_heap_space_size_used_bytes", { space: "old" })}, code ${await mb("nodejs_heap_space_size_used_bytes", { space: "code" })}), external ${await mb("nodejs_external_memory_bytes")} MB; GC ${await seconds("nodejs_gc_duration_seconds_sum")} s of ${await seconds("process_cpu_seconds_total")} s CPU`;
}

/** BENCH_ENV="NAME=value NAME=value": extra environment for the controller (e.g. MALLOC_ARENA_MAX). */
const benchEnv = Object.fromEntries(
  (process.env.BENCH_ENV ?? "")
    .split(" ")
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
);

const services = await benchServices();
const kc = services.kube.kubeConfig();
try {
  const started = Date.now();
  for (let n = 0; n < NAMESPACES; n++) await kc.makeApiClient((await import("@kubernetes/client-node")).CoreV1Api).createNamespace({ body: { metadata: { name: `scale-${n}` } } });
  for (let i = 0; i < total; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, total - i) }, (_, j) =>
        meshObjects(kc, `scale-${(i + j) % NAMESPACES}`, `svc-${i + j}`, { create: false, workloadVersions: i + j < inFlight ? ["v1", "v2"] : ["v1"] }),
      ),
    );
  }
  console.error(`[bench] ${total} VirtualServices, DestinationRules, Services and Deployments (${total + Math.min(inFlight, total)} ready pods) in ${Date.now() - started} ms`);
  const remote = await createGitRemote();
  const files: Record<string, string> = {};
  for (let i = 0; i < total; i++) files[`rollouts/svc-${i}.yaml`] = rollout(i, "v1");
  await remote.commit(files, "all Rollouts");
  const controller = await startController({
    gitUrl: remote.url,
    endpoints: { kubeconfigPath: services.kube.kubeconfigPath, redisUrl: services.redis.url },
    prefix: "scale",
    logLevel: "warn",
    compiled: true,
    ...(process.env.BENCH_NODE_FLAGS !== undefined ? { nodeFlags: process.env.BENCH_NODE_FLAGS.split(" ").filter(Boolean) } : {}),
    env: benchEnv,
    args: ["--git-source-name", "scale", "--git-interval", "2s", "--prometheus-url", services.prometheus.url, "--resync-interval", "5m"],
  });
  console.error(`[bench] controller started: RSS ${rssMb(controller.pid).toFixed(0)} MB; ${smapsMb(controller.pid)}`);
  let peak = 0;
  let atPeak = "";
  const sampler = setInterval(() => {
    const rss = rssMb(controller.pid);
    if (rss > peak) {
      peak = rss;
      atPeak = smapsMb(controller.pid);
    }
  }, 500);
  const adopted = Date.now();
  while ((await metric(controller.url, "tideway_release_events_total", { kind: "adopted" })) < total) {
    if (Date.now() - adopted > 600_000) throw new Error("adoption did not finish in 10 minutes");
    await sleep(1_000);
  }
  console.log(`adopted ${total} Rollouts in ${Date.now() - adopted} ms; RSS ${rssMb(controller.pid).toFixed(0)} MB`);
  console.error(`[bench] after adoption: ${smapsMb(controller.pid)}; ${await heapMb(controller.url)}`);
  // BENCH_SNAPSHOT=1 with BENCH_NODE_FLAGS="... --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp/...": a heap snapshot now.
  if (process.env.BENCH_SNAPSHOT) process.kill(controller.pid, "SIGUSR2");
  const writesBefore = await metric(controller.url, "tideway_virtualservice_writes_total");

  const release: Record<string, string> = {};
  for (let i = 0; i < inFlight; i++) release[`rollouts/svc-${i}.yaml`] = rollout(i, "v2");
  await remote.commit(release, `release ${inFlight}`);
  const releasing = Date.now();
  while ((await metric(controller.url, "tideway_release_events_total", { kind: "promoted" })) < inFlight) {
    if (Date.now() - releasing > 600_000) throw new Error("releases did not finish in 10 minutes");
    await sleep(1_000);
  }
  const releaseMs = Date.now() - releasing;
  const steps = await metric(controller.url, "tideway_release_events_total", { kind: "step" });
  const promoted = await metric(controller.url, "tideway_release_events_total", { kind: "promoted" });
  const weightChanges = steps + promoted;
  // A promotion is counted when status records it, before its VirtualService write: give the last
  // writes up to 10 s to land, so the ratio below does not count writes still in flight as missing.
  const settling = Date.now();
  let writes = 0;
  while ((writes = (await metric(controller.url, "tideway_virtualservice_writes_total")) - writesBefore) < weightChanges && Date.now() - settling < 10_000) await sleep(200);
  clearInterval(sampler);
  peak = Math.max(peak, rssMb(controller.pid));
  const queries = await metric(controller.url, "tideway_prometheus_query_duration_seconds_count", { metric: "always-good" });
  const checks = await metric(controller.url, "tideway_analysis_checks_total", { metric: "always-good" });
  const statusWrites = await metric(controller.url, "tideway_status_writes_total");
  console.log(`${inFlight} releases of ${total} Rollouts promoted in ${releaseMs} ms`);
  console.log(`peak RSS ${peak.toFixed(0)} MB (target < 150 MB)`);
  console.error(`[bench] at the peak: ${atPeak}; at the end: ${await heapMb(controller.url)}`);
  console.log(`VirtualService writes ${writes} for ${weightChanges} weight changes: ${(writes / weightChanges).toFixed(2)} per change (target 1)`);
  console.log(`Prometheus queries ${queries} for ${checks} metric checks: ${(queries / checks).toFixed(2)} per metric per run (target 1)`);
  console.log(`status writes ${statusWrites} in all (adoption included)`);
  console.log(
    `reconcile passes ${await metric(controller.url, "tideway_reconcile_duration_seconds_count")} in all; controller CPU ${(await metric(controller.url, "process_cpu_seconds_total")).toFixed(1)} s`,
  );
  await controller.stop();
  // BENCH_CONTROLLER_LOG=<file>: the controller's output (e.g. with --trace-gc in BENCH_NODE_FLAGS).
  if (process.env.BENCH_CONTROLLER_LOG) writeFileSync(process.env.BENCH_CONTROLLER_LOG, controller.output.join("\n") + "\n");
  await remote.stop();
} finally {
  await services.stop();
}
