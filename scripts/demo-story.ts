/**
 * The demo: the whole story on one machine. Starts the real services (API server with the
 * workload controllers and a KWOK node, Redis, Prometheus), the Service and DestinationRule of a
 * bookinfo-like `reviews` (no Deployments: the Rollout's spec.workload makes them), a mesh
 * simulator, a git repository seeded from rollouts/demo, a Slack receiver and the controller, then
 * releases v2 (healthy: pods ready, then promoted, v1 deleted), v3 (25% errors: rolled back), v4
 * (pods never ready: held at 0%, rolled back at the progress deadline), v5 (aborted by hand), then
 * on a service failing 2% of requests as a matter of course, v6 (as noisy as stable: shown no worse,
 * promoted) and v7 (3x the errors: rolled back by the comparison with stable).
 * With `keep`, the dashboard runs from the start and everything stays up at the end.
 * Used by scripts/demo.ts and by the end-to-end test that runs it headless.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { startDashboard, type Dashboard } from "../src/dashboard/dashboard.js";
import { authenticatedUser } from "../src/kube/identity.js";
import { RolloutClient } from "../src/kube/rollouts.js";
import { RolloutStatusSchema, type RolloutStatus } from "../src/rollout/status.js";
import { startController, type ControllerProcess } from "../test/env/controller-process.js";
import { watchDeployments } from "./demo-deployments.js";
import { createGitRemote, createMesh, startMeshSimulator, startServices, startSlackReceiver, type GitRemote, type MeshSimulator, type Services, type SlackReceiver } from "../test/env/index.js";

const NAMESPACE = "bookinfo-demo";
const ROLLOUT_FILE = fileURLToPath(new URL("../rollouts/demo/reviews.yaml", import.meta.url));
const CRD_FILE = fileURLToPath(new URL("../charts/tideway/crds/rollouts.tideway.io.yaml", import.meta.url));

export interface Act {
  version: string;
  expected: "promoted" | "rolled-back" | "aborted";
  outcome: string;
  reason: string;
  seconds: number;
  /** Requests callers' sidecars answered 503 during the act because the route led to no ready pod. */
  userErrors: number;
}

export interface DemoOptions {
  /** Where the story is told; each call is one line (or a redraw of the status line). */
  print: (line: string) => void;
  /** Redraw the status line in place (a terminal) instead of printing each change. */
  redraw: boolean;
  /** Leave everything running at the end, until Ctrl-C. */
  keep: boolean;
}

export interface DemoResult {
  acts: Act[];
  slackMessages: string[];
  ok: boolean;
}

/** The dashboard on its usual port, or on any free one when 3100 is taken. */
async function startDemoDashboard(kc: KubeConfig): Promise<Dashboard> {
  const user = (await authenticatedUser(kc)) ?? "demo";
  try {
    return await startDashboard({ kc, host: "127.0.0.1", port: 3100, user });
  } catch {
    return startDashboard({ kc, host: "127.0.0.1", port: 0, user });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function bar(weight: number): string {
  const filled = Math.round(weight / 5);
  return `${"█".repeat(filled)}${"░".repeat(20 - filled)}`;
}

export function statusLine(status: RolloutStatus | undefined): string {
  if (!status) return "reviews  (waiting for the controller)";
  const version = status.canaryVersion ?? status.stableVersion;
  const rate = status.release?.metrics.find((m) => m.name === "success-rate")?.lastValue;
  const shown = typeof rate === "number" ? rate.toFixed(3) : "-";
  const waiting = status.release?.waitingFor !== undefined ? `: waiting for ${status.release.waitingFor}` : "";
  return `reviews  stable ${status.stableVersion.padEnd(3)} canary ${(status.release ? version : "-").padEnd(3)} ${bar(status.canaryWeight)} ${String(status.canaryWeight).padStart(3)}%  step ${(status.step || "-").padEnd(4)} success-rate ${shown.padEnd(5)}  ${status.phase}${waiting}`;
}

/** Requests that callers' sidecars answered 503 because no ready pod was behind the route. */
function sourceFailureCount(mesh: MeshSimulator): number {
  return Object.values(mesh.snapshot().sourceFailures).reduce((sum, flags) => sum + Object.values(flags).reduce((a, b) => a + b, 0), 0);
}

/** Acts 5 and 6: the service's usual 2% of failed requests. */
const NOISY = { errorRate: 0.02, latencyMs: 40, latencyJitterMs: 20 };

/**
 * The demo Rollout with success-rate judged against stable (`compare: { maxIncrease: 0.5 }`)
 * instead of `min: 0.95`, and room for the comparison to collect evidence before it decides.
 */
export function judgedAgainstStable(file: string): string {
  const judged = file
    .replace(/^(\s*- name: success-rate[^\n]*\n\s*)min: 0\.95\b/m, "$1compare: { maxIncrease: 0.5 }")
    .replace(/^(\s*)minRequests: 10\b(.*)$/m, "$1minRequests: 10$2\n$1inconclusiveLimit: 40           # the comparison waits for enough evidence");
  if (judged === file || !judged.includes("compare:") || !judged.includes("inconclusiveLimit:"))
    throw new Error("rollouts/demo/reviews.yaml: expected success-rate with min: 0.95 and minRequests: 10 to judge against stable");
  return judged;
}

/** The demo's broken readiness probe: pods with this label never become ready (test/env/kwok-stages.yaml). */
const NEVER_READY_LABEL = 'tideway.test/ready: "never"';

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { print } = options;
  const started = Date.now();
  const stops: (() => Promise<void>)[] = [];
  let services: Services | undefined;
  let slack: SlackReceiver | undefined;
  let remote: GitRemote | undefined;
  let mesh: MeshSimulator | undefined;
  let controller: ControllerProcess | undefined;
  const acts: Act[] = [];
  try {
    print("Starting a real Kubernetes API server (with Istio's CRDs, the Deployment and EndpointSlice controllers, a scheduler and a KWOK node), Redis and Prometheus...");
    services = await startServices({ extraCrdFiles: [CRD_FILE] });
    stops.push(() => services?.stop() ?? Promise.resolve());
    const kc = services.kube.kubeConfig();
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });
    // The Service reviews, a DestinationRule with no subsets and the VirtualService: no Deployments,
    // the Rollout's spec.workload makes each version's Deployment and subset.
    await createMesh(kc, NAMESPACE, "reviews", { versions: [], workloadVersions: [] });

    slack = await startSlackReceiver();
    stops.push(() => slack?.stop() ?? Promise.resolve());
    remote = await createGitRemote();
    stops.push(() => remote?.stop() ?? Promise.resolve());
    const template = readFileSync(ROLLOUT_FILE, "utf8");
    const commitVersion = (version: string, neverReady = false, judged = false) => {
      let file = template.replace(/^(\s*version:\s*)v1\b/m, `$1${version}`);
      if (neverReady) file = file.replace(/^(\s*labels: \{ app: reviews, version: "\{\{ version \}\}")/m, `$1, ${NEVER_READY_LABEL}`);
      if (judged) file = judgedAgainstStable(file);
      return remote!.commit({ "rollouts/reviews.yaml": file }, `reviews ${version}`);
    };
    await commitVersion("v1");

    controller = await startController({
      gitUrl: remote.url,
      endpoints: { kubeconfigPath: services.kube.kubeconfigPath, redisUrl: services.redis.url },
      prefix: "demo",
      logLevel: "warn",
      args: ["--git-source-name", "demo", "--git-interval", "1s", "--prometheus-url", services.prometheus.url, "--resync-interval", "30s", "--namespace", NAMESPACE],
      env: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl, TIDEWAY_NOTIFY_MAX_BACKOFF: "2s" },
    });
    stops.push(() => controller?.stop() ?? Promise.resolve());
    print(`Ready in ${((Date.now() - started) / 1000).toFixed(0)}s.`);
    let dashboardUrl: string | undefined;
    if (options.keep) {
      const dashboard = await startDemoDashboard(kc);
      stops.push(() => dashboard.close());
      dashboardUrl = dashboard.url;
      print(`The dashboard (tideway dashboard) follows the story live: ${dashboardUrl}`);
    }

    const rollouts = new RolloutClient(kc);
    const deployments = watchDeployments(kc, NAMESPACE);
    const readStatus = async (): Promise<RolloutStatus | undefined> => {
      try {
        const parsed = RolloutStatusSchema.safeParse((await rollouts.get(NAMESPACE, "reviews")).status);
        return parsed.success ? parsed.data : undefined;
      } catch {
        return undefined;
      }
    };
    let printedSlack = 0;
    let lastLine = "";
    // A line above the status line; in a terminal it clears the status line, drawn again after.
    const above = (line: string) => {
      if (options.redraw) print(`\r\x1b[2K`);
      print(line);
      if (options.redraw) lastLine = "";
    };
    const show = async (status: RolloutStatus | undefined) => {
      const messages = slack!.delivered();
      for (; printedSlack < messages.length; printedSlack++) {
        const text = (messages[printedSlack]?.body as { text?: string }).text ?? "";
        above(`  slack #deploys │ ${text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")}`);
      }
      for (const change of await deployments.read()) above(`  kubernetes     │ ${change}`);
      const line = statusLine(status);
      if (line === lastLine) return;
      print(options.redraw ? `\r\x1b[2K${line}` : line);
      lastLine = line;
    };
    const watch = async (until: (s: RolloutStatus) => boolean, timeoutMs: number): Promise<RolloutStatus> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await readStatus();
        await show(status);
        if (status && until(status)) return status;
        if (Date.now() > deadline) throw new Error(`the story stalled: ${status?.message ?? "no status"}`);
        await sleep(200);
      }
    };
    const finish = (s: RolloutStatus) => {
      if (options.redraw) print("\n");
      return s;
    };
    const readyPods = (version: string) => deployments.current().get(`reviews-${version}`)?.readyReplicas ?? 0;

    print("\n0. rollouts/reviews.yaml is in git with spec.workload: the cluster has the Service reviews and its DestinationRule, no Deployment; Tideway makes reviews-v1 itself.");
    await watch((s) => s.phase === "Healthy" && s.stableVersion === "v1" && readyPods("v1") === 2, 60_000).then(finish);

    mesh = await startMeshSimulator({
      kubeConfig: kc,
      namespace: NAMESPACE,
      service: "reviews",
      routes: ["primary"],
      rate: 60,
      behaviour: { v3: { errorRate: 0.25, latencyMs: 40, latencyJitterMs: 20 } },
      prometheus: { url: services.prometheus.url, targetsDir: services.prometheus.targetsDir },
    });
    stops.push(() => mesh?.stop() ?? Promise.resolve());
    print(
      "The mesh simulator now sends 60 requests/s to reviews; v3 will answer 25% of them with 503. A request routed to a version with no ready pod is answered 503 by the caller's sidecar: a user-visible error.",
    );

    interface ActOptions {
      during?: () => Promise<void>;
      neverReady?: boolean;
      /** The Rollout's success-rate compares the canary with stable instead of a fixed minimum. */
      judged?: boolean;
    }
    const act = async (version: string, expected: Act["expected"], title: string, actOptions: ActOptions = {}) => {
      print(`\n${title}`);
      const actStart = Date.now();
      const errorsBefore = sourceFailureCount(mesh!);
      const stableBefore = (await readStatus())?.stableVersion;
      await commitVersion(version, actOptions.neverReady, actOptions.judged);
      print(
        `  git commit: reviews ${version}${actOptions.neverReady ? `, its pod template labelled ${NEVER_READY_LABEL}` : ""}${actOptions.judged ? ", success-rate: { compare: { maxIncrease: 0.5 } } instead of min: 0.95" : ""}`,
      );
      if (actOptions.during) {
        await watch((s) => s.canaryVersion === version && s.canaryWeight > 0, 60_000);
        await actOptions.during();
      }
      const phase = { promoted: "Healthy", "rolled-back": "RolledBack", aborted: "Aborted" }[expected];
      let status = finish(await watch((s) => s.phase === phase && (expected === "promoted" ? s.stableVersion === version : s.canaryVersion === version), 90_000));
      if (expected === "promoted" && stableBefore !== undefined) {
        // The old version keeps its pods for scaleDownDelay (sidecars drain), then its Deployment goes.
        const promotedAt = Date.now();
        status = finish(await watch(() => !deployments.current().has(`reviews-${stableBefore}`), 60_000));
        print(`  reviews-${stableBefore} deleted ${Math.round((Date.now() - promotedAt) / 1000)}s after the promotion: workload.scaleDownDelay (5s) lets its sidecars drain first`);
      }
      await sleep(1_500);
      await show(await readStatus());
      if (options.redraw) print("\n");
      const last = status.history.at(-1);
      const userErrors = sourceFailureCount(mesh!) - errorsBefore;
      acts.push({ version, expected, outcome: last?.outcome ?? status.phase, reason: last?.reason ?? "", seconds: Math.round((Date.now() - actStart) / 1000), userErrors });
      return { userErrors };
    };

    await act(
      "v2",
      "promoted",
      "1. reviews v2, healthy: Tideway makes reviews-v2, waits for its pods to be ready before any traffic moves, goes through every step, promotes it and deletes reviews-v1.",
    );
    await act("v3", "rolled-back", "2. reviews v3 answers 25% of requests with 503: the guard rolls it back within seconds.");
    const { userErrors } = await act(
      "v4",
      "rolled-back",
      `3. reviews v4's pods never become ready: its commit labels the pods ${NEVER_READY_LABEL}, the demo's stand-in for a broken readiness probe. Tideway holds it at 0% and rolls it back at the 20s progress deadline.`,
      { neverReady: true },
    );
    print(`  users never saw an error: requests answered 503 for want of a ready pod during the release: ${userErrors} (the mesh simulator's source-side count)`);
    const { kubectl, kubeconfigPath } = services.kube;
    await act("v5", "aborted", "4. reviews v5 is healthy, but someone aborts it by hand mid-canary.", {
      during: async () => {
        await sleep(2_000);
        const command = ["--kubeconfig", kubeconfigPath, "-n", NAMESPACE, "annotate", "rollout", "reviews", "tideway.io/abort=demo: stopped by hand"];
        if (options.redraw) print("\n");
        print(`  $ kubectl annotate rollout reviews -n ${NAMESPACE} tideway.io/abort="demo: stopped by hand"`);
        execFileSync(kubectl ?? "kubectl", command, { stdio: "ignore" });
      },
    });

    // Judgment: a service whose normal error rate is 2%. A fixed minimum has to sit below it and
    // misses a tripling; the comparison with stable over the same windows tells noise from regression.
    mesh.setRate(1_000);
    mesh.setBehaviour("v2", NOISY);
    mesh.setBehaviour("v6", NOISY);
    mesh.setBehaviour("v7", { ...NOISY, errorRate: 0.06 });
    print(
      "\nThe mesh simulator now sends 1,000 requests/s, and reviews fails 2% of them as a matter of course (v2, the stable, too). From here the Rollout's success-rate compares the canary with stable over the same windows, instead of a fixed minimum.",
    );
    const judgedStatus = (s: RolloutStatus) => s.release?.metrics.find((m) => m.name === "success-rate")?.lastMessage;
    let lastVerdict = "";
    await act("v6", "promoted", "5. reviews v6 fails 2% of requests, exactly like v2: the comparison shows it no worse and promotes it (a threshold of 0.99 would have rolled it back).", {
      judged: true,
      during: async () => {
        // The verdict in words, as status shows it, once the comparison reaches one.
        const status = await watch((s) => s.phase !== "Progressing" || (judgedStatus(s) ?? "").includes("no worse"), 90_000);
        lastVerdict = judgedStatus(status) ?? "";
        if (options.redraw) print("\n");
        if (lastVerdict) print(`  status: success-rate ${lastVerdict}`);
      },
    });
    await act("v7", "rolled-back", "6. reviews v7 fails 6% of requests, three times v6's 2%, still far below the guard's 20%: the comparison sees it and rolls it back.", { judged: true });

    // Traffic only ever goes where pods are ready: no act may cost a user a 503 for want of one.
    const ok = acts.every((a) => a.outcome === a.expected && a.userErrors === 0);
    print("\nSummary");
    for (const a of acts) {
      print(
        `  ${a.version}: ${a.outcome.padEnd(11)} ${a.outcome === a.expected ? "as expected" : `EXPECTED ${a.expected}`} (${a.seconds}s)${a.reason ? `: ${a.reason}` : ""}; ${a.userErrors} requests failed for want of ready pods`,
      );
    }
    print(`  ${slack.delivered().length} Slack messages; the story took ${((Date.now() - started) / 1000).toFixed(0)}s in all.`);
    const slackMessages = slack.delivered().map((p) => (p.body as { text?: string }).text ?? "");

    if (options.keep) {
      print(`
Everything is still running. The dashboard: ${dashboardUrl ?? "(not started)"}
In another terminal:
  export KUBECONFIG=${kubeconfigPath}
  ${kubectl ?? "kubectl"} get rollouts,deployments -n ${NAMESPACE}
  npx tsx src/main.ts status -n ${NAMESPACE} -w
  cd ${remote.workTree} && sed -i 's/version: v7/version: v8/' rollouts/reviews.yaml && git commit -qam v8 && git push -q origin main
  npx tsx src/main.ts abort reviews -n ${NAMESPACE} --reason "changed my mind"
  npx tsx src/main.ts dashboard --listen 127.0.0.1:3101   # another dashboard, as a user would start one
Press Ctrl-C to stop it all.`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
    }
    return { acts, slackMessages, ok };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}
