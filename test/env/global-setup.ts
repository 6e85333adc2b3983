import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { endpointsOf, startServices, type ServiceEndpoints, type Services } from "./index.js";

declare module "vitest" {
  export interface ProvidedContext {
    services: ServiceEndpoints;
  }
}

/** The services of this vitest process, shared by every project that names this setup (integration, chaos). */
interface Shared {
  services: Promise<Services>;
  users: number;
}
const SHARED = Symbol.for("tideway.test-env.services");
const registry = globalThis as { [SHARED]?: Shared };

function startShared(): Shared {
  const started = Date.now();
  // The Rollout CRD as generated from src/rollout/schema.ts, installed like Istio's.
  const services = startServices({
    extraCrdFiles: [fileURLToPath(new URL("../../charts/tideway/crds/rollouts.tideway.io.yaml", import.meta.url))],
    log: (line) => console.log(`[test-env] ${line}`),
  }).then((s) => (console.log(`[test-env] services up in ${Date.now() - started} ms`), s));
  return { services, users: 0 };
}

/** Starts the real services once for all test files of every project using it, and stops them after the last project. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (registry[SHARED] ??= startShared());
  shared.users += 1;
  try {
    project.provide("services", endpointsOf(await shared.services));
  } catch (error) {
    shared.users -= 1;
    if (shared.users === 0) delete registry[SHARED];
    throw error;
  }
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    delete registry[SHARED];
    await (await shared.services).stop();
  };
}
