/**
 * A baseline for bench/adoption.ts, never used outside benchmarks: preloaded into the compiled
 * controller (`node --import tsx --import ./bench/without-pool.ts dist/main.js`), it makes every
 * API request open its own TLS connection again, as client-node 1.4 does by itself.
 */
import { KubeConfig } from "@kubernetes/client-node";

type ConfigModule = typeof import("../src/kube/config.js");

const { PooledKubeConfig } = (await import(new URL("../dist/kube/config.js", import.meta.url).href)) as ConfigModule;

PooledKubeConfig.prototype.applyToHTTPSOptions = KubeConfig.prototype.applyToHTTPSOptions;
PooledKubeConfig.prototype.applySecurityAuthentication = KubeConfig.prototype.applySecurityAuthentication;
