/**
 * `tideway run`: the controller. Every flag has a TIDEWAY_* environment variable.
 * The controller's modules (client-node, BullMQ, Prometheus client, pino) are imported when the
 * command runs, so the other commands, `--help` and `--version` start without them.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Option, type Command } from "commander";
import { DEFAULT_SCRAPE_INTERVAL } from "../analysis/ranges.js";
import type { Secrets } from "../controller/log.js";
import type { ControllerOptions } from "../controller/options.js";
import { parseSentinels, type RedisTarget, type SentinelAddress } from "../queue/redis-target.js";
import { parseDuration } from "../rollout/duration.js";
import { userNameSecrets } from "../secrets/redact.js";

interface RunFlags {
  gitUrl?: string;
  gitBranch: string;
  gitPath: string;
  gitInterval: string;
  gitCacheDir: string;
  gitSourceName: string;
  gitTokenFile?: string;
  gitSshKeyFile?: string;
  gitAllowedSigners?: string;
  gitGpgHome?: string;
  webhookSecretFile?: string;
  kubeconfig?: string;
  namespace: string;
  redisUrl?: string;
  redisUrlFile?: string;
  redisSentinels?: string;
  redisSentinelName: string;
  redisPasswordFile?: string;
  redisSentinelPasswordFile?: string;
  queuePrefix: string;
  listen: string;
  httpMaxConnections: string;
  logLevel: string;
  resyncInterval: string;
  prometheusUrl: string;
  prometheusHeader: string[];
  prometheusTimeout: string;
  prometheusScrapeInterval: string;
  slackWebhookUrlFile?: string;
  slackChannel?: string;
  slackSigningSecretFile?: string;
  notifyWebhookUrlFile?: string;
  notifyMaxBackoff: string;
  dashboard?: boolean;
  dashboardAllowHost?: string[];
}

const flag = (flags: string, description: string, env: string, fallback?: string) => {
  const option = new Option(flags, description).env(env);
  return fallback === undefined ? option : option.default(fallback);
};

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("run the controller: sync Rollouts from git and drive their releases")
    .addOption(flag("--git-url <url>", "repository holding Rollouts (https://, ssh:// or a path)", "TIDEWAY_GIT_URL"))
    .addOption(flag("--git-branch <branch>", "branch to follow", "TIDEWAY_GIT_BRANCH", "main"))
    .addOption(flag("--git-path <dir>", "directory inside the repository holding Rollouts", "TIDEWAY_GIT_PATH", "."))
    .addOption(flag("--git-interval <duration>", "how often to poll git", "TIDEWAY_GIT_INTERVAL", "30s"))
    .addOption(flag("--git-cache-dir <dir>", "where the clone is kept", "TIDEWAY_GIT_CACHE_DIR", join(homedir(), ".cache", "tideway", "git")))
    .addOption(flag("--git-source-name <name>", "label value marking the Rollout objects this source owns", "TIDEWAY_GIT_SOURCE_NAME", "git"))
    .addOption(flag("--git-token-file <file>", "file holding an HTTPS token (or set TIDEWAY_GIT_TOKEN)", "TIDEWAY_GIT_TOKEN_FILE"))
    .addOption(flag("--git-ssh-key-file <file>", "SSH private key for ssh:// remotes", "TIDEWAY_GIT_SSH_KEY_FILE"))
    .addOption(flag("--git-allowed-signers <file>", "verify commit signatures against this SSH allowed-signers file", "TIDEWAY_GIT_ALLOWED_SIGNERS"))
    .addOption(flag("--git-gpg-home <dir>", "verify commit signatures against this GnuPG home", "TIDEWAY_GIT_GPG_HOME"))
    .addOption(flag("--webhook-secret-file <file>", "file holding the webhook secret (or set TIDEWAY_WEBHOOK_SECRET)", "TIDEWAY_WEBHOOK_SECRET_FILE"))
    .addOption(flag("--kubeconfig <file>", "kubeconfig (default: in-cluster, then ~/.kube/config)", "TIDEWAY_KUBECONFIG"))
    .addOption(flag("--namespace <ns>", "namespace for Events not tied to one Rollout", "TIDEWAY_NAMESPACE", "default"))
    .addOption(flag("--redis-url <url>", `Redis for the work queues (default: "${DEFAULT_REDIS_URL}")`, "TIDEWAY_REDIS_URL"))
    .addOption(flag("--redis-url-file <file>", "file holding the Redis URL, when it carries a password; wins over --redis-url", "TIDEWAY_REDIS_URL_FILE"))
    .addOption(flag("--redis-sentinels <host:port,...>", "Redis Sentinels to ask for the primary, instead of --redis-url; follows a fail-over", "TIDEWAY_REDIS_SENTINELS"))
    .addOption(flag("--redis-sentinel-name <name>", "the primary's name in the Sentinels' configuration", "TIDEWAY_REDIS_SENTINEL_NAME", "mymaster"))
    .addOption(flag("--redis-password-file <file>", "file holding the Redis password, with --redis-sentinels (or set TIDEWAY_REDIS_PASSWORD)", "TIDEWAY_REDIS_PASSWORD_FILE"))
    .addOption(
      flag("--redis-sentinel-password-file <file>", "file holding the Sentinels' own password, when they have one (or set TIDEWAY_REDIS_SENTINEL_PASSWORD)", "TIDEWAY_REDIS_SENTINEL_PASSWORD_FILE"),
    )
    .addOption(flag("--queue-prefix <prefix>", "Redis key prefix; replicas sharing it share the work", "TIDEWAY_QUEUE_PREFIX", "tideway"))
    .addOption(flag("--listen <addr>", "HTTP address for webhooks, /metrics, /healthz, /readyz", "TIDEWAY_LISTEN", ":8080"))
    .addOption(flag("--http-max-connections <n>", "connections the HTTP port holds open at once; more are closed as they arrive", "TIDEWAY_HTTP_MAX_CONNECTIONS", "256"))
    .addOption(flag("--log-level <level>", "debug, info, warn or error", "TIDEWAY_LOG_LEVEL", "info"))
    .addOption(flag("--prometheus-url <url>", "Prometheus that scrapes Istio's telemetry", "TIDEWAY_PROMETHEUS_URL", "http://127.0.0.1:9090"))
    .addOption(
      new Option("--prometheus-header <header...>", 'extra header for Prometheus queries, "Name: value" (repeatable; env: newline-separated)')
        .env("TIDEWAY_PROMETHEUS_HEADERS")
        .default([])
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), ...value.split("\n").filter((v) => v.trim())]),
    )
    .addOption(flag("--prometheus-timeout <duration>", "how long one Prometheus query may take", "TIDEWAY_PROMETHEUS_TIMEOUT", "10s"))
    .addOption(
      flag(
        "--prometheus-scrape-interval <duration>",
        "how often Prometheus scrapes the mesh; built-in metrics look over at least 4 scrapes",
        "TIDEWAY_PROMETHEUS_SCRAPE_INTERVAL",
        DEFAULT_SCRAPE_INTERVAL,
      ),
    )
    .addOption(flag("--slack-webhook-url-file <file>", "file holding the Slack incoming-webhook URL (or set TIDEWAY_SLACK_WEBHOOK_URL)", "TIDEWAY_SLACK_WEBHOOK_URL_FILE"))
    .addOption(flag("--slack-channel <channel>", "Slack channel when a Rollout names none", "TIDEWAY_SLACK_CHANNEL"))
    .addOption(
      flag(
        "--slack-signing-secret-file <file>",
        "file holding a Slack app's signing secret: messages get Promote and Abort buttons, answered at /slack/actions (or set TIDEWAY_SLACK_SIGNING_SECRET)",
        "TIDEWAY_SLACK_SIGNING_SECRET_FILE",
      ),
    )
    .addOption(flag("--notify-webhook-url-file <file>", "file holding a generic JSON webhook URL (or set TIDEWAY_NOTIFY_WEBHOOK_URL)", "TIDEWAY_NOTIFY_WEBHOOK_URL_FILE"))
    .addOption(flag("--notify-max-backoff <duration>", "longest wait between retries of a notification", "TIDEWAY_NOTIFY_MAX_BACKOFF", "60s"))
    .addOption(
      new Option("--dashboard", "serve the dashboard on the HTTP port: read-only unless a button's request carries a bearer token allowed to patch the Rollout")
        .env("TIDEWAY_DASHBOARD")
        .default(false),
    )
    .addOption(
      new Option("--dashboard-allow-host <name...>", "also answer dashboard requests for this Host name, e.g. behind a proxy (repeatable; env: comma-separated)")
        .env("TIDEWAY_DASHBOARD_ALLOW_HOSTS")
        .default([])
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), ...value.split(/[,\s]+/).filter(Boolean)]),
    )
    .addOption(flag("--resync-interval <duration>", "how often every Rollout is reconciled regardless", "TIDEWAY_RESYNC_INTERVAL", "5m"))
    .action(async (flags: RunFlags) => {
      const [{ Controller }, { createLogger, Secrets }, { loadKubeConfig }] = await Promise.all([import("../controller/controller.js"), import("../controller/log.js"), import("../kube/config.js")]);
      const secrets = new Secrets();
      const log = createLogger(secrets, { level: flags.logLevel });
      let options: ControllerOptions;
      try {
        options = controllerOptions(flags, process.env, secrets);
      } catch (error) {
        program.error(`tideway run: ${error instanceof Error ? error.message : String(error)}`, { exitCode: 2 });
      }
      const controller = new Controller(options, loadKubeConfig(options.kubeconfig), log);
      const shutdown = (signal: string) => {
        log.info({ signal }, "stopping");
        controller.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once("SIGTERM", () => shutdown("SIGTERM"));
      process.once("SIGINT", () => shutdown("SIGINT"));
      await controller.start();
    });
}

function duration(name: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new Error(`${name}: expected a duration such as "30s" or "1m", found "${text}"`);
  return ms;
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: expected a whole number of at least 1, found "${text}"`);
  return value;
}

function readSecret(file: string | undefined, envValue: string | undefined, what: string): string | undefined {
  if (envValue) return envValue;
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    throw new Error(`${what}: cannot read ${file}`);
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** A Redis URL (from the flag or its file), or Sentinels with the passwords from their files. */
function redisTarget(flags: RunFlags, env: NodeJS.ProcessEnv, secrets: Secrets): RedisTarget {
  const password = readSecret(flags.redisPasswordFile, env.TIDEWAY_REDIS_PASSWORD, "--redis-password-file");
  const sentinelPassword = readSecret(flags.redisSentinelPasswordFile, env.TIDEWAY_REDIS_SENTINEL_PASSWORD, "--redis-sentinel-password-file");
  secrets.add(password, sentinelPassword);
  if (flags.redisSentinels !== undefined) {
    if (flags.redisUrl !== undefined || flags.redisUrlFile !== undefined) {
      throw new Error("--redis-sentinels and --redis-url (or --redis-url-file) both name Redis: give one (with Sentinels, the password goes in --redis-password-file)");
    }
    let sentinels: SentinelAddress[];
    try {
      sentinels = parseSentinels(flags.redisSentinels);
    } catch (error) {
      throw new Error(`--redis-sentinels: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (!flags.redisSentinelName.trim()) throw new Error("--redis-sentinel-name: expected the primary's name in the Sentinels' configuration (e.g. mymaster), found nothing");
    return { sentinels, name: flags.redisSentinelName.trim(), ...(password ? { password } : {}), ...(sentinelPassword ? { sentinelPassword } : {}) };
  }
  if (password !== undefined || sentinelPassword !== undefined) {
    throw new Error("--redis-password-file and --redis-sentinel-password-file go with --redis-sentinels; with --redis-url, put the password in the URL and pass it with --redis-url-file");
  }
  const url = readSecret(flags.redisUrlFile, undefined, "--redis-url-file") ?? flags.redisUrl ?? DEFAULT_REDIS_URL;
  // The password of redis://user:password@host (percent-encoded or not) and of ?password=.
  const urlPasswords = [/^rediss?:\/\/[^@]*?:(.+)@[^@]*$/.exec(url)?.[1], /[?&]password=([^&#]+)/.exec(url)?.[1]];
  for (const secret of urlPasswords) if (secret !== undefined) secrets.add(secret, safeDecode(secret));
  return { url };
}

export function controllerOptions(flags: RunFlags, env: NodeJS.ProcessEnv, secrets: Secrets): ControllerOptions {
  if (!flags.gitUrl) throw new Error("--git-url (or TIDEWAY_GIT_URL) is required");
  const token = readSecret(flags.gitTokenFile, env.TIDEWAY_GIT_TOKEN, "--git-token-file");
  const webhookSecret = readSecret(flags.webhookSecretFile, env.TIDEWAY_WEBHOOK_SECRET, "--webhook-secret-file") ?? "";
  secrets.add(token, webhookSecret);
  const userinfo = /^[a-z]+:\/\/([^@/]+)@/i.exec(flags.gitUrl)?.[1];
  if (userinfo) {
    // user:password, or a token alone; a user name is scrubbed only when long enough (see userNameSecrets).
    const [user = "", password] = userinfo.split(":");
    secrets.add(userinfo, ...(password === undefined ? [user, safeDecode(user)] : [password, safeDecode(password), ...userNameSecrets(safeDecode(user))]));
  }
  const redis = redisTarget(flags, env, secrets);
  // commander turns a boolean flag on when its variable is set at all: "false" must not serve the page.
  if (env.TIDEWAY_DASHBOARD !== undefined && !/^(true|1)$/i.test(env.TIDEWAY_DASHBOARD.trim())) {
    throw new Error(`TIDEWAY_DASHBOARD: expected "true" to serve the dashboard, found "${env.TIDEWAY_DASHBOARD.slice(0, 20)}"; unset it to keep the dashboard off`);
  }
  const headers: Record<string, string> = {};
  for (const header of flags.prometheusHeader) {
    const colon = header.indexOf(":");
    if (colon <= 0) throw new Error(`--prometheus-header: expected "Name: value", found "${header.slice(0, 20)}..."`);
    const value = header.slice(colon + 1).trim();
    headers[header.slice(0, colon).trim()] = value;
    secrets.add(value, value.replace(/^(Bearer|Basic)\s+/i, ""));
  }
  const slackUrl = readSecret(flags.slackWebhookUrlFile, env.TIDEWAY_SLACK_WEBHOOK_URL, "--slack-webhook-url-file");
  const webhookUrl = readSecret(flags.notifyWebhookUrlFile, env.TIDEWAY_NOTIFY_WEBHOOK_URL, "--notify-webhook-url-file");
  const signingSecret = readSecret(flags.slackSigningSecretFile, env.TIDEWAY_SLACK_SIGNING_SECRET, "--slack-signing-secret-file");
  secrets.add(signingSecret);
  if (signingSecret !== undefined && !signingSecret) throw new Error("--slack-signing-secret-file: the file is empty; copy the signing secret from the Slack app's Basic Information page");
  if (signingSecret && !slackUrl) {
    throw new Error("--slack-signing-secret-file (or TIDEWAY_SLACK_SIGNING_SECRET) needs --slack-webhook-url-file (or TIDEWAY_SLACK_WEBHOOK_URL): the buttons go on the messages posted there");
  }
  for (const url of [slackUrl, webhookUrl]) {
    if (url === undefined) continue;
    secrets.add(url);
    try {
      const parsed = new URL(url);
      secrets.add(parsed.pathname.length > 8 ? parsed.pathname : undefined);
    } catch {
      throw new Error("a notification webhook URL is not a valid URL");
    }
  }
  return {
    notify: {
      maxBackoffMs: duration("--notify-max-backoff", flags.notifyMaxBackoff),
      ...(slackUrl ? { slack: { webhookUrl: slackUrl, ...(flags.slackChannel ? { channel: flags.slackChannel } : {}), ...(signingSecret ? { signingSecret } : {}) } } : {}),
      ...(webhookUrl ? { webhookUrl } : {}),
    },
    prometheus: {
      url: flags.prometheusUrl,
      headers,
      timeoutMs: duration("--prometheus-timeout", flags.prometheusTimeout),
      scrapeIntervalMs: duration("--prometheus-scrape-interval", flags.prometheusScrapeInterval),
    },
    git: {
      url: flags.gitUrl,
      branch: flags.gitBranch,
      path: flags.gitPath,
      intervalMs: duration("--git-interval", flags.gitInterval),
      cacheDir: flags.gitCacheDir,
      sourceName: flags.gitSourceName,
      ...(token ? { token } : {}),
      ...(flags.gitSshKeyFile ? { sshKeyFile: flags.gitSshKeyFile } : {}),
      ...(flags.gitAllowedSigners ? { allowedSignersFile: flags.gitAllowedSigners } : {}),
      ...(flags.gitGpgHome ? { gpgHome: flags.gitGpgHome } : {}),
    },
    webhookSecret,
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    namespace: flags.namespace,
    redis,
    queuePrefix: flags.queuePrefix,
    listen: flags.listen,
    httpMaxConnections: positiveInteger("--http-max-connections", flags.httpMaxConnections),
    logLevel: flags.logLevel,
    ...(flags.dashboard ? { dashboard: { allowHosts: flags.dashboardAllowHost ?? [] } } : {}),
    resyncIntervalMs: duration("--resync-interval", flags.resyncInterval),
  };
}
