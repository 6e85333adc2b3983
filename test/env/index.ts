import { startKube, type KubeEnvironment } from "./kube.js";
import { startPrometheus, type PrometheusEnvironment } from "./prometheus.js";
import { startRedis, type RedisEnvironment } from "./redis.js";
import { startWorkloads, type WorkloadsEnvironment } from "./workloads.js";

export { createGitRemote, type GitRemote } from "./git.js";
export { startGitHttpServer, type GitHttpServer, type GitHttpRequest } from "./git-http.js";
export { startGitSshServer, type GitSshServer } from "./git-ssh.js";
export { startSlackReceiver, type SlackReceiver, type SlackPost } from "./slack.js";
export { registerTarget, SCRAPE_INTERVAL } from "./prometheus.js";
export { startRedis, type RedisEnvironment } from "./redis.js";
export { startRedisSentinel, type RedisSentinelEnvironment } from "./redis-sentinel.js";
export { freePort, waitUntil } from "./process.js";
export { startWorkloads, type WorkloadsEnvironment } from "./workloads.js";
export { createMesh, DR, HTTP_ROUTE, VS, type MeshOptions } from "./mesh-objects.js";
export {
  BAD_POD_LABELS,
  createServiceWorkloads,
  readyEndpoints,
  scaleVersion,
  serviceEndpoints,
  setPodReady,
  versionPods,
  waitForReadyEndpoints,
  type ServiceEndpoint,
  type ServiceWorkloadsOptions,
} from "./service-workloads.js";

/** The real services every integration test and the demo stand on. */
export interface Services {
  kube: KubeEnvironment;
  /** kube-controller-manager, kube-scheduler and KWOK: Deployments really get ready pods and endpoints. */
  workloads: WorkloadsEnvironment;
  redis: RedisEnvironment;
  prometheus: PrometheusEnvironment;
  stop(): Promise<void>;
}

/** What the global setup hands each test file (values only: they cross worker boundaries). */
export interface ServiceEndpoints {
  kubeServer: string;
  kubeconfigPath: string;
  kubeconfigYaml: string;
  kubectl: string | undefined;
  redisUrl: string;
  prometheusUrl: string;
  prometheusTargetsDir: string;
}

/**
 * Starts the API server (with Istio CRDs) and then the workload control loops, Redis and
 * Prometheus side by side. If one fails to start, the ones already running are stopped before
 * the error is rethrown.
 */
export async function startServices(options: { extraCrdFiles?: string[]; auditLogPath?: string; log?: (line: string) => void } = {}): Promise<Services> {
  const log = options.log ?? (() => undefined);
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
  };
  try {
    const startCluster = async () => {
      const kube = await startKube({ extraCrdFiles: options.extraCrdFiles, ...(options.auditLogPath ? { auditLogPath: options.auditLogPath } : {}) });
      const cluster = { stop: () => kube.stop() };
      started.push(cluster);
      log(`kube-apiserver ready at ${kube.server}`);
      const since = performance.now();
      const workloads = await startWorkloads(kube);
      // The workload control loops stop before the API server they talk to.
      cluster.stop = async () => {
        await workloads.stop();
        await kube.stop();
      };
      log(`kube-controller-manager, kube-scheduler and kwok up, fake node Ready, in ${Math.round(performance.now() - since)} ms`);
      return { kube, workloads };
    };
    const [{ kube, workloads }, redis, prometheus] = await Promise.all([
      startCluster(),
      startRedis().then((r) => (started.push(r), log(`redis ready at ${r.url}`), r)),
      startPrometheus().then((p) => (started.push(p), log(`prometheus ready at ${p.url}`), p)),
    ]);
    return { kube, workloads, redis, prometheus, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export function endpointsOf(services: Services): ServiceEndpoints {
  return {
    kubeServer: services.kube.server,
    kubeconfigPath: services.kube.kubeconfigPath,
    kubeconfigYaml: services.kube.kubeconfigYaml,
    kubectl: services.kube.kubectl,
    redisUrl: services.redis.url,
    prometheusUrl: services.prometheus.url,
    prometheusTargetsDir: services.prometheus.targetsDir,
  };
}
export { startMeshSimulator, type MeshSimulator, type VersionBehaviour } from "./mesh-simulator.js";
