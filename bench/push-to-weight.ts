/**
 * Git push to first weight shift, with a webhook and by polling.
 * Target: < 1 s with the webhook; <= poll interval + 1 s without.
 * Run: npx tsx bench/push-to-weight.ts [rounds]
 */
import { createHmac } from "node:crypto";
import { createGitRemote } from "../test/env/index.js";
import { startController } from "../test/env/controller-process.js";
import { benchServices, canaryWeight, meshObjects, releasedVersions, sleep, summary } from "./lib.js";

const rounds = Number(process.argv[2] ?? 5);
const POLL_MS = 2_000;

function rollout(namespace: string, version: string): string {
  return `apiVersion: tideway.io/v1alpha1
kind: Rollout
metadata: { name: reviews, namespace: ${namespace} }
spec:
  service: reviews
  version: ${version}
  trafficRouting: { istio: { virtualService: { name: reviews } } }
  steps:
    - setWeight: 10
    - pause: 1h
`;
}

const services = await benchServices();
const kc = services.kube.kubeConfig();
const endpoints = { kubeconfigPath: services.kube.kubeconfigPath, redisUrl: services.redis.url };
try {
  for (const mode of ["webhook", "poll"] as const) {
    const namespace = `bench-${mode}`;
    await meshObjects(kc, namespace, "reviews", { workloadVersions: releasedVersions(rounds) });
    const remote = await createGitRemote();
    await remote.commit({ "rollouts/reviews.yaml": rollout(namespace, "v1") });
    const secret = "bench-webhook-secret";
    const controller = await startController({
      gitUrl: remote.url,
      endpoints,
      prefix: `bench${mode}`,
      logLevel: "warn",
      args: ["--git-source-name", namespace, "--git-interval", mode === "webhook" ? "1h" : `${POLL_MS / 1000}s`, "--prometheus-url", services.prometheus.url],
      env: { TIDEWAY_WEBHOOK_SECRET: secret },
    });
    await sleep(3_000);
    const times: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const version = `v${round + 2}`;
      await remote.commit({ "rollouts/reviews.yaml": rollout(namespace, version) });
      const pushed = Date.now();
      if (mode === "webhook") {
        const body = JSON.stringify({ ref: "refs/heads/main" });
        await fetch(`${controller.url}/webhooks/github`, {
          method: "POST",
          body,
          headers: { "x-github-event": "push", "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}` },
        });
      }
      while ((await canaryWeight(kc, namespace, "reviews", version)) === 0) {
        if (Date.now() - pushed > 30_000) throw new Error(`${mode}: no weight shift for ${version} within 30 s`);
        await sleep(20);
      }
      times.push(Date.now() - pushed);
      await sleep(500 + Math.random() * POLL_MS); // land the next push at a different point of the poll cycle
    }
    const target = mode === "webhook" ? "target < 1000 ms" : `target <= ${POLL_MS + 1000} ms (poll ${POLL_MS} ms + 1 s)`;
    console.log(`push -> first weight shift (${mode}): ${summary(times)}; ${target}`);
    await controller.stop();
    await remote.stop();
  }
} finally {
  await services.stop();
}
