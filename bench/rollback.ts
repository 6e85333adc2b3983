/**
 * How fast a release is taken back: canary to 0% and stable to 100% in the VirtualService.
 * - guard: a canary answering 30% errors, checks only every minute, guard every second.
 *   Target: within 3 Prometheus scrape intervals (1 s here) of the errors starting.
 * - analysis: the same canary with the guard off and a success-rate check every 3 s.
 * - abort: a healthy canary, `tideway.io/abort` annotated on the live Rollout. Target: < 1 s.
 * Each round times from the canary's first weight in the VirtualService (when its errors start)
 * or from the annotation being written, to the weights read back at 100% stable.
 * Run: npx tsx bench/rollback.ts [rounds]
 */
import { RolloutClient } from "../src/kube/rollouts.js";
import { createGitRemote, startMeshSimulator } from "../test/env/index.js";
import { startController } from "../test/env/controller-process.js";
import { benchServices, canaryWeight, meshObjects, releasedVersions, sleep, summary } from "./lib.js";

const rounds = Number(process.argv[2] ?? 5);
const SCRAPE_MS = 1_000; // the test Prometheus scrapes its targets every second

const ANALYSIS = {
  guard: ["  analysis:", "    interval: 1m", "    minRequests: 5", "    metrics: [{ name: success-rate, min: 0.95 }]", "    guard: { interval: 1s }"],
  analysis: ["  analysis:", "    interval: 3s", "    minRequests: 5", "    metrics: [{ name: success-rate, min: 0.95 }]", "    guard: { enabled: false }"],
  abort: ["  analysis:", "    interval: 1m", "    minRequests: 5", "    metrics: [{ name: success-rate, min: 0.95 }]"],
} as const;
type Mode = keyof typeof ANALYSIS;

function rollout(namespace: string, version: string, mode: Mode): string {
  return [
    "apiVersion: tideway.io/v1alpha1",
    "kind: Rollout",
    `metadata: { name: reviews, namespace: ${namespace} }`,
    "spec:",
    "  service: reviews",
    `  version: ${version}`,
    "  trafficRouting: { istio: { virtualService: { name: reviews } } }",
    "  steps:",
    "    - setWeight: 20",
    "    - pause: 1h",
    ...ANALYSIS[mode],
    "",
  ].join("\n");
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

const services = await benchServices();
const kc = services.kube.kubeConfig();
const endpoints = { kubeconfigPath: services.kube.kubeconfigPath, redisUrl: services.redis.url };
const client = new RolloutClient(kc);
try {
  for (const mode of ["guard", "analysis", "abort"] as const) {
    const namespace = `bench-rollback-${mode}`;
    await meshObjects(kc, namespace, "reviews", { workloadVersions: releasedVersions(rounds) });
    const mesh = await startMeshSimulator({
      kubeConfig: kc,
      namespace,
      service: "reviews",
      rate: 100,
      behaviour: {},
      prometheus: { url: services.prometheus.url, targetsDir: services.prometheus.targetsDir },
    });
    const remote = await createGitRemote();
    await remote.commit({ "rollouts/reviews.yaml": rollout(namespace, "v1", mode) });
    const controller = await startController({
      gitUrl: remote.url,
      endpoints,
      prefix: `benchrb${mode}`,
      logLevel: "warn",
      args: ["--git-source-name", namespace, "--prometheus-url", services.prometheus.url],
    });
    const times: number[] = [];
    const reasons = new Set<string>();
    try {
      await until("v1 adopted", async () => ((await client.get(namespace, "reviews").catch(() => undefined))?.status as { phase?: string } | undefined)?.phase === "Healthy");
      for (let round = 0; round < rounds; round++) {
        const version = `v${round + 2}`;
        mesh.setBehaviour(version, { errorRate: mode === "abort" ? 0 : 0.3, latencyMs: 20 });
        await remote.commit({ "rollouts/reviews.yaml": rollout(namespace, version, mode) });
        await until(`${version} canary weight`, async () => (await canaryWeight(kc, namespace, "reviews", version)) > 0);
        let started = Date.now();
        if (mode === "abort") {
          await sleep(500);
          started = Date.now();
          await client.patchMetadata(namespace, "reviews", { annotations: { "tideway.io/abort": "bench" } });
        }
        await until(`${version} back to stable`, async () => (await canaryWeight(kc, namespace, "reviews", version)) === 0 && (await canaryWeight(kc, namespace, "reviews", "v1")) === 100);
        times.push(Date.now() - started);
        const status = (await client.get(namespace, "reviews")).status as { history?: { reason?: string }[] } | undefined;
        reasons.add((status?.history?.at(-1)?.reason ?? "?").replace(/[\d.]+%? of \d+|0\.\d+/g, "N"));
        await sleep(1_000 + Math.random() * SCRAPE_MS); // start the next canary at another point of the scrape cycle
      }
    } finally {
      await controller.stop();
      await mesh.stop();
      await remote.stop();
    }
    const target = mode === "abort" ? "target < 1000 ms" : `target <= ${3 * SCRAPE_MS} ms (3 scrapes of ${SCRAPE_MS} ms)${mode === "analysis" ? "; checks every 3 s, no guard" : ""}`;
    console.log(`rollback (${mode}): ${summary(times)}; ${target}; reasons: ${[...reasons].join(" | ")}`);
  }
} finally {
  await services.stop();
}
