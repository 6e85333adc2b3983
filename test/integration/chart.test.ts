/**
 * The Helm chart against the real API server: lint, render, server-side dry run of everything
 * it renders, and one release run with nothing but the chart's ServiceAccount and RBAC.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml, stringify } from "yaml";
import { AccessReviews } from "../../src/kube/access-review.js";
import { KubeWorkloads } from "../../src/kube/workloads.js";
import { HttpRouteTraffic } from "../../src/traffic/gateway-api.js";
import { RolloutSpecSchema } from "../../src/rollout/schema.js";
import { removeDir, tempDir } from "../env/process.js";
import { createWorld, type World } from "./release-harness.js";
import { kubeConfig, services, uniqueName } from "./services.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHART = join(ROOT, "charts/tideway");
const GIT_URL = "https://github.com/acme/deploys.git";

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

let helm: string;
let kubectl: string;
let namespace: string;
const cleanup: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  // Builds helm from the Go module proxy on first use (minutes, once); cached afterwards.
  const out = execFileSync("bash", [join(ROOT, "scripts/helm-binary.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  helm = out.trim().split("\n").at(-1) ?? "";
  kubectl = services().kubectl ?? "";
  if (!kubectl) throw new Error("kubectl was not built: run bash scripts/k8s-binaries.sh");
  namespace = uniqueName("chart");
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: namespace } } });
}, 900_000);

afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

function run(command: string, args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { input, encoding: "utf8", env: { ...process.env, HOME: process.env.HOME ?? "/tmp" } });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function kube(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  return run(kubectl, ["--kubeconfig", services().kubeconfigPath, ...args], input);
}

/** `helm template` with --set pairs; throws with helm's message on failure. */
function template(release: string, set: Record<string, string>, extra: string[] = []): string {
  const args = ["template", release, CHART, "--namespace", namespace, ...Object.entries(set).flatMap(([k, v]) => ["--set", `${k}=${v}`]), ...extra];
  const result = run(helm, args);
  if (result.status !== 0) throw new Error(`helm ${args.join(" ")}\n${result.stderr}`);
  return result.stdout;
}

/**
 * NOTES.txt as `helm install` would print it. `helm install --dry-run` insists on a cluster whose
 * version meets the chart's kubeVersion (the test API server, built from source, says v0.0.0), and
 * `helm template` skips NOTES; so a copy of the chart renders it into a ConfigMap with `tpl`.
 */
function notes(set: Record<string, string>): string {
  const dir = tempDir("chart-notes");
  cleanup.push(() => removeDir(dir));
  const copy = join(dir, "tideway");
  cpSync(CHART, copy, { recursive: true });
  cpSync(join(copy, "templates/NOTES.txt"), join(copy, "notes.txt"));
  writeFileSync(join(copy, "templates/notes-check.yaml"), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: notes }\ndata:\n  notes: {{ tpl (.Files.Get "notes.txt") . | quote }}\n');
  const args = ["template", "tideway", copy, "--namespace", namespace, "--show-only", "templates/notes-check.yaml", ...Object.entries(set).flatMap(([k, v]) => ["--set", `${k}=${v}`])];
  const result = run(helm, args);
  if (result.status !== 0) throw new Error(`helm ${args.join(" ")}\n${result.stderr}`);
  return (parseYaml(result.stdout) as { data: { notes: string } }).data.notes;
}

function manifests(yaml: string): Manifest[] {
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const find = (list: Manifest[], kind: string, name?: string): Manifest | undefined => list.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));

interface Container {
  env: { name: string; value?: string }[];
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string }[];
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
}
interface PodSpec {
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; emptyDir?: object; secret?: { secretName: string; items: { key: string; path: string }[] } }[];
  serviceAccountName: string;
}
const podSpec = (deployment: Manifest | undefined) => (deployment as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
const envOf = (container: Container | undefined) => Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));

describe("the Helm chart", () => {
  it("passes helm lint", () => {
    const result = run(helm, ["lint", CHART, "--strict", "--set", `git.url=${GIT_URL}`]);
    expect(result.stdout + result.stderr).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(result.status).toBe(0);
  });

  it.each([
    ["no git.url", {}, /git.url is required/],
    ["external Redis without a URL", { "git.url": GIT_URL, "redis.bundled": "false" }, /redis\.url|url/],
    ["an unknown log level", { "git.url": GIT_URL, logLevel: "verbose" }, /logLevel/],
    ["a misspelt value", { "git.url": GIT_URL, "git.brnach": "main" }, /brnach/],
    ["a scrape interval that is not a duration", { "git.url": GIT_URL, "prometheus.scrapeInterval": "often" }, /scrapeInterval/],
    [
      "an external Redis password that would be plain text next to an existing Secret",
      { "git.url": GIT_URL, existingSecret: "creds", "redis.bundled": "false", "redis.url": "redis://:pw@r:6379" },
      /existingSecretKeys\.redisUrl/,
    ],
    ["Sentinels next to the bundled Redis", { "git.url": GIT_URL, "redis.sentinel.hosts": "{s0:26379}" }, /redis\.sentinel\.hosts names an external Redis: set redis\.bundled to false/],
    [
      "Sentinels and a URL",
      { "git.url": GIT_URL, "redis.bundled": "false", "redis.url": "redis://r:6379", "redis.sentinel.hosts": "{s0:26379}" },
      /redis\.url and redis\.sentinel\.hosts both name Redis/,
    ],
    ["a Sentinel that is not host:port", { "git.url": GIT_URL, "redis.bundled": "false", "redis.sentinel.hosts": "{s0 26379}" }, /sentinel\/hosts/],
  ])("refuses %s with a message naming the value", (_case, set: Record<string, string>, message) => {
    expect(() => template("tideway", set)).toThrow(message);
  });

  it("renders a locked-down controller with bundled Redis and no Secret by default", () => {
    const list = manifests(template("tideway", { "git.url": GIT_URL }));
    expect(list.map((m) => m.kind).sort()).toEqual(["ClusterRole", "ClusterRoleBinding", "Deployment", "Deployment", "NetworkPolicy", "Service", "Service", "ServiceAccount"]);
    const pod = podSpec(find(list, "Deployment", "tideway"));
    const container = pod.containers[0];
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } });
    expect(container?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(container?.livenessProbe.httpGet.path).toBe("/healthz");
    expect(container?.readinessProbe.httpGet.path).toBe("/readyz");
    expect(container?.volumeMounts.map((v) => v.mountPath).sort()).toEqual(["/tmp", "/var/cache/tideway"]);
    expect(envOf(container)).toMatchObject({
      TIDEWAY_GIT_URL: GIT_URL,
      TIDEWAY_GIT_CACHE_DIR: "/var/cache/tideway",
      TIDEWAY_REDIS_URL: "redis://tideway-redis:6379",
      HOME: "/tmp",
      TIDEWAY_LISTEN: ":8080",
      TIDEWAY_PROMETHEUS_SCRAPE_INTERVAL: "15s",
    });
    expect(Object.keys(envOf(container)).filter((name) => name.endsWith("_FILE"))).toEqual([]);
    const redis = podSpec(find(list, "Deployment", "tideway-redis"));
    expect(redis.securityContext).toMatchObject({ runAsNonRoot: true });

    // Only the controller's pods may reach the bundled Redis, which has no password.
    const policy = find(list, "NetworkPolicy", "tideway-redis") as unknown as {
      spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[] };
    };
    const podLabels = (name: string) => (find(list, "Deployment", name) as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels;
    const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(policy.spec.policyTypes).toEqual(["Ingress"]);
    expect(selects(policy.spec.podSelector.matchLabels, podLabels("tideway-redis"))).toBe(true);
    expect(selects(policy.spec.podSelector.matchLabels, podLabels("tideway"))).toBe(false);
    expect(policy.spec.ingress).toHaveLength(1);
    const from = policy.spec.ingress[0]?.from.map((f) => f.podSelector.matchLabels) ?? [];
    expect(from.map((selector) => selects(selector, podLabels("tideway")))).toEqual([true]);
    expect(from.map((selector) => selects(selector, podLabels("tideway-redis")))).toEqual([false]);
    expect(policy.spec.ingress[0]?.ports).toEqual([{ port: 6379, protocol: "TCP" }]);
    expect(find(manifests(template("tideway", { "git.url": GIT_URL, "redis.networkPolicy": "false" })), "NetworkPolicy")).toBeUndefined();
  });

  it("passes secrets as files, from its own Secret or from an existing one", () => {
    const own = manifests(
      template("tideway", { "git.url": GIT_URL, "git.token": "tok-123", webhookSecret: "hook-456", "slack.webhookUrl": "https://hooks.slack.com/services/x", "slack.signingSecret": "sign-789" }),
    );
    expect(find(own, "Secret")).toMatchObject({
      stringData: { "git-token": "tok-123", "webhook-secret": "hook-456", "slack-webhook-url": "https://hooks.slack.com/services/x", "slack-signing-secret": "sign-789" },
    });
    const ownEnv = envOf(podSpec(find(own, "Deployment", "tideway")).containers[0]);
    expect(ownEnv).toMatchObject({
      TIDEWAY_GIT_TOKEN_FILE: "/etc/tideway/secrets/git-token",
      TIDEWAY_WEBHOOK_SECRET_FILE: "/etc/tideway/secrets/webhook-secret",
      TIDEWAY_SLACK_WEBHOOK_URL_FILE: "/etc/tideway/secrets/slack-webhook-url",
      TIDEWAY_SLACK_SIGNING_SECRET_FILE: "/etc/tideway/secrets/slack-signing-secret",
    });
    expect(JSON.stringify(podSpec(find(own, "Deployment", "tideway")).containers[0]?.env)).not.toContain("tok-123");
    expect(JSON.stringify(podSpec(find(own, "Deployment", "tideway")).containers[0]?.env)).not.toContain("sign-789");
    // Without a signing secret there are no buttons, and nothing of it in the Deployment.
    expect(
      envOf(podSpec(find(manifests(template("tideway", { "git.url": GIT_URL, "slack.webhookUrl": "https://hooks.slack.com/services/x" })), "Deployment", "tideway")).containers[0])
        .TIDEWAY_SLACK_SIGNING_SECRET_FILE,
    ).toBeUndefined();

    const existing = manifests(
      template("tideway", {
        "git.url": GIT_URL,
        existingSecret: "deploy-creds",
        "existingSecretKeys.gitSshKey": "ssh-privatekey",
        "existingSecretKeys.gitToken": "",
        "existingSecretKeys.slackSigningSecret": "slack-signing",
      }),
    );
    expect(find(existing, "Secret")).toBeUndefined();
    const pod = podSpec(find(existing, "Deployment", "tideway"));
    expect(pod.volumes.find((v) => v.name === "secrets")?.secret).toMatchObject({ secretName: "deploy-creds" });
    expect(envOf(pod.containers[0])).toMatchObject({
      TIDEWAY_GIT_SSH_KEY_FILE: "/etc/tideway/secrets/ssh-privatekey",
      TIDEWAY_SLACK_WEBHOOK_URL_FILE: "/etc/tideway/secrets/slack-webhook-url",
      TIDEWAY_SLACK_SIGNING_SECRET_FILE: "/etc/tideway/secrets/slack-signing",
    });
    expect(envOf(pod.containers[0]).TIDEWAY_GIT_TOKEN_FILE).toBeUndefined();
  });

  it("keeps an external Redis URL, which may carry a password, in the Secret and out of the Deployment and NOTES", () => {
    const url = "redis://:pa55word@redis.infra:6379";
    const own = manifests(template("tideway", { "git.url": GIT_URL, "redis.bundled": "false", "redis.url": url }));
    expect(find(own, "Secret")).toMatchObject({ stringData: { "redis-url": url } });
    expect(find(own, "Deployment", "tideway-redis")).toBeUndefined();
    expect(find(own, "NetworkPolicy")).toBeUndefined();
    const container = podSpec(find(own, "Deployment", "tideway")).containers[0];
    expect(envOf(container)).toMatchObject({ TIDEWAY_REDIS_URL_FILE: "/etc/tideway/secrets/redis-url" });
    expect(envOf(container).TIDEWAY_REDIS_URL).toBeUndefined();
    expect(JSON.stringify(find(own, "Deployment", "tideway"))).not.toContain("pa55word");
    const printed = notes({ "git.url": GIT_URL, "redis.bundled": "false", "redis.url": url });
    expect(printed).toContain("Redis: external");
    expect(printed).not.toContain("pa55word");
    expect(notes({ "git.url": GIT_URL })).toContain("Redis: redis://tideway-redis:6379 (bundled)");

    // With an existing Secret, its key holds the URL and redis.url is not needed.
    const existing = manifests(template("tideway", { "git.url": GIT_URL, "redis.bundled": "false", existingSecret: "deploy-creds", "existingSecretKeys.redisUrl": "redis-url" }));
    const env = envOf(podSpec(find(existing, "Deployment", "tideway")).containers[0]);
    expect(env).toMatchObject({ TIDEWAY_REDIS_URL_FILE: "/etc/tideway/secrets/redis-url" });
    expect(env.TIDEWAY_REDIS_URL).toBeUndefined();
    // ...and is ignored while the chart bundles Redis.
    const bundled = envOf(
      podSpec(find(manifests(template("tideway", { "git.url": GIT_URL, existingSecret: "deploy-creds", "existingSecretKeys.redisUrl": "redis-url" })), "Deployment", "tideway")).containers[0],
    );
    expect(bundled).toMatchObject({ TIDEWAY_REDIS_URL: "redis://tideway-redis:6379" });
    expect(bundled.TIDEWAY_REDIS_URL_FILE).toBeUndefined();
  });

  it("points at a Sentinel-managed Redis, its passwords in the Secret and out of the Deployment", () => {
    const set = {
      "git.url": GIT_URL,
      "redis.bundled": "false",
      "redis.sentinel.hosts": "{s0.infra:26379,s1.infra:26379,s2.infra:26379}",
      "redis.sentinel.name": "tideway",
      "redis.password": "pa55word",
      "redis.sentinelPassword": "s3ntinel",
    };
    const own = manifests(template("tideway", set));
    expect(find(own, "Secret")).toMatchObject({ stringData: { "redis-password": "pa55word", "redis-sentinel-password": "s3ntinel" } });
    const env = envOf(podSpec(find(own, "Deployment", "tideway")).containers[0]);
    expect(env).toMatchObject({
      TIDEWAY_REDIS_SENTINELS: "s0.infra:26379,s1.infra:26379,s2.infra:26379",
      TIDEWAY_REDIS_SENTINEL_NAME: "tideway",
      TIDEWAY_REDIS_PASSWORD_FILE: "/etc/tideway/secrets/redis-password",
      TIDEWAY_REDIS_SENTINEL_PASSWORD_FILE: "/etc/tideway/secrets/redis-sentinel-password",
    });
    expect(env.TIDEWAY_REDIS_URL).toBeUndefined();
    expect(env.TIDEWAY_REDIS_URL_FILE).toBeUndefined();
    expect(JSON.stringify(find(own, "Deployment", "tideway"))).not.toContain("pa55word");
    expect(notes(set)).toContain('Redis: the primary "tideway" of Sentinels s0.infra:26379');

    // With an existing Secret: its keys, and no redis-url key even if one is named.
    const existing = manifests(
      template("tideway", {
        "git.url": GIT_URL,
        "redis.bundled": "false",
        "redis.sentinel.hosts": "{s0:26379}",
        existingSecret: "creds",
        "existingSecretKeys.redisPassword": "rp",
        "existingSecretKeys.redisUrl": "ru",
      }),
    );
    const existingEnv = envOf(podSpec(find(existing, "Deployment", "tideway")).containers[0]);
    expect(existingEnv).toMatchObject({ TIDEWAY_REDIS_SENTINELS: "s0:26379", TIDEWAY_REDIS_SENTINEL_NAME: "mymaster", TIDEWAY_REDIS_PASSWORD_FILE: "/etc/tideway/secrets/rp" });
    expect(existingEnv.TIDEWAY_REDIS_URL_FILE).toBeUndefined();
  });

  it.each([
    ["default values", {}],
    [
      "bundled Redis, a ServiceMonitor, an existing Secret, two replicas and workload RBAC",
      {
        "redis.bundled": "true",
        "workload.enabled": "true",
        "serviceMonitor.enabled": "true",
        existingSecret: "deploy-creds",
        "existingSecretKeys.gitSshKey": "ssh-privatekey",
        replicaCount: "2",
      },
    ],
    [
      "external Redis and Secrets from values",
      {
        "redis.bundled": "false",
        "redis.url": "redis://redis.infra:6379",
        "git.token": "t0ken",
        webhookSecret: "s3cret",
        "slack.webhookUrl": "https://hooks.slack.com/services/x",
        "slack.signingSecret": "s1gning",
      },
    ],
  ])("is accepted by the API server (server-side dry run) with %s", (_case, set: Record<string, string>) => {
    const rendered = parseAllDocuments(template(uniqueName("tw"), { "git.url": GIT_URL, ...set }, ["--include-crds"])).filter((d) => d.contents !== null);
    const list = rendered.map((d) => d.toJS() as Manifest);
    // No Prometheus Operator here: its ServiceMonitor CRD is absent, so that one object is
    // checked by shape instead of by the API server.
    const monitor = find(list, "ServiceMonitor");
    if (set["serviceMonitor.enabled"]) {
      expect(monitor).toMatchObject({ apiVersion: "monitoring.coreos.com/v1", spec: { endpoints: [{ port: "http", path: "/metrics" }] } });
    }
    // Helm's own text is applied (documents keep their quoting: "no" must stay a string for kubectl).
    const applied = rendered.filter((d) => (d.toJS() as Manifest).kind !== "ServiceMonitor");
    expect(list.map((m) => m.kind)).toContain("CustomResourceDefinition");
    const result = kube(["apply", "--dry-run=server", "-n", namespace, "-f", "-"], applied.map((d) => d.toString()).join("---\n"));
    // The CRD already exists (the test environment installed it without kubectl): kubectl warns
    // that it will add its last-applied annotation. Anything else on stderr is a failure.
    const problems = result.stderr.split("\n").filter((line) => line && !/^Warning: resource customresourcedefinitions\/.*last-applied-configuration/.test(line));
    expect(problems).toEqual([]);
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split("\n")).toHaveLength(applied.length);
  });
});

describe("the chart's RBAC", () => {
  let world: World | undefined;
  let account: string;
  afterAll(async () => {
    await world?.stop();
  });

  it("is enough for a whole release: the controller running as the chart's ServiceAccount promotes v2", async () => {
    const release = uniqueName("tw");
    account = `${release}-tideway`;
    const rbac = template(release, { "git.url": GIT_URL }, ["--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"]);
    const applied = kube(["apply", "-n", namespace, "-f", "-"], rbac);
    expect(applied.stderr).toBe("");
    cleanup.push(() => void kube(["delete", "-f", "-", "--ignore-not-found"], rbac));

    // A real ServiceAccount token (TokenRequest API), as the pod would mount it.
    const token = kube(["create", "token", account, "-n", namespace, "--duration", "1h"]);
    expect(token.stderr).toBe("");
    const admin = parseYaml(services().kubeconfigYaml) as { users: { name: string; user: Record<string, unknown> }[] };
    const kubeconfig = { ...admin, users: admin.users.map((u) => ({ name: u.name, user: { token: token.stdout.trim() } })) };
    const kubeconfigPath = join(tempDir("sa-kubeconfig"), "config");
    writeFileSync(kubeconfigPath, stringify(kubeconfig), { mode: 0o600 });
    const whoami = run(kubectl, ["--kubeconfig", kubeconfigPath, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    expect(whoami.stdout).toBe(`system:serviceaccount:${namespace}:${account}`);

    world = await createWorld({ controllerKubeconfig: kubeconfigPath });
    await world.release("v1");
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    await world.release("v2");
    const status = await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 90_000);
    await world.waitForWeights((w) => w.v2 === 100 && w.v1 === undefined);
    expect(status.history.at(-1)).toMatchObject({ version: "v2", fromVersion: "v1", outcome: "promoted" });
    // Events were recorded with these credentials too (an Event failure is only logged).
    const events = kube(["get", "events", "-n", world.namespace, "-o", "jsonpath={.items[*].reason}"]);
    expect(events.stdout.length).toBeGreaterThan(0);
    // Deleting the Rollout from git: the mirror deletes the object with the same credentials.
    await world.remote.commit({ "rollouts/reviews.yaml": null }, "remove reviews");
    await expect.poll(async () => world?.status(), { timeout: 30_000, interval: 200 }).toBeUndefined();
    expect(world.controller.output.filter((line) => /forbidden/i.test(line))).toEqual([]);
  });

  // [verb, resource, subresource]
  const allowed: [string, string, string?][] = [
    ["get", "rollouts.tideway.io"],
    ["list", "rollouts.tideway.io"],
    ["watch", "rollouts.tideway.io"],
    ["create", "rollouts.tideway.io"],
    ["patch", "rollouts.tideway.io"],
    ["delete", "rollouts.tideway.io"],
    ["update", "rollouts.tideway.io", "status"],
    ["get", "virtualservices.networking.istio.io"],
    ["update", "virtualservices.networking.istio.io"],
    ["get", "destinationrules.networking.istio.io"],
    ["list", "destinationrules.networking.istio.io"],
    ["create", "events"],
    ["get", "pods"],
    ["list", "pods"],
    ["watch", "pods"],
    ["get", "endpointslices.discovery.k8s.io"],
    ["list", "endpointslices.discovery.k8s.io"],
    ["watch", "endpointslices.discovery.k8s.io"],
  ];
  const denied: [string, string, string?][] = [
    ["delete", "virtualservices.networking.istio.io"],
    ["create", "virtualservices.networking.istio.io"],
    ["patch", "virtualservices.networking.istio.io"],
    ["update", "destinationrules.networking.istio.io"],
    ["watch", "destinationrules.networking.istio.io"],
    ["update", "rollouts.tideway.io"],
    ["patch", "rollouts.tideway.io", "status"],
    ["get", "rollouts.tideway.io", "status"],
    ["create", "pods"],
    ["get", "secrets"],
    ["list", "secrets"],
    ["get", "configmaps"],
    ["update", "deployments.apps"],
    ["get", "deployments.apps"],
    ["create", "deployments.apps"],
    ["patch", "deployments.apps"],
    ["delete", "deployments.apps"],
    ["update", "pods", "status"],
    ["delete", "pods"],
    ["create", "endpointslices.discovery.k8s.io"],
    ["list", "namespaces"],
    ["delete", "events"],
    ["create", "customresourcedefinitions.apiextensions.k8s.io"],
    // Only with dashboard.enabled.
    ["create", "tokenreviews.authentication.k8s.io"],
    ["create", "subjectaccessreviews.authorization.k8s.io"],
    ["list", "events"],
    // Only with gatewayAPI.enabled.
    ["get", "httproutes.gateway.networking.k8s.io"],
    ["update", "httproutes.gateway.networking.k8s.io"],
  ];

  const canI = (verb: string, resource: string, subresource?: string) =>
    kube(["auth", "can-i", verb, resource, ...(subresource ? ["--subresource", subresource] : []), "-n", "any-namespace", "--as", `system:serviceaccount:${namespace}:${account}`]).stdout.trim();

  it.each(allowed)("lets the controller %s %s %s", (verb, resource, subresource) => {
    expect(canI(verb, resource, subresource)).toBe("yes");
  });

  it.each(denied)("does not let the controller %s %s %s", (verb, resource, subresource) => {
    expect(canI(verb, resource, subresource)).toBe("no");
  });
});

describe("the chart's RBAC with workload.enabled", () => {
  const kc = kubeConfig();
  let account: string;
  let workloads: KubeWorkloads;
  let target: string;

  beforeAll(async () => {
    const release = uniqueName("tw");
    account = `${release}-tideway`;
    const rbac = template(release, { "git.url": GIT_URL, "workload.enabled": "true" }, ["--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"]);
    const applied = kube(["apply", "-n", namespace, "-f", "-"], rbac);
    expect(applied.stderr).toBe("");
    cleanup.push(() => void kube(["delete", "-f", "-", "--ignore-not-found"], rbac));
    const token = kube(["create", "token", account, "-n", namespace, "--duration", "1h"]).stdout.trim();
    const admin = parseYaml(services().kubeconfigYaml) as { users: { name: string; user: Record<string, unknown> }[] };
    const asAccount = new KubeConfig();
    asAccount.loadFromString(stringify({ ...admin, users: admin.users.map((u) => ({ name: u.name, user: { token } })) }));
    workloads = new KubeWorkloads(asAccount);
    target = uniqueName("apps");
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: target } } });
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1",
      plural: "destinationrules",
      namespace: target,
      body: { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "reviews" }, spec: { host: "reviews", subsets: [{ name: "v1", labels: { version: "v1" } }] } },
    });
    cleanup.push(() =>
      kc
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name: target })
        .then(() => undefined),
    );
  }, 120_000);

  it("is enough for every workload verb: apply, subset, state, scale, list and remove, as the chart's ServiceAccount", async () => {
    const spec = RolloutSpecSchema.parse({
      service: "reviews",
      version: "v2",
      trafficRouting: { istio: { virtualService: { name: "reviews" } } },
      workload: { template: { metadata: { labels: { version: "{{ version }}" } }, spec: { containers: [{ name: "reviews", image: "example.com/reviews:{{ version }}" }] } } },
      steps: [{ setWeight: 10 }],
    });
    const rollout = { name: "reviews", namespace: target, spec };
    await workloads.apply(rollout, "v2", 2);
    expect(await workloads.ensureSubset(rollout, "v2")).toBe(true);
    expect(await workloads.state(rollout, "v2")).toMatchObject({ exists: true, replicas: 2 });
    await workloads.scale(rollout, "v2", 0);
    expect(await workloads.list(rollout)).toEqual([{ name: "reviews-v2", version: "v2", replicas: 0 }]);
    await workloads.remove(rollout, "v2");
  });

  it.each([
    ["get", "deployments.apps"],
    ["list", "deployments.apps"],
    ["watch", "deployments.apps"],
    ["create", "deployments.apps"],
    ["patch", "deployments.apps"],
    ["delete", "deployments.apps"],
    ["update", "destinationrules.networking.istio.io"],
    ["list", "pods"],
  ])("lets the controller %s %s", (verb, resource) => {
    expect(kube(["auth", "can-i", verb, resource, "-n", "any-namespace", "--as", `system:serviceaccount:${namespace}:${account}`]).stdout.trim()).toBe("yes");
  });

  it.each([
    ["update", "deployments.apps"],
    ["update", "deployments.apps", "scale"],
    ["create", "destinationrules.networking.istio.io"],
    ["delete", "destinationrules.networking.istio.io"],
    ["create", "services"],
    ["create", "pods"],
    ["get", "secrets"],
  ] as [string, string, string?][])("still does not let the controller %s %s %s", (verb, resource, subresource) => {
    const args = ["auth", "can-i", verb, resource, ...(subresource ? ["--subresource", subresource] : []), "-n", "any-namespace", "--as", `system:serviceaccount:${namespace}:${account}`];
    expect(kube(args).stdout.trim()).toBe("no");
  });
});

describe("the chart's RBAC with gatewayAPI.enabled", () => {
  const kc = kubeConfig();
  let account: string;
  let router: HttpRouteTraffic;
  let target: string;

  beforeAll(async () => {
    const release = uniqueName("tw");
    account = `${release}-tideway`;
    const rbac = template(release, { "git.url": GIT_URL, "gatewayAPI.enabled": "true" }, ["--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"]);
    const applied = kube(["apply", "-n", namespace, "-f", "-"], rbac);
    expect(applied.stderr).toBe("");
    cleanup.push(() => void kube(["delete", "-f", "-", "--ignore-not-found"], rbac));
    const token = kube(["create", "token", account, "-n", namespace, "--duration", "1h"]).stdout.trim();
    const admin = parseYaml(services().kubeconfigYaml) as { users: { name: string; user: Record<string, unknown> }[] };
    const asAccount = new KubeConfig();
    asAccount.loadFromString(stringify({ ...admin, users: admin.users.map((u) => ({ name: u.name, user: { token } })) }));
    router = new HttpRouteTraffic(asAccount);
    target = uniqueName("gw");
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: target } } });
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: "gateway.networking.k8s.io",
      version: "v1",
      plural: "httproutes",
      namespace: target,
      body: {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: "reviews" },
        spec: { parentRefs: [{ group: "", kind: "Service", name: "reviews" }], rules: [{ backendRefs: [{ name: "reviews-v1", port: 9080 }] }] },
      },
    });
    cleanup.push(() =>
      kc
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name: target })
        .then(() => undefined),
    );
  }, 120_000);

  it("is enough for the HTTPRoute router to claim, weigh, verify and give up its rule, as the chart's ServiceAccount", async () => {
    const spec = RolloutSpecSchema.parse({ service: "reviews", version: "v2", trafficRouting: { gatewayAPI: { httpRoute: { name: "reviews" } } }, steps: [{ setWeight: 10 }] });
    const rollout = { name: "reviews", namespace: target, spec };
    expect(await router.setTraffic(rollout, { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 10 })).toMatchObject({ wrote: true, writes: 1 });
    expect(await router.sighting(rollout)).toEqual({ liveVersion: "v1" });
    await router.releaseRoutes(rollout);
  });

  it.each([
    ["get", "httproutes.gateway.networking.k8s.io", "yes"],
    ["update", "httproutes.gateway.networking.k8s.io", "yes"],
    ["patch", "httproutes.gateway.networking.k8s.io", "no"],
    ["create", "httproutes.gateway.networking.k8s.io", "no"],
    ["delete", "httproutes.gateway.networking.k8s.io", "no"],
    ["update", "gateways.gateway.networking.k8s.io", "no"],
  ])("answers can-i %s %s: %s", (verb, resource, answer) => {
    expect(kube(["auth", "can-i", verb, resource, "-n", "any-namespace", "--as", `system:serviceaccount:${namespace}:${account}`]).stdout.trim()).toBe(answer);
  });
});

describe("the chart's RBAC with dashboard.enabled", () => {
  let account: string;
  let reviews: AccessReviews;
  let token: string;

  beforeAll(() => {
    const release = uniqueName("tw");
    account = `${release}-tideway`;
    const rbac = template(release, { "git.url": GIT_URL, "dashboard.enabled": "true" }, ["--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"]);
    const applied = kube(["apply", "-n", namespace, "-f", "-"], rbac);
    expect(applied.stderr).toBe("");
    cleanup.push(() => void kube(["delete", "-f", "-", "--ignore-not-found"], rbac));
    token = kube(["create", "token", account, "-n", namespace, "--duration", "1h"]).stdout.trim();
    const admin = parseYaml(services().kubeconfigYaml) as { users: { name: string; user: Record<string, unknown> }[] };
    const asAccount = new KubeConfig();
    asAccount.loadFromString(stringify({ ...admin, users: admin.users.map((u) => ({ name: u.name, user: { token } })) }));
    reviews = new AccessReviews(asAccount);
  });

  it("sets TIDEWAY_DASHBOARD on the controller", () => {
    const env = (set: Record<string, string>) => envOf(podSpec(find(manifests(template("tideway", { "git.url": GIT_URL, ...set })), "Deployment", "tideway")).containers[0]);
    expect(env({ "dashboard.enabled": "true" })).toMatchObject({ TIDEWAY_DASHBOARD: "true" });
    expect(env({}).TIDEWAY_DASHBOARD).toBeUndefined();
  });

  it("is enough for the controller, as the chart's ServiceAccount, to review a bearer token and its user's access", async () => {
    const user = await reviews.authenticate(token);
    expect(user?.username).toBe(`system:serviceaccount:${namespace}:${account}`);
    if (!user) return;
    expect(await reviews.authorize(user, { verb: "patch", group: "tideway.io", resource: "rollouts", namespace: "any-namespace", name: "reviews" })).toEqual({ allowed: true });
    expect(await reviews.authorize(user, { verb: "patch", group: "apps", resource: "deployments", namespace: "any-namespace", name: "reviews" })).toMatchObject({ allowed: false });
  });

  it.each([
    ["create", "tokenreviews.authentication.k8s.io", "yes"],
    ["create", "subjectaccessreviews.authorization.k8s.io", "yes"],
    ["list", "events", "yes"],
    ["watch", "events", "yes"],
    ["create", "localsubjectaccessreviews.authorization.k8s.io", "no"],
    ["delete", "events", "no"],
    ["get", "secrets", "no"],
  ])("answers can-i %s %s: %s", (verb, resource, answer) => {
    expect(kube(["auth", "can-i", verb, resource, "-n", "any-namespace", "--as", `system:serviceaccount:${namespace}:${account}`]).stdout.trim()).toBe(answer);
  });
});
