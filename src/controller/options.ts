/** Everything `tideway run` is configured with (flags, or TIDEWAY_* environment variables). */
import type { RedisTarget } from "../queue/redis.js";

export interface ControllerOptions {
  git: {
    url: string;
    branch: string;
    path: string;
    intervalMs: number;
    cacheDir: string;
    /** Label value on the objects this source owns. */
    sourceName: string;
    token?: string;
    tokenFile?: string;
    sshKeyFile?: string;
    allowedSignersFile?: string;
    gpgHome?: string;
  };
  webhookSecret: string;
  kubeconfig?: string;
  /** Namespace for Events about files whose Rollout could not be named. */
  namespace: string;
  /** A Redis URL, or Sentinels and the name of the primary they watch. */
  redis: RedisTarget;
  notify: {
    /**
     * Incoming-webhook URL (a secret) and the channel used when a Rollout names none; with a Slack
     * app's signing secret (a secret), messages carry Promote and Abort buttons answered at /slack/actions.
     */
    slack?: { webhookUrl: string; channel?: string; signingSecret?: string };
    /** A generic JSON webhook for other chat tools (a secret). */
    webhookUrl?: string;
    /** Longest wait between delivery retries. */
    maxBackoffMs: number;
  };
  prometheus: {
    url: string;
    /** Extra request headers (e.g. Authorization); secret. */
    headers: Record<string, string>;
    timeoutMs: number;
    /** How often Prometheus scrapes the mesh: the built-in metrics and the guard look over enough scrapes. */
    scrapeIntervalMs: number;
  };
  /** BullMQ key prefix: replicas sharing one prefix share the work. */
  queuePrefix: string;
  listen: string;
  /** Connections the HTTP port holds open at once. */
  httpMaxConnections: number;
  logLevel: string;
  /**
   * The dashboard on the HTTP port, read-only unless a button's request carries a bearer token
   * whose user may patch the Rollout; `allowHosts` are Host names it answers besides loopback ones.
   */
  dashboard?: { allowHosts: string[] };
  /** How often every Rollout is reconciled again, whatever Redis holds. */
  resyncIntervalMs: number;
}
