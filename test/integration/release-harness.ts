/** A whole release world for one test: namespace, mesh objects, git, mesh simulator, controller. */
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { RolloutClient, type RolloutObject } from "../../src/kube/rollouts.js";
import { RolloutStatusSchema, type RolloutStatus } from "../../src/rollout/status.js";
import { createGitRemote, createMesh, HTTP_ROUTE, VS, waitUntil, type GitRemote, type MeshOptions } from "../env/index.js";
import { startMeshSimulator, type ErrorDrift, type MeshSimulator, type VersionBehaviour } from "../env/mesh-simulator.js";
import { startController as startControllerWith } from "../env/controller-process.js";
import type { ControllerProcess } from "./controller-process.js";
import { rolloutYaml } from "./rollout-yaml.js";
import { kubeConfig, services, uniqueName } from "./services.js";
import type { KubeEnvironment } from "../env/kube.js";

export { createMesh, DR, HTTP_ROUTE, VS, type MeshOptions } from "../env/index.js";

/**
 * Fast steps for tests: two weights, each baked for a few seconds with 3 s analysis. The guard is
 * off here so that a failing canary is judged by its checks, whose reason the tests assert; the
 * guard's own tests turn it on (replace GUARD_OFF).
 */
export const FAST_STEPS = ["- setWeight: 20", "- pause: 4s", "- setWeight: 60", "- pause: 4s"];
export const FAST_ANALYSIS = [
  "  analysis:",
  "    interval: 3s",
  "    minRequests: 5",
  "    inconclusiveLimit: 2",
  "    metrics:",
  "      - name: success-rate",
  "        min: 0.95",
  "    guard: { enabled: false }",
].join("\n");
export const GUARD_OFF = "guard: { enabled: false }";

export interface World {
  namespace: string;
  remote: GitRemote;
  mesh: MeshSimulator;
  controller: ControllerProcess;
  rollouts: RolloutClient;
  objects: CustomObjectsApi;
  /** Commits the Rollout `name` (default "reviews") at `version`. */
  release(version: string, options?: { name?: string; steps?: string[]; analysis?: string; annotations?: Record<string, string> }): Promise<string>;
  status(name?: string): Promise<RolloutStatus | undefined>;
  waitForStatus(check: (s: RolloutStatus) => boolean, timeoutMs?: number, name?: string): Promise<RolloutStatus>;
  /** Weight per version in the VirtualService's managed route (the HTTPRoute's managed rule with the gatewayAPI router). */
  weights(vsName?: string, route?: string): Promise<Record<string, number>>;
  waitForWeights(check: (w: Record<string, number>) => boolean, timeoutMs?: number): Promise<Record<string, number>>;
  /** Another replica beside `controller`: same flags, Redis and queue prefix; the caller stops it. */
  startReplica(): Promise<ControllerProcess>;
  /** Stops (SIGTERM, or SIGKILL with `kill`) and starts the controller again. */
  restartController(options?: { kill?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export interface WorldOptions {
  rate?: number;
  behaviour?: Record<string, VersionBehaviour>;
  /** Every version's error rate drifts by one shared, seeded factor (see mesh-noise.ts). */
  errorDrift?: ErrorDrift;
  /** http routes of the VirtualService; default: one "primary" route to v1. */
  http?: unknown[];
  services?: string[];
  /** Extra environment for the controller (e.g. the Slack webhook URL). */
  controllerEnv?: Record<string, string>;
  /** The controller's kubeconfig instead of the admin one (e.g. a ServiceAccount's token). */
  controllerKubeconfig?: string;
  /** A Service per version ("reviews-v1", host: "reviews-{{ version }}") instead of subsets. */
  hostPerVersion?: boolean;
  /** The router of reviews: istio (its VirtualService, the default) or gatewayAPI (an HTTPRoute "reviews", a Service per version). */
  router?: "istio" | "gatewayAPI";
  /** Deployments of each service: which versions, replicas, bad-pod labels (see createMesh); default one ready-to-be pod per version. */
  workloads?: Pick<MeshOptions, "workloads" | "workloadVersions" | "replicas" | "podLabels">;
  /** A Redis of the test's own (one it may flush) instead of the shared one. */
  redisUrl?: string;
  /** Flags naming Redis instead of `--redis-url` (e.g. `--redis-sentinels`). */
  redisArgs?: string[];
  /** More `tideway run` flags; a flag given here wins over the harness's own. */
  controllerArgs?: string[];
  /** An API server of the test's own (one it may restart) instead of the shared one. */
  kube?: Pick<KubeEnvironment, "kubeConfig" | "kubeconfigPath" | "kubeconfigYaml" | "server">;
}

export async function createWorld(options: WorldOptions = {}): Promise<World> {
  const kc = options.kube ? options.kube.kubeConfig() : kubeConfig();
  const namespace = uniqueName("rel");
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  const objects = kc.makeApiClient(CustomObjectsApi);
  for (const service of options.services ?? ["reviews"]) {
    const http = service === "reviews" && options.http ? options.http : undefined;
    const httpRoute = options.router === "gatewayAPI" && service === "reviews";
    await createMesh(kc, namespace, service, { ...(http ? { http } : {}), ...(options.hostPerVersion ? { hostPerVersion: true } : {}), ...(httpRoute ? { httpRoute } : {}), ...options.workloads });
  }
  const remote = await createGitRemote();
  const { prometheusUrl, prometheusTargetsDir } = services();
  const mesh = await startMeshSimulator({
    kubeConfig: kc,
    namespace,
    service: "reviews",
    rate: options.rate ?? 100,
    ...(options.http ? { routes: ["primary"] } : {}),
    ...(options.hostPerVersion ? { versionFrom: "host" as const } : {}),
    ...(options.router === "gatewayAPI" ? { httpRoute: "reviews" } : {}),
    behaviour: options.behaviour ?? {},
    ...(options.errorDrift ? { errorDrift: options.errorDrift } : {}),
    prometheus: { url: prometheusUrl, targetsDir: prometheusTargetsDir },
  });
  const rollouts = new RolloutClient(kc);
  const release: World["release"] = async (version, o = {}) => {
    const name = o.name ?? "reviews";
    return remote.commit(
      {
        [`rollouts/${name}.yaml`]: rolloutYaml({
          name,
          namespace,
          version,
          steps: o.steps ?? FAST_STEPS,
          specExtra: o.analysis ?? FAST_ANALYSIS,
          ...(o.annotations ? { annotations: o.annotations } : {}),
          ...(options.http && name === "reviews" ? { routes: ["primary"] } : {}),
          ...(options.hostPerVersion ? { host: `${name}-{{ version }}` } : {}),
          ...(options.router === "gatewayAPI" && name === "reviews" ? { router: "gatewayAPI" as const } : {}),
        }),
      },
      `${name} ${version}`,
    );
  };
  const controllerArgs = ["--git-source-name", namespace, "--prometheus-url", prometheusUrl, "--resync-interval", "5s", ...(options.controllerArgs ?? [])];
  const prefix = `w${namespace.replace(/-/g, "")}`;
  const env = options.controllerEnv ?? {};
  const endpoints = {
    ...services(),
    ...(options.kube ? { kubeServer: options.kube.server, kubeconfigPath: options.kube.kubeconfigPath, kubeconfigYaml: options.kube.kubeconfigYaml } : {}),
    ...(options.controllerKubeconfig ? { kubeconfigPath: options.controllerKubeconfig } : {}),
    ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
  };
  const launch = (): Promise<ControllerProcess> =>
    startControllerWith({ gitUrl: remote.url, prefix, args: controllerArgs, env, endpoints, ...(options.redisArgs ? { redisArgs: options.redisArgs } : {}) });
  let controller = await launch();
  const status = async (name = "reviews"): Promise<RolloutStatus | undefined> => {
    let object: RolloutObject;
    try {
      object = await rollouts.get(namespace, name);
    } catch {
      return undefined;
    }
    const parsed = RolloutStatusSchema.safeParse(object.status);
    return parsed.success ? parsed.data : undefined;
  };
  const weights = async (vsName = "reviews", route = "primary") => {
    if (options.router === "gatewayAPI") return httpRouteWeights(objects, namespace, vsName, route);
    const vs = (await objects.getNamespacedCustomObject({ ...VS, namespace, name: vsName })) as {
      spec: { http: { name?: string; route: { destination: { host: string; subset?: string }; weight?: number }[] }[] };
    };
    const managed = vs.spec.http.find((r) => r.name === route) ?? vs.spec.http[0];
    const out: Record<string, number> = {};
    const versionOf = (d: { host: string; subset?: string }) => d.subset ?? (options.hostPerVersion && d.host.startsWith(`${vsName}-`) ? d.host.slice(vsName.length + 1) : "?");
    for (const d of managed?.route ?? []) out[versionOf(d.destination)] = d.weight ?? (managed?.route.length === 1 ? 100 : 0);
    return out;
  };
  const world: World = {
    namespace,
    remote,
    mesh,
    objects,
    rollouts,
    release,
    status,
    weights,
    get controller() {
      return controller;
    },
    async waitForStatus(check, timeoutMs = 60_000, name = "reviews") {
      let last: RolloutStatus | undefined;
      await waitUntil(
        `status of ${name}`,
        async () => {
          last = await status(name);
          return last !== undefined && check(last);
        },
        { timeoutMs, intervalMs: 100 },
      ).catch((error: unknown) => {
        throw new Error(
          `${error instanceof Error ? error.message : String(error)}\nlast status: ${JSON.stringify(last)}\ncontroller:\n${controller.output
            .filter((l) => !l.includes("git unchanged"))
            .slice(-25)
            .join("\n")}`,
        );
      });
      return last as RolloutStatus;
    },
    async waitForWeights(check, timeoutMs = 30_000) {
      let last: Record<string, number> = {};
      await waitUntil("VirtualService weights", async () => check((last = await weights())), { timeoutMs, intervalMs: 50 });
      return last;
    },
    startReplica: launch,
    async restartController(o = {}) {
      if (o.kill) await controller.kill();
      else await controller.stop();
      controller = await launch();
    },
    async stop() {
      await controller.stop();
      await mesh.stop();
      await remote.stop();
    },
  };
  return world;
}

/** Weight per version (of the Services "<name>-<version>") in the named rule of the HTTPRoute, as percentages. */
async function httpRouteWeights(objects: CustomObjectsApi, namespace: string, name: string, rule: string): Promise<Record<string, number>> {
  const route = (await objects.getNamespacedCustomObject({ ...HTTP_ROUTE, namespace, name })) as { spec: { rules: { name?: string; backendRefs?: { name: string; weight?: number }[] }[] } };
  const managed = route.spec.rules.find((r) => r.name === rule) ?? route.spec.rules[0];
  const backends = managed?.backendRefs ?? [];
  const total = backends.reduce((sum, b) => sum + (b.weight ?? 1), 0);
  const out: Record<string, number> = {};
  for (const b of backends) out[b.name.startsWith(`${name}-`) ? b.name.slice(name.length + 1) : "?"] = total > 0 ? Math.round(((b.weight ?? 1) * 100) / total) : 0;
  return out;
}
