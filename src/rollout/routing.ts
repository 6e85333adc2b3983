/**
 * What a Rollout's `spec.trafficRouting` routes through: which router, and which objects of it.
 * Every reader (the routers, `tideway validate`, the git sync's shared-route check) derives them
 * here, so a default (the Rollout's namespace) is decided once.
 */
import type { Rollout } from "./model.js";
import type { FieldPath } from "./parse-positions.js";

/** A VirtualService the Istio router drives: `namespace` resolved, `field` where it is in the spec. */
export interface VirtualServiceRef {
  namespace: string;
  name: string;
  /** Names of the http routes managed; undefined: the VirtualService's only route. */
  routes?: readonly string[];
  field: FieldPath;
  /** The field as people read it: "trafficRouting.istio.virtualServices[1]". */
  where: string;
}

const ISTIO: FieldPath = ["spec", "trafficRouting", "istio"];

/** The VirtualServices of an istio Rollout, in the order given: `virtualService`, or each of `virtualServices`. */
export function virtualServicesOf(rollout: Pick<Rollout, "namespace" | "spec">): VirtualServiceRef[] {
  const istio = rollout.spec.trafficRouting.istio;
  if (istio === undefined) return [];
  const refs =
    istio.virtualServices?.map((vs, index) => ({ vs, key: ["virtualServices", index] as const, where: `virtualServices[${index}]` })) ??
    (istio.virtualService ? [{ vs: istio.virtualService, key: ["virtualService"] as const, where: "virtualService" }] : []);
  return refs.map(({ vs, key, where }) => ({
    namespace: vs.namespace ?? rollout.namespace,
    name: vs.name,
    ...(vs.routes !== undefined ? { routes: vs.routes } : {}),
    field: [...ISTIO, ...key],
    where: `trafficRouting.istio.${where}`,
  }));
}

/** "bookinfo/reviews", or "reviews" when it is in the Rollout's own namespace (as people wrote it). */
export function virtualServiceLabel(rollout: Pick<Rollout, "namespace">, vs: Pick<VirtualServiceRef, "namespace" | "name">): string {
  return vs.namespace === rollout.namespace ? vs.name : `${vs.namespace}/${vs.name}`;
}

/** The routers Tideway has, by the key of `spec.trafficRouting` that selects each. */
export type RouterKind = "istio" | "gatewayAPI";

export function routerKind(rollout: Pick<Rollout, "spec">): RouterKind {
  return rollout.spec.trafficRouting.gatewayAPI !== undefined ? "gatewayAPI" : "istio";
}

/** The HTTPRoute a gatewayAPI Rollout drives: `namespace` resolved, `where` as people read the field. */
export interface HttpRouteRef {
  namespace: string;
  name: string;
  /** Names of the rules managed; undefined: the HTTPRoute's only rule. */
  rules?: readonly string[];
  field: FieldPath;
  where: string;
}

export function httpRouteOf(rollout: Pick<Rollout, "namespace" | "spec">): HttpRouteRef | undefined {
  const route = rollout.spec.trafficRouting.gatewayAPI?.httpRoute;
  if (route === undefined) return undefined;
  return {
    namespace: route.namespace ?? rollout.namespace,
    name: route.name,
    ...(route.rules !== undefined ? { rules: route.rules } : {}),
    field: ["spec", "trafficRouting", "gatewayAPI", "httpRoute"],
    where: "trafficRouting.gatewayAPI.httpRoute",
  };
}
