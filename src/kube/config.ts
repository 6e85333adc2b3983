import { existsSync } from "node:fs";
import { Agent } from "node:https";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { RequestContext } from "@kubernetes/client-node";

/**
 * A KubeConfig whose requests share keep-alive connections. client-node 1.4 makes a new
 * https.Agent for every request, so each one paid a TLS handshake (client and API server): about
 * 5 ms of CPU on each side per apply, GET or status write. Agents are shared per TLS identity
 * (server name, CA, client certificate and key), so a rotated certificate gets a new one; proxy
 * agents are left as client-node makes them.
 */
export class PooledKubeConfig extends KubeConfig {
  private readonly agents = new Map<string, Agent>();

  override async applyToHTTPSOptions(opts: Parameters<KubeConfig["applyToHTTPSOptions"]>[0]): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    if ("agent" in opts && opts.agent instanceof Agent) opts.agent = this.pooled(opts.agent);
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const agent = context.getAgent();
    if (agent instanceof Agent) context.setAgent(this.pooled(agent));
  }

  /** The shared keep-alive agent for the TLS identity of `fresh` (a plain https.Agent client-node just made). */
  private pooled(fresh: Agent): Agent {
    if (fresh.constructor !== Agent) return fresh; // a proxy agent: not ours to share
    const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = fresh.options;
    const identity = JSON.stringify([ca, cert, key, pfx, passphrase, rejectUnauthorized, servername].map((part) => (Buffer.isBuffer(part) ? part.toString("base64") : part)));
    let agent = this.agents.get(identity);
    if (agent === undefined) {
      if (this.agents.size >= 8) this.agents.clear(); // certificates rotated many times: old agents are dropped (the API server closes their idle sockets)
      agent = new Agent({ ...fresh.options, keepAlive: true });
      this.agents.set(identity, agent);
    }
    return agent;
  }
}

/** An explicit kubeconfig file, else the in-cluster service account, else ~/.kube/config. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new PooledKubeConfig();
  if (path) {
    kc.loadFromFile(path);
  } else if (process.env.KUBERNETES_SERVICE_HOST && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
    kc.loadFromCluster();
  } else if (existsSync(join(homedir(), ".kube", "config")) || process.env.KUBECONFIG) {
    kc.loadFromDefault();
  } else {
    throw new Error("no Kubernetes configuration: pass --kubeconfig, run in a cluster, or create ~/.kube/config");
  }
  return kc;
}
