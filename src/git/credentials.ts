/**
 * Git credentials, kept out of URLs, argv, logs and error messages. An HTTPS token travels in
 * an Authorization header set through GIT_CONFIG_* environment variables; an SSH key through
 * GIT_SSH_COMMAND. `redact` scrubs them (and any userinfo in a URL) from text we show people.
 */
import { readFileSync } from "node:fs";

export interface GitCredentialOptions {
  /** HTTPS token (GitHub, GitLab, ...), or the path of a file holding it. */
  token?: string;
  tokenFile?: string;
  /** Path of an SSH private key. */
  sshKeyFile?: string;
  /** Where ssh keeps the host keys it accepted on first use (besides /etc/ssh/ssh_known_hosts). */
  knownHostsFile?: string;
}

export interface GitCredentials {
  /** Environment for every git process. */
  env: Record<string, string>;
  /** The remote URL with any user:password@ removed. */
  url: string;
  /** Strings that must never be shown. */
  secrets: string[];
  /**
   * The simple-git guards this environment needs lifted, and only those: GIT_CONFIG_* for the
   * token's header (simple-git still vets the keys set that way), GIT_SSH_COMMAND for the key.
   */
  unsafe: { allowUnsafeConfigEnvCount?: true; allowUnsafeSshCommand?: true };
}

export const GIT_ENV_NAMES = ["GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_SSH_COMMAND", "GIT_TERMINAL_PROMPT"];

export function gitCredentials(rawUrl: string, options: GitCredentialOptions): GitCredentials {
  const secrets: string[] = [];
  let url = rawUrl;
  let token = options.token ?? (options.tokenFile ? readFileSync(options.tokenFile, "utf8").trim() : undefined);
  let user = "x-access-token";
  if (/^https?:\/\//.test(rawUrl)) {
    const parsed = new URL(rawUrl);
    if (parsed.username || parsed.password) {
      const embedded = decodeURIComponent(parsed.password || parsed.username);
      if (parsed.password) user = decodeURIComponent(parsed.username);
      token ??= embedded;
      secrets.push(embedded, parsed.password, parsed.username);
      parsed.username = "";
      parsed.password = "";
      url = parsed.toString();
    }
  }
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: "0" };
  const unsafe: GitCredentials["unsafe"] = {};
  if (token) {
    const basic = Buffer.from(`${user}:${token}`).toString("base64");
    env.GIT_CONFIG_COUNT = "1";
    env.GIT_CONFIG_KEY_0 = "http.extraHeader";
    env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${basic}`;
    unsafe.allowUnsafeConfigEnvCount = true;
    secrets.push(token, basic);
  }
  if (options.sshKeyFile) {
    const ssh = ["ssh", "-i", options.sshKeyFile, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes"];
    // Not ~/.ssh/known_hosts: ssh finds ~ in the password database, not $HOME, so it may be shared
    // or unwritable; a file beside the clone is ours, and lives as long as what it vouches for.
    if (options.knownHostsFile) ssh.push("-o", `UserKnownHostsFile=${sshQuote(options.knownHostsFile)}`);
    env.GIT_SSH_COMMAND = ssh.map(shellQuote).join(" ");
    unsafe.allowUnsafeSshCommand = true;
  }
  return { env, url, secrets: secrets.filter((s) => s.length >= 4), unsafe };
}

/** git runs GIT_SSH_COMMAND through sh. */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/** ssh splits an option's value at spaces unless quoted. */
function sshQuote(path: string): string {
  return `"${path.replace(/["\\]/g, "\\$&")}"`;
}

/** Replaces every secret, and any user:password@ in URLs, with "***". */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, "$1***@");
  for (const secret of secrets) out = out.split(secret).join("***");
  return out;
}
