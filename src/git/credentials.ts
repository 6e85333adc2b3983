/**
 * Git credentials, kept out of URLs, argv, logs and error messages. An HTTPS token travels in
 * an Authorization header set through GIT_CONFIG_* environment variables; an SSH key through
 * GIT_SSH_COMMAND. `secrets` lists what src/secrets/redact.ts must scrub from text we show
 * people, and `explainAuthFailure` turns git's words for a refused credential into what to fix.
 */
import { readFileSync } from "node:fs";
import { userNameSecrets } from "../secrets/redact.js";

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
  /** Which credentials git is given, to say which one a refusal is about. */
  has: { token: boolean; sshKey: boolean };
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
      // With a password, the user name only says whose it is; without one, it is the token.
      secrets.push(embedded, ...(parsed.password ? [parsed.password, ...userNameSecrets(parsed.username), ...userNameSecrets(user)] : [parsed.username]));
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
  return { env, url, secrets: [...new Set(secrets)].filter((s) => s.length > 0), unsafe, has: { token: Boolean(token), sshKey: Boolean(options.sshKeyFile) } };
}

/** git runs GIT_SSH_COMMAND through sh. */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/** ssh splits an option's value at spaces unless quoted. */
function sshQuote(path: string): string {
  return `"${path.replace(/["\\]/g, "\\$&")}"`;
}

const AUTH_FAILURES: { pattern: RegExp; explain: (has: { token: boolean; sshKey: boolean }) => string }[] = [
  // git asks for a user name once the server answers 401 to what it sent; prompts are off.
  {
    pattern: /could not read (Username|Password)|Authentication failed|returned error: 401/i,
    explain: ({ token }) =>
      token
        ? "authentication failed (HTTP 401): the server refused the token from --git-token-file (or TIDEWAY_GIT_TOKEN)"
        : "authentication required (HTTP 401): give a token with --git-token-file (or TIDEWAY_GIT_TOKEN)",
  },
  { pattern: /returned error: 403/, explain: () => "access denied (HTTP 403): the token is valid but may not read this repository" },
  {
    pattern: /Permission denied \(publickey/,
    explain: ({ sshKey }) =>
      sshKey ? "SSH authentication failed: the server refused the key in --git-ssh-key-file" : "SSH authentication failed: no key was accepted; give one with --git-ssh-key-file",
  },
  {
    pattern: /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/,
    explain: () => "SSH host key verification failed: the server's host key differs from the one recorded in known_hosts in --git-cache-dir (or /etc/ssh/ssh_known_hosts)",
  },
  { pattern: /UNPROTECTED PRIVATE KEY FILE/, explain: () => "the file of --git-ssh-key-file can be read by others, and ssh refuses it: make it 0600 or 0400" },
  { pattern: /Load key .*: (invalid format|No such file)/, explain: () => "the file of --git-ssh-key-file is missing or is not a private key" },
];

/** What a git failure means for the credentials, and what to fix; "" when it is not about them. */
export function explainAuthFailure(gitOutput: string, has: { token: boolean; sshKey: boolean }): string {
  return AUTH_FAILURES.find((failure) => failure.pattern.test(gitOutput))?.explain(has) ?? "";
}
