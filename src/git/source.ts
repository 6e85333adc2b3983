/**
 * The git repository Rollouts come from: cloned once into a cache directory, then fetched.
 * Reports which files under the watched path changed between two commits.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import type { Commit } from "../rollout/commit.js";
import { redact } from "../secrets/redact.js";
import { explainAuthFailure, GIT_ENV_NAMES, gitCredentials, type GitCredentialOptions, type GitCredentials } from "./credentials.js";

export interface GitSourceOptions extends GitCredentialOptions {
  url: string;
  branch: string;
  /** Directory inside the repository that holds Rollouts; "" or "." for all of it. */
  path: string;
  /** Where the clone lives (kept between restarts). */
  cacheDir: string;
  /** Verify HEAD's signature: an SSH allowed-signers file, or a GnuPG home with trusted keys. */
  allowedSignersFile?: string;
  gpgHome?: string;
  timeoutMs?: number;
}

export type FileChanges = { kind: "all" } | { kind: "diff"; changed: string[]; removed: string[] };

const PASSED_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "SSH_AUTH_SOCK"];

/** A git failure with credentials already scrubbed from its message. */
export class GitSourceError extends Error {}

export class GitSource {
  readonly workTree: string;
  readonly url: string;
  private readonly secrets: string[];
  private readonly env: Record<string, string>;
  private readonly unsafe: GitCredentials["unsafe"];
  private readonly has: GitCredentials["has"];

  constructor(private readonly options: GitSourceOptions) {
    const credentials = gitCredentials(options.url, { ...options, knownHostsFile: options.knownHostsFile ?? join(options.cacheDir, "known_hosts") });
    this.url = credentials.url;
    this.secrets = credentials.secrets;
    this.unsafe = credentials.unsafe;
    this.has = credentials.has;
    this.workTree = join(options.cacheDir, "repo");
    // Only what git needs: simple-git refuses variables that can run programs (EDITOR, PAGER, ...).
    const env: Record<string, string> = {};
    for (const key of PASSED_ENV) {
      const value = process.env[key];
      if (value !== undefined) env[key] = value;
    }
    Object.assign(env, credentials.env);
    if (options.gpgHome) env.GNUPGHOME = options.gpgHome;
    this.env = env;
  }

  /** A URL safe to print. */
  get displayUrl(): string {
    return redact(this.url, this.secrets);
  }

  redact(text: string): string {
    return redact(text, this.secrets);
  }

  private git(baseDir?: string): SimpleGit {
    return simpleGit({
      ...(baseDir ? { baseDir } : {}),
      allowEnvironment: GIT_ENV_NAMES,
      unsafe: this.unsafe,
      timeout: { block: this.options.timeoutMs ?? 60_000 },
    }).env(this.env);
  }

  private async run<T>(what: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      const message = this.redact(error instanceof Error ? error.message : String(error)).trim();
      const cause = explainAuthFailure(message, this.has);
      throw new GitSourceError(`git ${what} ${this.displayUrl}: ${cause ? `${cause}. git said: ` : ""}${message}`);
    }
  }

  /** Clones on first use, then fetches; the work tree ends at the remote branch's head. */
  async fetch(): Promise<Commit> {
    const branch = this.options.branch;
    if (!existsSync(join(this.workTree, ".git"))) {
      mkdirSync(this.options.cacheDir, { recursive: true });
      await this.run("clone", () => this.git(this.options.cacheDir).clone(this.url, this.workTree, ["--branch", branch, "--single-branch", "--no-tags"]));
    } else {
      await this.run("fetch", () => this.git(this.workTree).fetch("origin", branch, ["--prune", "--no-tags"]));
    }
    const git = this.git(this.workTree);
    await this.run("reset", () => git.raw(["reset", "--hard", `origin/${branch}`]));
    return this.commit("HEAD");
  }

  async commit(ref: string): Promise<Commit> {
    const out = await this.run("log", () => this.git(this.workTree).raw(["log", "-1", "--format=%H%x00%an%x00%s", ref, "--"]));
    const [sha = "", author = "", subject = ""] = out.trim().split("\0");
    return { sha, author, subject };
  }

  /** Rollout files under the watched path that changed from `from` to `to` (all of them without `from`). */
  async changes(from: string | undefined, to: string): Promise<FileChanges> {
    if (!from) return { kind: "all" };
    const known = await this.git(this.workTree)
      .raw(["cat-file", "-t", from])
      .then(
        () => true,
        () => false,
      );
    if (!known) return { kind: "all" };
    const pathspec = this.pathspec();
    const out = await this.run("diff", () => this.git(this.workTree).raw(["diff", "--name-status", "--no-renames", "-z", from, to, "--", pathspec]));
    const fields = out.split("\0").filter((f) => f.length > 0);
    const changed: string[] = [];
    const removed: string[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const status = fields[i] ?? "";
      const file = fields[i + 1] ?? "";
      (status.startsWith("D") ? removed : changed).push(file);
    }
    return { kind: "diff", changed, removed };
  }

  /** "" when the commit's signature verifies against the configured keys; otherwise why not. */
  async verify(sha: string): Promise<string> {
    const config: string[] = [];
    if (this.options.allowedSignersFile) config.push("-c", `gpg.ssh.allowedSignersFile=${this.options.allowedSignersFile}`);
    // %G? is G only for a good signature by a trusted key; git exits 0 whatever it finds.
    const out = await this.run("verify", () => this.git(this.workTree).raw([...config, "log", "-1", "--format=%G?%x00%GS%x00%GK", sha, "--"]));
    const [verdict = "N", signer = "", key = ""] = out.trim().split("\0");
    if (verdict === "G") return "";
    const meaning: Record<string, string> = {
      N: "the commit is not signed",
      B: "the signature is bad",
      U: "the signature is good but the key is not trusted",
      X: "the signature has expired",
      Y: "the signature was made by an expired key",
      R: "the signature was made by a revoked key",
      E: "the signature cannot be checked (no key for it among the allowed signers)",
    };
    const by = signer || key ? ` (signer ${signer || key})` : "";
    return `${meaning[verdict] ?? `signature state ${verdict}`}${by}`;
  }

  get verifiesSignatures(): boolean {
    return Boolean(this.options.allowedSignersFile || this.options.gpgHome);
  }

  /** The watched directory, relative to the repository root, as a git pathspec. */
  pathspec(): string {
    const path = this.options.path.replace(/^\.?\/*/, "").replace(/\/+$/, "");
    return path === "" ? "." : path;
  }

  /** The watched directory on disk. */
  get rolloutDir(): string {
    const spec = this.pathspec();
    return spec === "." ? this.workTree : join(this.workTree, spec);
  }
}
