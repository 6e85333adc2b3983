import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { endpointsOf, startServices, type ServiceEndpoints } from "./index.js";

declare module "vitest" {
  export interface ProvidedContext {
    services: ServiceEndpoints;
  }
}

/** Starts the real services once for all integration test files, and always stops them. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  // The Rollout CRD as generated from src/rollout/schema.ts, installed like Istio's.
  const services = await startServices({
    extraCrdFiles: [fileURLToPath(new URL("../../charts/tideway/crds/rollouts.tideway.io.yaml", import.meta.url))],
    log: (line) => console.log(`[test-env] ${line}`),
  });
  console.log(`[test-env] services up in ${Date.now() - started} ms`);
  project.provide("services", endpointsOf(services));
  return async () => {
    await services.stop();
  };
}
