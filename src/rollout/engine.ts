/** The release engine's public face. */
export { decide, TRAFFIC_RETRY_MAX_MS, TRAFFIC_RETRY_MS, trafficRetryDelay } from "./engine/decide.js";
export { ROUTE_RECHECK_MS, routeRefused } from "./engine/route.js";
export { awaitsAnalysis, overallOutcome } from "./engine/checks.js";
export type { Decision, Effect, EventKind, MetricComparison, MetricResult, Observation, ReleaseEvent, RouteConflict, TrafficFailureCause } from "./engine/types.js";
export { desiredTraffic, formerVersions, sameTraffic, trafficPending, type Traffic } from "./traffic.js";
