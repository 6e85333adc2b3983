/**
 * The baseline of bench/readiness.ts, never used outside it: preloaded into the compiled controller
 * (`node --import tsx --import ./bench/without-readiness.ts dist/main.js`), it turns readiness
 * gating off in the same build. Every readiness read fails at once without a request, which the
 * reconciler treats as "nothing seen" (no status.readiness yet, so nothing is gated), and the
 * EndpointSlice watch is never started.
 */
type ReadinessModule = typeof import("../src/kube/readiness.js");
type EndpointWatchModule = typeof import("../src/kube/endpoint-watch.js");

const dist = (path: string) => new URL(`../dist/${path}`, import.meta.url).href;
const { KubeReadiness } = (await import(dist("kube/readiness.js"))) as ReadinessModule;
const { EndpointWatch } = (await import(dist("kube/endpoint-watch.js"))) as EndpointWatchModule;

KubeReadiness.prototype.read = () => Promise.reject(new Error("readiness gating off (benchmark baseline)"));
EndpointWatch.prototype.ensure = () => undefined;
