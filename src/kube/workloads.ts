/**
 * Each version's Deployment and DestinationRule subset (spec.workload), in the API server. The
 * Deployment is server-side-applied as field manager `tideway`, so fields other managers set (an
 * HPA's replicas aside) survive; the DestinationRule is written whole with a resourceVersion
 * precondition, only the version's subset changed, and checked in what the server returns.
 * What to write comes from src/rollout/workload.ts.
 */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Deployment, type V1Pod } from "@kubernetes/client-node";
import { VERSION_LABEL } from "../rollout/annotations.js";
import { destinationRuleOf } from "../rollout/destination.js";
import type { Rollout } from "../rollout/model.js";
import { renderDeployment, renderSubset, rolloutSelector, withSubset, workloadName, type DeploymentManifest, type WorkloadState } from "../rollout/workload.js";
import { isConflict, isNotFound, kubeError } from "./errors.js";
import { brief, podFailure } from "./pod-failure.js";

export const FIELD_MANAGER = "tideway";

const DR = { group: "networking.istio.io", version: "v1", plural: "destinationrules" } as const;

/** A Deployment of a Rollout, as list() finds it. */
export interface VersionWorkload {
  name: string;
  version: string;
  replicas: number;
}

/** What the release needs done to versions' workloads; every verb is safe to repeat. */
export interface WorkloadManager {
  /** Creates or updates `version`'s Deployment with `replicas` pods. */
  apply(rollout: Rollout, version: string, replicas: number): Promise<void>;
  /** Adds or updates `version`'s subset in spec.service's DestinationRule; true when it wrote. No-op in host mode. */
  ensureSubset(rollout: Rollout, version: string): Promise<boolean>;
  /** Sets the replicas of `version`'s Deployment (0 retires it and keeps it). */
  scale(rollout: Rollout, version: string, replicas: number): Promise<void>;
  /** Deletes `version`'s Deployment and its pods; nothing when it is gone already. */
  remove(rollout: Rollout, version: string): Promise<void>;
  /** The Deployments labelled as this Rollout's. */
  list(rollout: Rollout): Promise<VersionWorkload[]>;
  /** Size, readiness and failure of `version`'s Deployment. */
  state(rollout: Rollout, version: string): Promise<WorkloadState>;
}

/** A write or read of a workload that failed, in words a person reads (no credentials in it). */
export class WorkloadError extends Error {}

export class KubeWorkloads implements WorkloadManager {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly objects: CustomObjectsApi;

  constructor(
    kc: KubeConfig,
    private readonly maxAttempts = 5,
  ) {
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.objects = kc.makeApiClient(CustomObjectsApi);
  }

  async apply(rollout: Rollout, version: string, replicas: number): Promise<void> {
    const body = rendered(rollout, version, replicas);
    const { namespace, name } = body.metadata;
    try {
      await this.apps.patchNamespacedDeployment({ namespace, name, body, fieldManager: FIELD_MANAGER, force: true }, setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply));
    } catch (error) {
      throw new WorkloadError(kubeError(error, `applying Deployment ${namespace}/${name}`).message);
    }
  }

  /**
   * The rule named as the service when it serves the service's host (one GET, as the router reads
   * it), else the namespace's rules: whole objects, as a replace needs them.
   */
  private async rulesFor(rollout: Rollout): Promise<unknown[]> {
    const { namespace } = rollout;
    try {
      const named: unknown = await this.objects.getNamespacedCustomObject({ ...DR, namespace, name: rollout.spec.service });
      if (destinationRuleOf(rollout, [named]) !== undefined) return [named];
    } catch (error) {
      const failure = kubeError(error, `reading DestinationRule ${namespace}/${rollout.spec.service}`);
      if (!isNotFound(failure)) throw new WorkloadError(failure.message);
    }
    let list: unknown;
    try {
      list = await this.objects.listNamespacedCustomObject({ ...DR, namespace });
    } catch (error) {
      throw new WorkloadError(kubeError(error, `listing DestinationRules in ${namespace}`).message);
    }
    return isObject(list) && Array.isArray(list.items) ? list.items : [];
  }

  async ensureSubset(rollout: Rollout, version: string): Promise<boolean> {
    const subset = renderSubset(rollout, version);
    if (subset === undefined) return false; // host mode: each version is a Service of its own, the user's
    const namespace = rollout.namespace;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const rule = destinationRuleOf(rollout, await this.rulesFor(rollout));
      if (rule === undefined) {
        throw new WorkloadError(`no DestinationRule for host ${rollout.spec.service} in namespace ${namespace}: create one (its traffic policy is yours); Tideway adds each version's subset to it`);
      }
      const ruleName = isObject(rule.metadata) && typeof rule.metadata.name === "string" ? rule.metadata.name : rollout.spec.service;
      const subsets = Array.isArray(rule.spec.subsets) ? rule.spec.subsets : [];
      const next = withSubset(subsets, subset);
      if (next === undefined) return false;
      let written: unknown;
      try {
        // The rule as read carries its resourceVersion: a write over someone else's is refused (409).
        written = await this.objects.replaceNamespacedCustomObject({ ...DR, namespace, name: ruleName, body: { ...rule, spec: { ...rule.spec, subsets: next } } });
      } catch (error) {
        const failure = kubeError(error, `writing subset ${subset.name} of DestinationRule ${namespace}/${ruleName}`);
        if (isConflict(failure) && attempt < this.maxAttempts) continue;
        throw new WorkloadError(failure.message);
      }
      const stored = isObject(written) && isObject(written.spec) && Array.isArray(written.spec.subsets) ? written.spec.subsets : [];
      if (withSubset(stored, subset) !== undefined) {
        throw new WorkloadError(`DestinationRule ${namespace}/${ruleName} does not hold subset ${subset.name} as written (${JSON.stringify(subset.labels)}): is an admission webhook changing it?`);
      }
      return true;
    }
    throw new WorkloadError(`DestinationRule of ${rollout.spec.service} in ${namespace} kept changing; gave up after ${this.maxAttempts} attempts`);
  }

  async scale(rollout: Rollout, version: string, replicas: number): Promise<void> {
    const namespace = rollout.namespace;
    const name = workloadName(rollout.spec, version);
    try {
      await this.apps.patchNamespacedDeployment({ namespace, name, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    } catch (error) {
      const failure = kubeError(error, `scaling Deployment ${namespace}/${name} to ${replicas}`);
      if (isNotFound(failure) && replicas === 0) return; // gone is as good as scaled to 0
      throw new WorkloadError(failure.message);
    }
  }

  async remove(rollout: Rollout, version: string): Promise<void> {
    const namespace = rollout.namespace;
    const name = workloadName(rollout.spec, version);
    try {
      await this.apps.deleteNamespacedDeployment({ namespace, name, propagationPolicy: "Background" });
    } catch (error) {
      const failure = kubeError(error, `deleting Deployment ${namespace}/${name}`);
      if (isNotFound(failure)) return;
      throw new WorkloadError(failure.message);
    }
  }

  async list(rollout: Rollout): Promise<VersionWorkload[]> {
    const namespace = rollout.namespace;
    try {
      const list = await this.apps.listNamespacedDeployment({ namespace, labelSelector: rolloutSelector(rollout) });
      return list.items.flatMap((deployment) => {
        const version = deployment.metadata?.labels?.[VERSION_LABEL];
        const name = deployment.metadata?.name;
        return version !== undefined && name !== undefined ? [{ name, version, replicas: deployment.spec?.replicas ?? 1 }] : [];
      });
    } catch (error) {
      throw new WorkloadError(kubeError(error, `listing Deployments of Rollout ${namespace}/${rollout.name}`).message);
    }
  }

  async state(rollout: Rollout, version: string): Promise<WorkloadState> {
    const namespace = rollout.namespace;
    const name = workloadName(rollout.spec, version);
    let deployment: V1Deployment;
    try {
      deployment = await this.apps.readNamespacedDeployment({ namespace, name });
    } catch (error) {
      const failure = kubeError(error, `reading Deployment ${namespace}/${name}`);
      if (isNotFound(failure)) return { exists: false, replicas: 0, readyReplicas: 0, availableReplicas: 0, available: false };
      throw new WorkloadError(failure.message);
    }
    const replicas = deployment.spec?.replicas ?? 1;
    const status = deployment.status ?? {};
    const current = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
    const availableReplicas = status.availableReplicas ?? 0;
    const state: WorkloadState = {
      exists: true,
      replicas,
      readyReplicas: status.readyReplicas ?? 0,
      availableReplicas,
      // As `kubectl rollout status` has it: the controller saw this spec and every pod is updated and available.
      available: current && (status.updatedReplicas ?? 0) >= replicas && availableReplicas >= replicas && (status.replicas ?? 0) <= replicas,
    };
    const failure = deadlineExceeded(name, deployment) ?? (await this.failingPod(namespace, name, deployment));
    return failure === undefined ? state : { ...state, failure };
  }

  /** The first failing container among the Deployment's pods. */
  private async failingPod(namespace: string, name: string, deployment: V1Deployment): Promise<string | undefined> {
    const selector = deployment.spec?.selector.matchLabels;
    if (selector === undefined || Object.keys(selector).length === 0) return undefined;
    let pods: V1Pod[];
    try {
      pods = (
        await this.core.listNamespacedPod({
          namespace,
          labelSelector: Object.entries(selector)
            .map(([key, value]) => `${key}=${value}`)
            .join(","),
        })
      ).items;
    } catch (error) {
      throw new WorkloadError(kubeError(error, `listing pods of Deployment ${namespace}/${name}`).message);
    }
    for (const pod of pods) {
      if (pod.metadata?.deletionTimestamp !== undefined) continue;
      const failure = podFailure(pod);
      // Worded as readiness words it ("pod NAME: ..."): whichever read sees it first, the reason is the same.
      if (failure !== undefined) return `pod ${pod.metadata?.name ?? "?"}: ${failure}`;
    }
    return undefined;
  }
}

/** The Deployment to apply; a Rollout without a workload, or a version that cannot name one, is a WorkloadError. */
function rendered(rollout: Rollout, version: string, replicas: number): DeploymentManifest {
  try {
    return renderDeployment(rollout, version, replicas);
  } catch (error) {
    throw new WorkloadError(error instanceof Error ? error.message : String(error));
  }
}

/** `Progressing=False ProgressDeadlineExceeded`: the Deployment controller gave up waiting for it. */
function deadlineExceeded(name: string, deployment: V1Deployment): string | undefined {
  const condition = deployment.status?.conditions?.find((c) => c.type === "Progressing");
  if (condition?.status !== "False" || condition.reason !== "ProgressDeadlineExceeded") return undefined;
  return `${name}: ProgressDeadlineExceeded${condition.message ? `: ${brief(condition.message)}` : ""}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
