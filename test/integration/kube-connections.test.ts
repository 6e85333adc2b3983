import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { ClientRequest } from "node:http";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { PooledKubeConfig } from "../../src/kube/config.js";
import { services } from "./services.js";

/** Connections opened while `work` runs: HTTP responses that came on a socket not reused from an earlier request. */
async function connectionsOpenedBy(work: () => Promise<unknown>): Promise<number> {
  let opened = 0;
  const count = (message: unknown) => {
    const { request } = message as { request: ClientRequest };
    if (!request.reusedSocket) opened++;
  };
  subscribe("http.client.response.finish", count);
  try {
    await work();
  } finally {
    unsubscribe("http.client.response.finish", count);
  }
  return opened;
}

const twentyReads = (kc: KubeConfig) => async () => {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (let i = 0; i < 10; i++) {
    await core.listNamespace();
    await custom.listCustomObjectForAllNamespaces({ group: "tideway.io", version: "v1alpha1", plural: "rollouts", limit: 1 });
  }
};

describe("connections to the API server", () => {
  it("are kept open and shared by the controller's clients, one after the other", async () => {
    const pooled = new PooledKubeConfig();
    pooled.loadFromString(services().kubeconfigYaml);
    expect(await connectionsOpenedBy(twentyReads(pooled))).toBe(1);
  });

  it("are opened once per request by client-node's own KubeConfig (what the pool saves)", async () => {
    const plain = new KubeConfig();
    plain.loadFromString(services().kubeconfigYaml);
    expect(await connectionsOpenedBy(twentyReads(plain))).toBe(20);
  });

  it("are shared by concurrent requests up to their number, then reused", async () => {
    const pooled = new PooledKubeConfig();
    pooled.loadFromString(services().kubeconfigYaml);
    const core = pooled.makeApiClient(CoreV1Api);
    const opened = await connectionsOpenedBy(async () => {
      for (let round = 0; round < 5; round++) await Promise.all(Array.from({ length: 4 }, () => core.listNamespace()));
    });
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(4);
  });
});
