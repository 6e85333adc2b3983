/**
 * The demo: the whole story on one machine. Starts the real services (API server with the
 * workload controllers, Redis, Prometheus), reviews v1..v5 as Deployments, a mesh simulator for
 * a bookinfo-like `reviews`, a git repository seeded from rollouts/demo, a Slack receiver and the
 * controller, then releases v2 (healthy: promoted), v3 (25% errors: rolled back) and v4 (aborted
 * by hand). Used by scripts/demo.ts and by the end-to-end test that runs it headless.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CoreV1Api } from "@kubernetes/client-node";
import { RolloutClient } from "../src/kube/rollouts.js";
import { RolloutStatusSchema, type RolloutStatus } from "../src/rollout/status.js";
import { startController, type ControllerProcess } from "../test/env/controller-process.js";
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
  return `reviews  stable ${status.stableVersion.padEnd(3)} canary ${(status.release ? version : "-").padEnd(3)} ${bar(status.canaryWeight)} ${String(status.canaryWeight).padStart(3)}%  step ${(status.step || "-").padEnd(4)} success-rate ${shown.padEnd(5)}  ${status.phase}`;
}

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
    // reviews v1..v5, each a Deployment with a ready pod behind the Service, as in a real cluster.
    await createMesh(kc, NAMESPACE, "reviews");

    slack = await startSlackReceiver();
    stops.push(() => slack?.stop() ?? Promise.resolve());
    remote = await createGitRemote();
    stops.push(() => remote?.stop() ?? Promise.resolve());
    const template = readFileSync(ROLLOUT_FILE, "utf8");
    const commitVersion = (version: string) => remote!.commit({ "rollouts/reviews.yaml": template.replace(/^(\s*version:\s*)v1\b/m, `$1${version}`) }, `reviews ${version}`);
    await commitVersion("v1");

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
    controller = await startController({
      gitUrl: remote.url,
      endpoints: { kubeconfigPath: services.kube.kubeconfigPath, redisUrl: services.redis.url },
      prefix: "demo",
      logLevel: "warn",
      args: ["--git-source-name", "demo", "--git-interval", "1s", "--prometheus-url", services.prometheus.url, "--resync-interval", "30s", "--namespace", NAMESPACE],
      env: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl, TIDEWAY_NOTIFY_MAX_BACKOFF: "2s" },
    });
    stops.push(() => controller?.stop() ?? Promise.resolve());
    print(`Ready in ${((Date.now() - started) / 1000).toFixed(0)}s. The mesh simulator sends 60 requests/s to reviews; v3 will answer 25% of them with 503.`);

    const rollouts = new RolloutClient(kc);
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
    const show = (status: RolloutStatus | undefined) => {
      const receiver = slack!;
      const messages = receiver.delivered();
      const line = statusLine(status);
      for (; printedSlack < messages.length; printedSlack++) {
        const text = (messages[printedSlack]?.body as { text?: string }).text ?? "";
        if (options.redraw) print(`\r\x1b[2K`);
        print(`  slack #deploys │ ${text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")}`);
        lastLine = "";
      }
      if (line === lastLine) return;
      print(options.redraw ? `\r\x1b[2K${line}` : line);
      lastLine = line;
    };
    const watch = async (until: (s: RolloutStatus) => boolean, timeoutMs: number): Promise<RolloutStatus> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await readStatus();
        show(status);
        if (status && until(status)) return status;
        if (Date.now() > deadline) throw new Error(`the story stalled: ${status?.message ?? "no status"}`);
        await sleep(200);
      }
    };
    const finish = (s: RolloutStatus) => {
      if (options.redraw) print("\n");
      return s;
    };

    await watch((s) => s.phase === "Healthy" && s.stableVersion === "v1", 60_000).then(finish);

    const act = async (version: string, expected: Act["expected"], title: string, during?: () => Promise<void>) => {
      print(`\n${title}`);
      const actStart = Date.now();
      await commitVersion(version);
      print(`  git commit: reviews ${version}`);
      if (during) {
        await watch((s) => s.canaryVersion === version && s.canaryWeight > 0, 60_000);
        await during();
      }
      const phase = { promoted: "Healthy", "rolled-back": "RolledBack", aborted: "Aborted" }[expected];
      const status = finish(await watch((s) => s.phase === phase && (expected === "promoted" ? s.stableVersion === version : s.canaryVersion === version), 90_000));
      await sleep(1_500);
      show(await readStatus());
      const last = status.history.at(-1);
      acts.push({ version, expected, outcome: last?.outcome ?? status.phase, reason: last?.reason ?? "", seconds: Math.round((Date.now() - actStart) / 1000) });
    };

    await act("v2", "promoted", "1. reviews v2, healthy: every step, then promoted.");
    await act("v3", "rolled-back", "2. reviews v3 answers 25% of requests with 503: the guard rolls it back within seconds.");
    const { kubectl, kubeconfigPath } = services.kube;
    await act("v4", "aborted", "3. reviews v4 is healthy, but someone aborts it by hand mid-canary.", async () => {
      await sleep(2_000);
      const command = ["--kubeconfig", kubeconfigPath, "-n", NAMESPACE, "annotate", "rollout", "reviews", "tideway.io/abort=demo: stopped by hand"];
      if (options.redraw) print("\n");
      print(`  $ kubectl annotate rollout reviews -n ${NAMESPACE} tideway.io/abort="demo: stopped by hand"`);
      execFileSync(kubectl ?? "kubectl", command, { stdio: "ignore" });
    });

    const ok = acts.every((a) => a.outcome === a.expected);
    print("\nSummary");
    for (const a of acts) print(`  ${a.version}: ${a.outcome.padEnd(11)} ${a.outcome === a.expected ? "as expected" : `EXPECTED ${a.expected}`} (${a.seconds}s)${a.reason ? `: ${a.reason}` : ""}`);
    print(`  ${slack.delivered().length} Slack messages; the story took ${((Date.now() - started) / 1000).toFixed(0)}s in all.`);
    const slackMessages = slack.delivered().map((p) => (p.body as { text?: string }).text ?? "");

    if (options.keep) {
      print(`
Everything is still running. In another terminal:
  export KUBECONFIG=${kubeconfigPath}
  ${kubectl ?? "kubectl"} get rollouts -n ${NAMESPACE}
  npx tsx src/main.ts status -n ${NAMESPACE} -w
  cd ${remote.workTree} && sed -i 's/version: v4/version: v5/' rollouts/reviews.yaml && git commit -qam v5 && git push -q origin main
  npx tsx src/main.ts abort reviews -n ${NAMESPACE} --reason "changed my mind"
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
