/**
 * The dashboard acts with the user's own rights: a user who may only read Rollouts in one
 * namespace sees them there, is told how to start the dashboard when every namespace is refused,
 * and an abort from the page is refused by the API server (and nothing is written).
 */
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDashboard, type Dashboard } from "../../src/dashboard/dashboard.js";
import { authenticatedUser } from "../../src/kube/identity.js";
import { RolloutClient } from "../../src/kube/rollouts.js";
import { rolloutYaml } from "./rollout-yaml.js";
import { kubeConfig, services, uniqueName } from "./services.js";

const admin = kubeConfig();
const namespace = uniqueName("dash-rbac");
const dashboards: Dashboard[] = [];
let viewer: KubeConfig;

/** A kubeconfig for ServiceAccount `viewer`, which may read Rollouts and Events in `namespace` only. */
async function viewerKubeConfig(): Promise<KubeConfig> {
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "viewer" } } });
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: "rollout-viewer" },
      rules: [
        { apiGroups: ["tideway.io"], resources: ["rollouts"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["events"], verbs: ["get", "list", "watch"] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: "rollout-viewer" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "rollout-viewer" },
      subjects: [{ kind: "ServiceAccount", name: "viewer", namespace }],
    },
  });
  const token = await core.createNamespacedServiceAccountToken({ name: "viewer", namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const config = parse(services().kubeconfigYaml) as { users: { name: string; user: unknown }[] };
  const kc = new KubeConfig();
  kc.loadFromString(stringify({ ...config, users: config.users.map((u) => ({ name: u.name, user: { token: token.status?.token } })) }));
  return kc;
}

async function start(options: { namespace?: string }): Promise<string> {
  const dashboard = await startDashboard({ kc: viewer, host: "127.0.0.1", port: 0, user: (await authenticatedUser(viewer)) ?? "unknown", ...options });
  dashboards.push(dashboard);
  return dashboard.url.replace(/\/$/, "");
}

describe("the dashboard with a read-only user's kubeconfig", () => {
  beforeAll(async () => {
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const document = parse(rolloutYaml({ name: "reviews", namespace, version: "v2" })) as { spec: unknown };
    await new RolloutClient(admin).apply({ metadata: { name: "reviews", namespace, labels: {}, annotations: {} }, spec: document.spec }, "dashboard-test");
    viewer = await viewerKubeConfig();
  });

  afterAll(async () => {
    for (const dashboard of dashboards) await dashboard.close();
  });

  it("says why every namespace is refused, and how to watch one", async () => {
    const base = await start({});
    const answer = (await (await fetch(`${base}/api/rollouts`)).json()) as { rollouts: unknown[]; problem: string };
    expect(answer.rollouts).toEqual([]);
    // Both watches are refused, in either order: the page shows both problems.
    expect(answer.problem).toMatch(/(^|; )listing Rollouts: [^;]*forbidden[^;]*; start the dashboard with -n <namespace> to watch one namespace \(watching Rollouts again in \d+s\)/);
    expect(answer.problem).toMatch(/(^|; )listing Events: [^;]*forbidden/);
  });

  it("shows the namespace it may read, and an abort is refused by the API server with nothing written", async () => {
    const base = await start({ namespace });
    const answer = (await (await fetch(`${base}/api/rollouts`)).json()) as { rollouts: { name: string }[]; problem: string | null };
    expect(answer).toMatchObject({ rollouts: [{ name: "reviews" }], problem: null });
    const page = await fetch(`${base}/`);
    const headers = {
      "content-type": "application/json",
      cookie: (page.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
      "x-tideway-csrf": /name="csrf-token" content="([^"]+)"/.exec(await page.text())?.[1] ?? "",
      origin: base,
    };
    const response = await fetch(`${base}/api/rollouts/${namespace}/reviews/abort`, { method: "POST", headers, body: JSON.stringify({ reason: "not mine to stop" }) });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: string }).error).toMatch(
      new RegExp(`^patching Rollout ${namespace}/reviews: .*"system:serviceaccount:${namespace}:viewer" cannot patch resource "rollouts"`),
    );
    const annotations = (await new RolloutClient(admin).get(namespace, "reviews")).metadata.annotations ?? {};
    expect(annotations["tideway.io/abort"]).toBeUndefined();
  });
});
