/**
 * The Kubernetes control loops that make workloads run, beside the API server of startKube():
 * kube-controller-manager (Deployments -> ReplicaSets -> Pods, EndpointSlices, garbage collection,
 * node lifecycle), kube-scheduler, and KWOK playing the kubelet of one fake Node. No container
 * runs: KWOK moves pods through their lifecycle by the stages in kwok-stages.yaml, Ready at once
 * unless a pod's labels ask for a bad version (see that file).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { cachedAssetsDir, kubeAssetsDir, type KubeEnvironment } from "./kube.js";
import { freePort, removeDir, ServerProcess, tempDir, waitUntil } from "./process.js";

export const KWOK_STAGES_FILE = fileURLToPath(new URL("./kwok-stages.yaml", import.meta.url));
export const FAKE_NODE = "kwok-node-0";
/** Pod IPs; apart from startKube's service range 10.96.0.0/16 (KWOK's default would overlap). */
const POD_CIDR = "10.244.0.0/16";
const CONTROLLERS = ["deployment-controller", "replicaset-controller", "endpointslice-controller", "garbage-collector-controller", "node-lifecycle-controller"];

export interface WorkloadsEnvironment {
  stop(): Promise<void>;
}

/** Where kube-controller-manager, kube-scheduler and kwok live: beside kube-apiserver, else in our cache (envtest's KUBEBUILDER_ASSETS has none of them). */
function workloadBinary(name: string): string {
  const candidates = [...new Set([kubeAssetsDir(), cachedAssetsDir()])];
  const found = candidates.map((dir) => join(dir, name)).find((path) => existsSync(path));
  if (!found) throw new Error(`${name} not found in ${candidates.join(" or ")}: run "bash scripts/k8s-binaries.sh"`);
  return found;
}

/**
 * Starts the controllers, the scheduler and KWOK against `kube`, creates the fake Node and waits
 * until it is Ready (the node-lifecycle controller then lifts the not-ready taint new Nodes get).
 */
export async function startWorkloads(kube: Pick<KubeEnvironment, "kubeconfigPath" | "kubeConfig">): Promise<WorkloadsEnvironment> {
  const binaries = { controllerManager: workloadBinary("kube-controller-manager"), scheduler: workloadBinary("kube-scheduler"), kwok: workloadBinary("kwok") };
  const dir = tempDir("workloads");
  const processes: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    removeDir(dir);
  };
  try {
    const kubeconfig = `--kubeconfig=${kube.kubeconfigPath}`;
    processes.push(
      new ServerProcess(
        "kube-controller-manager",
        binaries.controllerManager,
        [kubeconfig, `--controllers=${CONTROLLERS.join(",")}`, "--leader-elect=false", "--secure-port=0", "--concurrent-deployment-syncs=5", "--v=0"],
        { logDir: dir },
      ),
      new ServerProcess("kube-scheduler", binaries.scheduler, [kubeconfig, "--leader-elect=false", "--secure-port=0", "--v=0"], { logDir: dir }),
      new ServerProcess(
        "kwok",
        binaries.kwok,
        [
          kubeconfig,
          "--manage-all-nodes=false",
          "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
          `--config=${KWOK_STAGES_FILE}`,
          `--cidr=${POD_CIDR}`,
          // Without a Lease the node-lifecycle controller would find the Node unreachable after 40 s.
          "--node-lease-duration-seconds=40",
          `--server-address=127.0.0.1:${await freePort()}`,
        ],
        { logDir: dir },
      ),
    );
    const kc = kube.kubeConfig();
    await createFakeNode(kc);
    const core = kc.makeApiClient(CoreV1Api);
    const [controllerManager] = processes;
    await waitUntil(
      `fake node ${FAKE_NODE} Ready and schedulable`,
      async () => {
        for (const p of processes) if (!p.running) throw new Error(`${p.name} exited:\n${p.tail()}`);
        const node = await core.readNode({ name: FAKE_NODE });
        const ready = (node.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
        return ready && !(node.spec?.taints ?? []).some((t) => t.effect === "NoSchedule");
      },
      { timeoutMs: 60_000, intervalMs: 50, ...(controllerManager ? { process: controllerManager } : {}) },
    );
    return { stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function createFakeNode(kc: KubeConfig): Promise<void> {
  const resources = { cpu: "32", memory: "256Gi", pods: "10000" }; // bench/scale.ts runs over a thousand pods
  await kc.makeApiClient(CoreV1Api).createNode({
    body: {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: FAKE_NODE,
        annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
        labels: { type: "kwok", "kubernetes.io/hostname": FAKE_NODE },
      },
      status: { allocatable: resources, capacity: resources },
    },
  });
}
