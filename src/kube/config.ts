import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";

/** An explicit kubeconfig file, else the in-cluster service account, else ~/.kube/config. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) {
    kc.loadFromFile(path);
  } else if (process.env.KUBERNETES_SERVICE_HOST && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
    kc.loadFromCluster();
  } else if (existsSync(join(homedir(), ".kube", "config")) || process.env.KUBECONFIG) {
    kc.loadFromDefault();
  } else {
    throw new Error("no Kubernetes configuration: pass --kubeconfig, run in a cluster, or create ~/.kube/config");
  }
  return kc;
}
