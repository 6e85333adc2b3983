import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { get as httpsGet, request as httpsRequest, type RequestOptions } from "node:https";
import { connect } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { ApiextensionsV1Api, KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { base64File, createApiServerPki } from "./certs.js";
import { freePort, ServerProcess, tempDir, removeDir, waitUntil } from "./process.js";

export const K8S_VERSION = process.env.TIDEWAY_K8S_VERSION ?? "v1.36.3";

/** Where scripts/k8s-binaries.sh puts what it builds. */
export function cachedAssetsDir(): string {
  const cache = process.env.TIDEWAY_CACHE ?? join(homedir(), ".cache", "tideway");
  return join(cache, "k8s", K8S_VERSION);
}

export const GATEWAY_API_VERSION = process.env.TIDEWAY_GATEWAY_API_VERSION ?? "v1.7.0";

/** Where scripts/gateway-api-crds.sh puts the Gateway API CRDs (from the sigs.k8s.io/gateway-api module). */
export function gatewayApiCrdsFile(): string {
  const cache = process.env.TIDEWAY_CACHE ?? join(homedir(), ".cache", "tideway");
  return join(cache, "gateway-api", GATEWAY_API_VERSION, "gateway-api-crds.yaml");
}

/** Where etcd, kube-apiserver, kubectl and istio-crds.yaml live: KUBEBUILDER_ASSETS or our cache. */
export function kubeAssetsDir(): string {
  const fromEnv = process.env.KUBEBUILDER_ASSETS;
  if (fromEnv && existsSync(join(fromEnv, "kube-apiserver")) && existsSync(join(fromEnv, "etcd"))) return fromEnv;
  return cachedAssetsDir();
}

export interface KubeEnvironment {
  /** https://127.0.0.1:<port> */
  server: string;
  /** A kubeconfig file with the admin client certificate embedded, for kubectl and the controller. */
  kubeconfigPath: string;
  /** The kubeconfig contents, for `KubeConfig.loadFromString`. */
  kubeconfigYaml: string;
  /** Path of kubectl, when it was built. */
  kubectl: string | undefined;
  /** A fresh client configuration for @kubernetes/client-node. */
  kubeConfig(): KubeConfig;
  /** Stops the API server (SIGTERM, SIGKILL after 5 s; etcd kept), waits `downMs`, starts it again on the same port and waits until it is ready. */
  restartApiServer(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface KubeOptions {
  installIstioCrds?: boolean;
  /** The Gateway API CRDs (HTTPRoute and the rest), beside Istio's. Default true. */
  installGatewayApiCrds?: boolean;
  extraCrdFiles?: string[];
  /** Write the API server's audit log here: one JSON line per request as it is received (who, verb, resource, URI). */
  auditLogPath?: string;
}

/** Every request at Metadata level, logged once when received (a watch too, though it never completes in time). */
const AUDIT_POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [ResponseStarted, ResponseComplete]\nrules:\n  - level: Metadata\n";

/**
 * Starts etcd and kube-apiserver on loopback ports the way controller-runtime's envtest does:
 * client-certificate auth with an admin in system:masters, RBAC authorization, and installs
 * Istio's and the Gateway API's real CRDs, waiting until they are Established.
 */
export async function startKube(options: KubeOptions = {}): Promise<KubeEnvironment> {
  const assets = kubeAssetsDir();
  if ((options.installGatewayApiCrds ?? true) && !existsSync(gatewayApiCrdsFile())) {
    throw new Error(`${gatewayApiCrdsFile()} not found: run "bash scripts/gateway-api-crds.sh"`);
  }
  for (const bin of ["etcd", "kube-apiserver"]) {
    if (!existsSync(join(assets, bin))) {
      throw new Error(`${bin} not found in ${assets}: run "bash scripts/k8s-binaries.sh" (or set KUBEBUILDER_ASSETS)`);
    }
  }
  const dir = tempDir("kube");
  const processes: ServerProcess[] = [];
  const stop = async () => {
    for (const p of processes.reverse()) await p.stop();
    removeDir(dir);
  };
  try {
    const pki = createApiServerPki(dir);
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcd = new ServerProcess(
      "etcd",
      join(assets, "etcd"),
      [
        "--name",
        "default",
        "--data-dir",
        join(dir, "etcd-data"),
        "--listen-client-urls",
        etcdUrl,
        "--advertise-client-urls",
        etcdUrl,
        "--listen-peer-urls",
        peerUrl,
        "--initial-advertise-peer-urls",
        peerUrl,
        "--initial-cluster",
        `default=${peerUrl}`,
        "--unsafe-no-fsync",
        "--log-level",
        "warn",
      ],
      { logDir: dir },
    );
    processes.push(etcd);
    await waitUntil("etcd health", async () => (await fetch(`${etcdUrl}/health`)).ok, { timeoutMs: 30_000, process: etcd });

    const server = `https://127.0.0.1:${apiPort}`;
    const audit: string[] = [];
    if (options.auditLogPath) {
      writeFileSync(join(dir, "audit-policy.yaml"), AUDIT_POLICY);
      audit.push(`--audit-policy-file=${join(dir, "audit-policy.yaml")}`, `--audit-log-path=${options.auditLogPath}`, "--audit-log-mode=blocking");
    }
    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--secure-port=${apiPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      "--authorization-mode=RBAC",
      `--service-account-issuer=${server}/`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      // Room for bench/scale.ts's 1,000 Services (a /24 ran out at 254).
      "--service-cluster-ip-range=10.96.0.0/16",
      "--disable-admission-plugins=ServiceAccount",
      "--allow-privileged=true",
      `--cert-dir=${dir}`,
      ...audit,
      "--v=0",
    ];
    let restarts = 0;
    const startApiServer = () => new ServerProcess(restarts === 0 ? "kube-apiserver" : `kube-apiserver-${restarts}`, join(assets, "kube-apiserver"), apiArgs, { logDir: dir });
    let apiserver = startApiServer();
    processes.push(apiserver);

    const kubeconfigYaml = kubeconfig(server, pki.caCert, pki.adminCert, pki.adminKey);
    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfigYaml, { mode: 0o600 });
    const kubeConfig = () => {
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfigYaml);
      return kc;
    };
    await waitUntil("kube-apiserver /readyz", () => readyz(server, pki), { timeoutMs: 90_000, intervalMs: 250, process: apiserver });

    const crdFiles = [...(options.extraCrdFiles ?? [])];
    if (options.installGatewayApiCrds ?? true) crdFiles.unshift(gatewayApiCrdsFile());
    if (options.installIstioCrds ?? true) crdFiles.unshift(join(assets, "istio-crds.yaml"));
    if (crdFiles.length > 0) await installCrds(kubeConfig(), crdFiles);

    const kubectlPath = join(assets, "kubectl");
    return {
      server,
      kubeconfigPath,
      kubeconfigYaml,
      kubectl: existsSync(kubectlPath) ? kubectlPath : undefined,
      kubeConfig,
      async restartApiServer(downMs = 0) {
        const at = processes.indexOf(apiserver);
        await apiserver.stop();
        // Its port is free once nothing answers on it (a killed server's socket closes with it).
        await waitUntil("kube-apiserver's port to close", () => portClosed(apiPort), { timeoutMs: 30_000, intervalMs: 100 });
        if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
        restarts += 1;
        apiserver = startApiServer();
        processes[at] = apiserver;
        await waitUntil("kube-apiserver /readyz after a restart", () => readyz(server, pki), { timeoutMs: 90_000, intervalMs: 250, process: apiserver });
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function readyz(server: string, pki: { caCert: string; adminCert: string; adminKey: string }): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const request = httpsGet(
      `${server}/readyz`,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        timeout: 2_000,
      },
      (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      },
    );
    request.on("timeout", () => request.destroy(new Error("readyz timed out")));
    request.on("error", reject);
  });
}

function kubeconfig(server: string, ca: string, cert: string, key: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: tideway-test",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${base64File(ca)}`,
    "users:",
    "- name: tideway-admin",
    "  user:",
    `    client-certificate-data: ${base64File(cert)}`,
    `    client-key-data: ${base64File(key)}`,
    "contexts:",
    "- name: tideway-test",
    "  context: { cluster: tideway-test, user: tideway-admin, namespace: default }",
    "current-context: tideway-test",
    "",
  ].join("\n");
}

/**
 * A raw JSON request to the API server. The typed client's model serializer drops fields it does
 * not know (such as `x-kubernetes-*` in CRD schemas), so CRDs go through here unchanged.
 */
export async function kubeRequest(kc: KubeConfig, method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: unknown }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const options: RequestOptions = { method, headers: { "content-type": contentType, accept: "application/json" } };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const request = httpsRequest(new URL(path, cluster.server), options, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: response.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : undefined });
      });
    });
    request.on("error", reject);
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

interface CrdDocument {
  kind?: string;
  metadata?: { name?: string; resourceVersion?: string };
}

/** Creates (or replaces) every CRD in the files and waits until each is Established. */
export async function installCrds(kc: KubeConfig, files: readonly string[]): Promise<string[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  const names: string[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      const crd = doc.toJS({ maxAliasCount: 100 }) as CrdDocument | null;
      if (!crd || crd.kind !== "CustomResourceDefinition" || !crd.metadata?.name) continue;
      const name = crd.metadata.name;
      let response = await kubeRequest(kc, "POST", base, crd);
      if (response.status === 409) {
        const existing = await kubeRequest(kc, "GET", `${base}/${name}`);
        crd.metadata.resourceVersion = (existing.body as CrdDocument).metadata?.resourceVersion;
        response = await kubeRequest(kc, "PUT", `${base}/${name}`, crd);
      }
      if (response.status >= 300) {
        throw new Error(`installing CRD ${name} from ${file}: HTTP ${response.status}: ${JSON.stringify(response.body)}`);
      }
      names.push(name);
    }
  }
  for (const name of names) {
    await waitUntil(
      `CRD ${name} Established`,
      async () => {
        const crd = await api.readCustomResourceDefinition({ name });
        return (crd.status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }
  return names;
}

function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}
