/**
 * What the demo tells of the namespace's Deployments: each read compares them with the last one
 * and says what changed (made, pods ready, scaled, deleted), as `kubectl get deployments -w` would.
 */
import { AppsV1Api, type KubeConfig } from "@kubernetes/client-node";

export interface DeploymentState {
  replicas: number;
  readyReplicas: number;
  /** Field managers that wrote it ("tideway" when Tideway made it). */
  managers: string[];
}

export interface DeploymentWatch {
  /** Reads the Deployments now; returns one line per change since the last read. */
  read(): Promise<string[]>;
  /** The Deployments as last read, by name. */
  current(): ReadonlyMap<string, DeploymentState>;
}

export function watchDeployments(kc: KubeConfig, namespace: string): DeploymentWatch {
  const apps = kc.makeApiClient(AppsV1Api);
  let last = new Map<string, DeploymentState>();
  return {
    async read() {
      let items;
      try {
        items = (await apps.listNamespacedDeployment({ namespace })).items;
      } catch {
        return []; // a failed read changes nothing; the next one will tell
      }
      const next = new Map<string, DeploymentState>();
      for (const d of items) {
        const name = d.metadata?.name;
        if (!name) continue;
        next.set(name, { replicas: d.spec?.replicas ?? 0, readyReplicas: d.status?.readyReplicas ?? 0, managers: (d.metadata?.managedFields ?? []).map((f) => f.manager ?? "") });
      }
      const lines: string[] = [];
      const pods = (s: DeploymentState) => `${s.readyReplicas}/${s.replicas} pod${s.replicas === 1 ? "" : "s"} ready`;
      for (const [name, state] of next) {
        const before = last.get(name);
        if (!before) lines.push(`Deployment ${name} created${state.managers.includes("tideway") ? " by Tideway" : ""}: ${pods(state)}`);
        else if (before.replicas !== state.replicas) lines.push(`Deployment ${name} scaled to ${state.replicas}: ${pods(state)}`);
        else if (before.readyReplicas !== state.readyReplicas) lines.push(`Deployment ${name}: ${pods(state)}`);
      }
      for (const name of last.keys()) if (!next.has(name)) lines.push(`Deployment ${name} deleted`);
      last = next;
      return lines;
    },
    current: () => last,
  };
}
