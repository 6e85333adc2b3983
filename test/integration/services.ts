import { KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import type { ServiceEndpoints } from "../env/index.js";

/** The endpoints of the real services the global setup started. */
export function services(): ServiceEndpoints {
  return inject("services");
}

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(services().kubeconfigYaml);
  return kc;
}

/** A namespace name unique to one test, so files can share one API server. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}
