/**
 * Readiness gating: git commit (webhook) to first weight shift including pod readiness, the
 * wake-up from a pod becoming ready to weight moving, and the API requests one release costs.
 *   gated     versions already deployed and ready: the gate's overhead, against
 *   ungated   the same build with readiness gating off (bench/without-readiness.ts)
 *   workload  spec.workload: Tideway makes the canary's Deployment; KWOK makes its pod ready
 *   late-pod  the canary's pod is Running, never Ready, until the benchmark marks it Ready
 * Each release: setWeight 10, pause 2s, setWeight 50, pause 2s, promote (analysis every 1 s).
 * Requests are counted from the API server's audit log, from the push to the promotion settled.
 * Run: npm run build && npx tsx bench/readiness.ts [rounds=5] [modes=gated,ungated,workload,late-pod]
 */
import { createHmac } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { BAD_POD_LABELS, createGitRemote, createMesh, waitForReadyEndpoints, type GitRemote } from "../test/env/index.js";
import { IMAGE_NODE_FLAGS, startController, type ControllerProcess } from "../test/env/controller-process.js";
import { kubeRequest } from "../test/env/kube.js";
import { controllerRequests, medianCounts } from "./api-audit.js";
import { benchServices, controllerMetric, releasedVersions, sleep, summary } from "./lib.js";

const rounds = Number(process.argv[2] ?? 5);
const MODES = ["gated", "ungated", "workload", "late-pod"] as const;
type Mode = (typeof MODES)[number];
const modes = (process.argv[3]?.split(",") ?? MODES) as Mode[];
const SECRET = "bench-webhook-secret";
const SERVICE = "reviews";

const WORKLOAD = `  workload:
    replicas: 1
    scaleDownDelay: 1s
    template:
      metadata:
        labels: { app: ${SERVICE}, version: '{{ version }}' }
      spec:
        containers:
          - name: ${SERVICE}
            image: 'example.com/${SERVICE}:{{ version }}'
`;

function rollout(namespace: string, version: string, mode: Mode): string {
  return `apiVersion: tideway.io/v1alpha1
kind: Rollout
metadata: { name: ${SERVICE}, namespace: ${namespace} }
spec:
  service: ${SERVICE}
  version: ${version}
  trafficRouting: { istio: { virtualService: { name: ${SERVICE} } } }
  steps:
    - setWeight: 10
    - pause: 2s
    - setWeight: 50
    - pause: 2s
  analysis:
    interval: 1s
    metrics:
      - name: always-good
        query: vector(1)
        min: 0.5
    guard: { enabled: false }
${mode === "workload" ? WORKLOAD : ""}`;
}

const auditLogPath = join(mkdtempSync(join(tmpdir(), "tideway-bench-audit-")), "audit.log");
const services = await benchServices({ auditLogPath });
const kc = services.kube.kubeConfig();

/** The benchmark's own reads and writes go through kubeRequest (no user agent): the audit count leaves them out. */
async function get<T>(path: string): Promise<T> {
  const response = await kubeRequest(kc, "GET", path);
  if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as T;
}

async function weightOf(namespace: string, version: string): Promise<number> {
  const vs = await get<{ spec: { http: { route: { destination: { subset?: string }; weight?: number }[] }[] } }>(`/apis/networking.istio.io/v1/namespaces/${namespace}/virtualservices/${SERVICE}`);
  const route = vs.spec.http[0]?.route ?? [];
  const found = route.find((r) => r.destination.subset === version);
  return found ? (found.weight ?? (route.length === 1 ? 100 : 0)) : 0;
}

/** Ready endpoints of `version`'s pods (named <service>-<version>-...) in the Service's EndpointSlices. */
async function readyEndpoints(namespace: string, version: string): Promise<number> {
  const selector = encodeURIComponent(`kubernetes.io/service-name=${SERVICE}`);
  const slices = await get<{ items: { endpoints?: { conditions?: { ready?: boolean }; targetRef?: { name?: string } }[] }[] }>(
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?labelSelector=${selector}`,
  );
  const prefix = `${SERVICE}-${version}-`;
  return slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false && e.targetRef?.name?.startsWith(prefix)).length;
}

async function releaseStatus(namespace: string): Promise<{ waitingFor?: string; retiring?: unknown[]; stableVersion?: string }> {
  const object = await get<{ status?: { release?: { waitingFor?: string }; retiring?: unknown[]; stableVersion?: string } }>(`/apis/tideway.io/v1alpha1/namespaces/${namespace}/rollouts/${SERVICE}`);
  return { waitingFor: object.status?.release?.waitingFor, retiring: object.status?.retiring, stableVersion: object.status?.stableVersion };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, intervalMs = 20): Promise<number> {
  const since = Date.now();
  while (!(await check())) {
    if (Date.now() - since > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
  return Date.now();
}

/** Marks the pod Ready as a kubelet would after its readiness probe passed; returns when the API server took it. */
async function markReady(namespace: string, version: string): Promise<number> {
  const pods = await get<{ items: { metadata: { name: string } }[] }>(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(`app=${SERVICE},version=${version}`)}`);
  const name = pods.items[0]?.metadata.name;
  if (name === undefined) throw new Error(`no pod of ${version}`);
  const now = new Date().toISOString();
  const conditions = ["Ready", "ContainersReady"].map((type) => ({ type, status: "True", lastTransitionTime: now }));
  const response = await kubeRequest(kc, "PATCH", `/api/v1/namespaces/${namespace}/pods/${name}/status`, { status: { conditions } }, "application/strategic-merge-patch+json");
  if (response.status !== 200) throw new Error(`marking ${name} Ready: HTTP ${response.status}`);
  return Date.now();
}

async function push(remote: GitRemote, controller: ControllerProcess, namespace: string, version: string, mode: Mode): Promise<number> {
  await remote.commit({ "rollouts/reviews.yaml": rollout(namespace, version, mode) });
  const pushed = Date.now();
  const body = JSON.stringify({ ref: "refs/heads/main" });
  const signature = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
  await fetch(`${controller.url}/webhooks/github`, { method: "POST", body, headers: { "x-github-event": "push", "x-hub-signature-256": signature } });
  return pushed;
}

interface Timings {
  toWeight: number[];
  toEndpoint: number[];
  endpointToWeight: number[];
  podReadyToEndpoint: number[];
  podReadyToWeight: number[];
  requests: Map<string, number>[];
  /** From the controller's start to the Rollout adopted and settled (its startup's list and watch included). */
  adoption: Map<string, number>;
}

async function runMode(mode: Mode): Promise<Timings> {
  const namespace = `bench-${mode}`;
  const versions = releasedVersions(rounds);
  const canaries = versions.slice(1);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  await createMesh(kc, namespace, SERVICE, {
    versions: releasedVersions(30),
    workloadVersions: mode === "workload" ? [] : versions,
    ...(mode === "late-pod" ? { podLabels: Object.fromEntries(canaries.map((v) => [v, BAD_POD_LABELS.neverReady])) } : {}),
  });
  if (mode === "gated" || mode === "ungated") for (const version of canaries) await waitForReadyEndpoints(kc, namespace, SERVICE, version);
  const remote = await createGitRemote();
  await remote.commit({ "rollouts/reviews.yaml": rollout(namespace, "v1", mode) });
  const starting = Date.now();
  const controller = await startController({
    gitUrl: remote.url,
    endpoints: { kubeconfigPath: services.kube.kubeconfigPath, redisUrl: services.redis.url },
    prefix: `bench${mode.replace("-", "")}`,
    logLevel: "error",
    compiled: true,
    nodeFlags: mode === "ungated" ? [...IMAGE_NODE_FLAGS, "--import", "tsx", "--import", "./bench/without-readiness.ts"] : IMAGE_NODE_FLAGS,
    args: ["--git-source-name", namespace, "--git-interval", "1h", "--prometheus-url", services.prometheus.url],
    env: { TIDEWAY_WEBHOOK_SECRET: SECRET },
  });
  const t: Timings = { toWeight: [], toEndpoint: [], endpointToWeight: [], podReadyToEndpoint: [], podReadyToWeight: [], requests: [], adoption: new Map() };
  try {
    await until("adoption", async () => (await controllerMetric(controller.url, "tideway_release_events_total", { kind: "adopted" })) >= 1, 60_000, 200);
    if (mode === "workload") await until("v1 ready", async () => (await readyEndpoints(namespace, "v1")) >= 1, 60_000, 100);
    await sleep(1_500);
    t.adoption = controllerRequests(auditLogPath, starting, Date.now());
    for (const [round, version] of canaries.entries()) {
      const pushed = await push(remote, controller, namespace, version, mode);
      let podReadyAt: number | undefined;
      if (mode === "late-pod") {
        await until(`${version} waited for`, async () => (await releaseStatus(namespace)).waitingFor !== undefined, 30_000, 100);
        await sleep(1_000 + Math.random() * 5_000); // land the pod's readiness at any point of the 5 s recheck
        podReadyAt = await markReady(namespace, version);
      }
      let endpointAt: number | undefined;
      const weightAt = await until(`${version} weight`, async () => {
        const [ready, weight] = await Promise.all([mode === "gated" || mode === "ungated" ? 1 : readyEndpoints(namespace, version), weightOf(namespace, version)]);
        if (ready > 0) endpointAt ??= Date.now();
        return weight > 0;
      });
      t.toWeight.push(weightAt - pushed);
      if (mode === "workload" && endpointAt !== undefined) {
        t.toEndpoint.push(endpointAt - pushed);
        t.endpointToWeight.push(weightAt - endpointAt);
      }
      if (podReadyAt !== undefined && endpointAt !== undefined) {
        t.podReadyToWeight.push(weightAt - podReadyAt);
        t.podReadyToEndpoint.push(endpointAt - podReadyAt);
        t.endpointToWeight.push(weightAt - endpointAt);
      }
      await until(`${version} promoted`, async () => (await controllerMetric(controller.url, "tideway_release_events_total", { kind: "promoted" })) >= round + 1, 60_000, 100);
      await until(`${version} at 100%`, async () => (await weightOf(namespace, version)) === 100, 30_000, 100);
      if (mode === "workload") await until("the old version retired", async () => (await releaseStatus(namespace)).retiring === undefined, 30_000, 200);
      await sleep(1_500);
      t.requests.push(controllerRequests(auditLogPath, pushed, Date.now()));
    }
  } finally {
    await controller.stop();
    await remote.stop();
  }
  return t;
}

try {
  const results = new Map<Mode, Timings>();
  for (const mode of modes) {
    results.set(mode, await runMode(mode));
    console.error(`[bench] ${mode} done`);
  }
  const show = (label: string, values: number[] | undefined) => values && values.length > 0 && console.log(`${label}: ${summary(values)}`);
  show("commit -> first weight, versions ready, gated", results.get("gated")?.toWeight);
  show("commit -> first weight, versions ready, ungated (same build, gating off)", results.get("ungated")?.toWeight);
  show("commit -> first weight, spec.workload (Deployment made, pod ready)", results.get("workload")?.toWeight);
  show("  of which commit -> canary endpoint ready", results.get("workload")?.toEndpoint);
  show("  and canary endpoint ready -> weight (EndpointSlice watch wake-up)", results.get("workload")?.endpointToWeight);
  show("late pod: pod Ready -> first weight", results.get("late-pod")?.podReadyToWeight);
  show("  of which pod Ready -> endpoint ready (kube-controller-manager)", results.get("late-pod")?.podReadyToEndpoint);
  show("  and endpoint ready -> weight (EndpointSlice watch wake-up)", results.get("late-pod")?.endpointToWeight);

  const counted = [...results].map(([mode, t]) => ({ mode, ...medianCounts(t.requests) }));
  const kinds = [...new Set(counted.flatMap((c) => [...c.byKind.keys()]))].sort();
  console.log(`\nAPI requests per release (median of ${rounds} releases), by verb and resource:`);
  console.log(["request".padEnd(36), ...counted.map((c) => c.mode.padStart(9))].join(""));
  for (const kind of kinds) console.log([kind.padEnd(36), ...counted.map((c) => String(c.byKind.get(kind) ?? 0).padStart(9))].join(""));
  console.log(["total".padEnd(36), ...counted.map((c) => String(c.total).padStart(9))].join(""));

  const adoptions = [...results].map(([mode, t]) => ({ mode, byKind: t.adoption }));
  console.log(`\nAPI requests to start and adopt one Rollout at its stable version:`);
  console.log(["request".padEnd(36), ...adoptions.map((c) => c.mode.padStart(9))].join(""));
  for (const kind of [...new Set(adoptions.flatMap((c) => [...c.byKind.keys()]))].sort()) {
    console.log([kind.padEnd(36), ...adoptions.map((c) => String(c.byKind.get(kind) ?? 0).padStart(9))].join(""));
  }
  console.log(["total".padEnd(36), ...adoptions.map((c) => String([...c.byKind.values()].reduce((a, b) => a + b, 0)).padStart(9))].join(""));
} finally {
  await services.stop();
}
