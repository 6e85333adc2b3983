/** The Rollout a route claim names, as it is now: for every router that records route owners (route-owners.ts). */
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { isNotFound, kubeError } from "../kube/errors.js";
import { GROUP, PLURAL, VERSION } from "../kube/rollouts.js";
import type { Rollout } from "../rollout/model.js";
import { RolloutSpecSchema } from "../rollout/schema.js";
import { TrafficError } from "./router.js";
import { isObject } from "./virtual-service.js";

/** The Rollout "namespace/name"; undefined when it is gone, "unreadable" when its spec cannot be read. */
export async function findClaimant(api: CustomObjectsApi, owner: string): Promise<Rollout | "unreadable" | undefined> {
  const [namespace = "", name = ""] = owner.split("/");
  let object: unknown;
  try {
    object = await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name });
  } catch (error) {
    const failure = kubeError(error, `reading Rollout ${owner}, which owns a route`);
    if (isNotFound(failure)) return undefined;
    throw new TrafficError(failure.message);
  }
  const spec = RolloutSpecSchema.safeParse(isObject(object) ? object.spec : undefined);
  return spec.success ? { namespace, name, spec: spec.data } : "unreadable";
}
