import { CoreV1Api, DiscoveryV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { EndpointWatch } from "../../src/kube/endpoint-watch.js";
import { waitUntil } from "../env/index.js";
import { kubeConfig, uniqueName } from "./services.js";

function slice(service: string) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: service, labels: { "kubernetes.io/service-name": service } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.244.0.1"], conditions: { ready: false } }],
  };
}

describe("the EndpointSlice watch", () => {
  it("reports changes made after it starts, not every slice already there, and not again when it renews", async () => {
    const kc = kubeConfig();
    const namespace = uniqueName("endpoint-watch");
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    for (const service of ["a", "b", "c"]) await discovery.createNamespacedEndpointSlice({ namespace, body: slice(service) });
    const changes: string[] = [];
    const watch = new EndpointWatch(kc, { onChange: (ns, service) => changes.push(`${ns}/${service}`), timeoutSeconds: 1 });
    try {
      watch.ensure(namespace);
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // its list and watch under way
      await discovery.createNamespacedEndpointSlice({ namespace, body: slice("d") });
      await waitUntil("the new slice reported", async () => changes.includes(`${namespace}/d`), { timeoutMs: 10_000, intervalMs: 50 });
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // at least one renewal (timeoutSeconds 1)
      await discovery.patchNamespacedEndpointSlice(
        { namespace, name: "a", body: { endpoints: [{ addresses: ["10.244.0.1"], conditions: { ready: true } }] } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      await waitUntil("the changed slice reported", async () => changes.includes(`${namespace}/a`), { timeoutMs: 10_000, intervalMs: 50 });
      expect(changes).toEqual([`${namespace}/d`, `${namespace}/a`]);
    } finally {
      watch.stop();
    }
  });
});
