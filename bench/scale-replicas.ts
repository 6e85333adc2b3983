/**
 * Scale on several replicas: N Rollouts in one repository, a tenth of them released at once, shared
 * by R controllers on one Redis (same --queue-prefix). For each size it prints, per replica: peak RSS,
 * CPU seconds and its share of the reconcile passes; and in all: time to adopt every Rollout, time to
 * promote the releases, VirtualService writes per weight change, status writes per step change, and
 * the Redis memory used, and the controllers' API requests per adoption and per release (from the
 * API server's audit log). One table row per size shows how each grows per Rollout.
 * Pods only for the releasing tenth (v1 and v2 each): Tideway reads a version's pods only while a
 * release may move, and 11,000 KWOK pods would take the 2 cores most of an hour to make; every
 * Rollout still has its Service (and so an EndpointSlice the namespace's watch sees).
 * Run: npm run build && npx tsx bench/scale-replicas.ts [sizes=1000,3000,10000] [replicas=2]
 * (fresh services for each size; 10,000 takes most of an hour on 2 cores).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { createGitRemote } from "../test/env/index.js";
import { startController, type ControllerProcess } from "../test/env/controller-process.js";
import { STATUS_WRITE_CAUSES } from "../src/controller/metrics.js";
import { controllerRequestsStreamed } from "./api-audit.js";
import { benchServices, controllerMetric as metric, meshObjects, rssMb, scaleRollout, SCALE_NAMESPACES, sleep } from "./lib.js";

const sizes = (process.argv[2] ?? "1000,3000,10000").split(",").map(Number);
const replicaCount = Number(process.argv[3] ?? 2);
const TIMEOUT_MS = 45 * 60_000;

/** The sum of a metric over every replica. */
async function total(replicas: ControllerProcess[], name: string, labels: Record<string, string> = {}): Promise<number> {
  let sum = 0;
  for (const replica of replicas) sum += await metric(replica.url, name, labels);
  return sum;
}

/** V8 flags of the replicas: BENCH_NODE_FLAGS, or the image's (its 80 MB heap is sized for 1,000 Rollouts). */
const nodeFlags = process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean);

/**
 * Polls every 5 s: each poll reads every replica's whole /metrics, which at 10,000 Rollouts is
 * megabytes of per-Rollout series, so polling faster would weigh on what is measured.
 */
async function waitFor(what: string, replicas: ControllerProcess[], done: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    const gone = replicas.find((r) => !existsSync(`/proc/${r.pid}`));
    if (gone) throw new Error(`${what}: replica ${gone.pid} exited; its last lines:\n${gone.output.slice(-25).join("\n")}`);
    try {
      if (await done()) return Date.now() - started;
    } catch (error) {
      // A poll that fails (a replica dying mid-answer, or too busy to answer) is retried; a dead
      // replica is reported with its last lines by the check above on the next round.
      console.error(
        `[bench] ${what}: a /metrics poll failed (${error instanceof Error ? `${error.message} ${String((error.cause as { code?: unknown } | undefined)?.code ?? "")}` : String(error)}); polling again`,
      );
      await sleep(1_000);
      continue;
    }
    if (Date.now() - started > TIMEOUT_MS) throw new Error(`${what}: not done in ${TIMEOUT_MS / 60_000} minutes`);
    await sleep(5_000);
  }
}

interface Row {
  rollouts: number;
  inFlight: number;
  adoptS: number;
  releaseS: number;
  rssMb: number[];
  /** V8 heap in use at the end, per replica. */
  heapMb: number[];
  cpuS: number[];
  share: number[];
  vsPerChange: number;
  /** Status writes per release (3 weight changes, 4 pauses' worth of check results). */
  statusPerRelease: number;
  statusCauses: string;
  /** Announcements beyond one per weight change (outbox replays: Events and Slack are keyed, so they stay one). */
  announcedAgain: number;
  /** Step and Promoted Events per release in the API server (3 when none is doubled), as min..max over the releases. */
  eventsPerRelease: string;
  redisMb: number;
  /** The controllers' API requests (audit log) while adopting, per Rollout, and while releasing, per release. */
  apiPerAdoption: number;
  apiPerRelease: number;
  apiKinds: string;
}

/** Step and Promoted Events of the released Rollouts (svc-0 .. svc-<inFlight - 1>), per Rollout: "min..max". */
async function releaseEvents(kc: KubeConfig, inFlight: number): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const per = new Map<string, number>();
  for (let n = 0; n < SCALE_NAMESPACES; n++) {
    const list = await core.listNamespacedEvent({ namespace: `scale-${n}`, fieldSelector: "involvedObject.kind=Rollout" });
    for (const event of list.items) {
      if (event.reason !== "Step" && event.reason !== "Promoted") continue;
      const name = event.involvedObject.name ?? "";
      per.set(name, (per.get(name) ?? 0) + 1);
    }
  }
  const counts = Array.from({ length: inFlight }, (_, i) => per.get(`svc-${i}`) ?? 0);
  return `${Math.min(...counts)}..${Math.max(...counts)}`;
}

const sum = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
const top = (counts: Map<string, number>, per: number) =>
  [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([kind, n]) => `${kind} ${(n / per).toFixed(2)}`)
    .join(", ");

async function measure(size: number): Promise<Row> {
  const inFlight = Math.max(1, Math.round(size / 10));
  const auditDir = mkdtempSync(join(tmpdir(), "tideway-bench-audit-"));
  const auditLogPath = join(auditDir, "audit.log");
  const services = await benchServices({ auditLogPath });
  const kc = services.kube.kubeConfig();
  const replicas: ControllerProcess[] = [];
  try {
    const core = kc.makeApiClient(CoreV1Api);
    for (let n = 0; n < SCALE_NAMESPACES; n++) await core.createNamespace({ body: { metadata: { name: `scale-${n}` } } });
    const objectsAt = Date.now();
    for (let i = 0; i < size; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, size - i) }, (_, j) =>
          meshObjects(kc, `scale-${(i + j) % SCALE_NAMESPACES}`, `svc-${i + j}`, { create: false, workloadVersions: i + j < inFlight ? ["v1", "v2"] : [] }),
        ),
      );
    }
    console.error(`[bench] ${size}: mesh objects in ${((Date.now() - objectsAt) / 1000).toFixed(0)} s`);
    const remote = await createGitRemote();
    const files: Record<string, string> = {};
    for (let i = 0; i < size; i++) files[`rollouts/svc-${i}.yaml`] = scaleRollout(i, "v1");
    await remote.commit(files, "all Rollouts");
    const startedAt = Date.now();
    for (let r = 0; r < replicaCount; r++) {
      replicas.push(
        await startController({
          gitUrl: remote.url,
          endpoints: { kubeconfigPath: services.kube.kubeconfigPath, redisUrl: services.redis.url },
          prefix: "scale",
          logLevel: "warn",
          compiled: true,
          ...(nodeFlags ? { nodeFlags } : {}),
          args: ["--git-source-name", "scale", "--git-interval", "2s", "--prometheus-url", services.prometheus.url, "--resync-interval", "5m"],
        }),
      );
    }
    const peak = replicas.map(() => 0);
    const sampler = setInterval(() => replicas.forEach((r, i) => existsSync(`/proc/${r.pid}`) && (peak[i] = Math.max(peak[i] ?? 0, rssMb(r.pid)))), 500);
    const adoptMs = await waitFor("adoption", replicas, async () => (await total(replicas, "tideway_release_events_total", { kind: "adopted" })) >= size);
    console.error(`[bench] ${size}: adopted in ${(adoptMs / 1000).toFixed(0)} s`);
    const adoptedAt = Date.now();
    const [vsBefore, statusBefore] = [await total(replicas, "tideway_virtualservice_writes_total"), await total(replicas, "tideway_status_writes_total")];
    const causes = STATUS_WRITE_CAUSES;
    const causesBefore = await Promise.all(causes.map((cause) => total(replicas, "tideway_status_write_causes_total", { cause })));

    const release: Record<string, string> = {};
    for (let i = 0; i < inFlight; i++) release[`rollouts/svc-${i}.yaml`] = scaleRollout(i, "v2");
    const releasedAt = Date.now();
    await remote.commit(release, `release ${inFlight}`);
    const releaseMs = await waitFor("releases", replicas, async () => (await total(replicas, "tideway_release_events_total", { kind: "promoted" })) >= inFlight);
    // Each release of scaleRollout changes the weight 3 times: 10, 50, then 100 at promotion.
    const changes = inFlight * 3;
    const announced = (await total(replicas, "tideway_release_events_total", { kind: "step" })) + (await total(replicas, "tideway_release_events_total", { kind: "promoted" }));
    // A promotion is counted when status records it, before its VirtualService write lands.
    const settling = Date.now();
    let vsWrites = 0;
    while ((vsWrites = (await total(replicas, "tideway_virtualservice_writes_total")) - vsBefore) < changes && Date.now() - settling < 10_000) await sleep(200);
    const statusWrites = (await total(replicas, "tideway_status_writes_total")) - statusBefore;
    const causesAfter = await Promise.all(causes.map((cause) => total(replicas, "tideway_status_write_causes_total", { cause })));
    const statusCauses = causes.map((cause, i) => `${cause} ${(((causesAfter[i] ?? 0) - (causesBefore[i] ?? 0)) / inFlight).toFixed(2)}`).join(", ");
    clearInterval(sampler);
    const passes = await Promise.all(replicas.map((r) => metric(r.url, "tideway_reconcile_duration_seconds_count")));
    const allPasses = passes.reduce((a, b) => a + b, 0);
    const settledAt = Date.now();
    const adoption = await controllerRequestsStreamed(auditLogPath, startedAt, adoptedAt);
    const releasing = await controllerRequestsStreamed(auditLogPath, releasedAt, settledAt);
    const redis = new Redis(services.redis.url);
    const used = Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1] ?? NaN);
    redis.disconnect();
    const row: Row = {
      rollouts: size,
      inFlight,
      adoptS: adoptMs / 1000,
      releaseS: releaseMs / 1000,
      rssMb: peak,
      heapMb: await Promise.all(replicas.map(async (r) => (await metric(r.url, "nodejs_heap_size_used_bytes")) / 1048576)),
      cpuS: await Promise.all(replicas.map((r) => metric(r.url, "process_cpu_seconds_total"))),
      share: passes.map((p) => p / allPasses),
      vsPerChange: vsWrites / changes,
      statusPerRelease: statusWrites / inFlight,
      statusCauses,
      announcedAgain: announced - changes,
      eventsPerRelease: await releaseEvents(kc, inFlight),
      redisMb: used / 1048576,
      apiPerAdoption: sum(adoption) / size,
      apiPerRelease: sum(releasing) / inFlight,
      apiKinds: `adoption: ${top(adoption, size)}; release: ${top(releasing, inFlight)}`,
    };
    await remote.stop();
    return row;
  } finally {
    for (const replica of replicas) await replica.stop().catch(() => undefined);
    await services.stop();
    rmSync(auditDir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const size of sizes) {
  const row = await measure(size);
  rows.push(row);
  console.error(`[bench] ${JSON.stringify(row)}`);
}
const list = (values: number[], digits: number) => values.map((v) => v.toFixed(digits)).join(" / ");
console.log(
  `| Rollouts (in flight) | adopt all | promote in flight | peak RSS per replica, MB | heap in use at the end, MB | CPU s per replica | reconcile share | VS writes per weight change | status writes per release | step Events per release | API requests per adoption / per release | Redis MB |`,
);
console.log(`| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`);
for (const r of rows) {
  console.log(
    `| ${r.rollouts} (${r.inFlight}) | ${r.adoptS.toFixed(0)} s | ${r.releaseS.toFixed(0)} s | ${list(r.rssMb, 0)} | ${list(r.heapMb, 0)} | ${list(r.cpuS, 1)} | ${list(
      r.share.map((s) => s * 100),
      0,
    )}% | ${r.vsPerChange.toFixed(2)} | ${r.statusPerRelease.toFixed(1)} | ${r.eventsPerRelease} | ${r.apiPerAdoption.toFixed(1)} / ${r.apiPerRelease.toFixed(1)} | ${r.redisMb.toFixed(1)} |`,
  );
}
console.log(`replicas' V8 flags: ${(nodeFlags ?? ["(the image's)"]).join(" ")}`);
for (const r of rows) console.log(`${r.rollouts}: step and promoted announcements beyond one per change (outbox replays, keyed): ${r.announcedAgain}`);
// "step": the release started, moved a step or a weight, or ended; the others are checks' results, traffic confirmed, outboxes cleared.
for (const r of rows) console.log(`${r.rollouts}: status writes per release by what changed: ${r.statusCauses}`);
for (const r of rows) console.log(`${r.rollouts}: most frequent requests (per Rollout or release): ${r.apiKinds}`);
if (rows.length > 1) {
  const [first, last] = [rows[0] as Row, rows.at(-1) as Row];
  const per = (a: number, b: number) => ((b - a) / (last.rollouts - first.rollouts)) * 1000;
  console.log(
    `growth per 1,000 Rollouts: RSS ${per(Math.max(...first.rssMb), Math.max(...last.rssMb)).toFixed(1)} MB (largest replica), CPU ${per(
      first.cpuS.reduce((a, b) => a + b, 0),
      last.cpuS.reduce((a, b) => a + b, 0),
    ).toFixed(1)} s (all replicas), Redis ${per(first.redisMb, last.redisMb).toFixed(2)} MB, adoption ${per(first.adoptS, last.adoptS).toFixed(0)} s`,
  );
}
