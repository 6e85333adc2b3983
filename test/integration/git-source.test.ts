import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { GitSource, type GitSourceOptions } from "../../src/git/source.js";
import { createGitRemote, startGitHttpServer, startGitSshServer, type GitRemote } from "../env/index.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const TOKEN = "ghp-7d1e0c9b8a6f5e4d3c2b";

async function remoteWithCommit(): Promise<{ remote: GitRemote; first: string }> {
  const remote = await createGitRemote();
  cleanups.push(() => remote.stop());
  const first = await remote.commit({ "rollouts/README.md": "first\n" });
  return { remote, first };
}

function source(options: Omit<GitSourceOptions, "branch" | "path" | "cacheDir">): GitSource {
  const cacheDir = mkdtempSync(join(tmpdir(), "tideway-source-"));
  cleanups.push(() => rmSync(cacheDir, { recursive: true, force: true }));
  return new GitSource({ branch: "main", path: "rollouts", cacheDir, timeoutMs: 20_000, ...options });
}

/** The error `action` throws, for asserting on its message. */
async function failureOf(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error("expected a failure, but it succeeded");
}

describe("GitSource over HTTP with a token", () => {
  it("clones, then fetches a new commit, sending the token to the server", async () => {
    const { remote, first } = await remoteWithCommit();
    const server = await startGitHttpServer(remote.url, { token: TOKEN });
    cleanups.push(() => server.stop());
    const git = source({ url: server.url, token: TOKEN });

    expect((await git.fetch()).sha).toBe(first);
    const second = await remote.commit({ "rollouts/README.md": "second\n" });
    expect((await git.fetch()).sha).toBe(second);
    expect(readFileSync(join(git.workTree, "rollouts/README.md"), "utf8")).toBe("second\n");
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.filter((r) => r.status !== 200)).toEqual([]);
  });

  it("reads the token from a file", async () => {
    const { remote, first } = await remoteWithCommit();
    const server = await startGitHttpServer(remote.url, { token: TOKEN });
    cleanups.push(() => server.stop());
    const dir = mkdtempSync(join(tmpdir(), "tideway-token-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "token"), `${TOKEN}\n`);

    expect((await source({ url: server.url, tokenFile: join(dir, "token") }).fetch()).sha).toBe(first);
  });

  it("reports a refused token as an authentication failure (401), without the token", async () => {
    const { remote } = await remoteWithCommit();
    const server = await startGitHttpServer(remote.url, { token: TOKEN });
    cleanups.push(() => server.stop());
    const wrong = "ghp-0000wrong0000token";

    const message = await failureOf(() => source({ url: server.url, token: wrong }).fetch());
    expect(message).toContain(`git clone ${server.url}`);
    expect(message).toMatch(/authentication failed \(HTTP 401\)/);
    expect(message).not.toContain(wrong);
    expect(message).not.toContain(Buffer.from(`x-access-token:${wrong}`).toString("base64"));
    expect(server.requests.map((r) => r.status)).toContain(401);
  });

  it("says that a token is needed when none is configured", async () => {
    const { remote } = await remoteWithCommit();
    const server = await startGitHttpServer(remote.url, { token: TOKEN });
    cleanups.push(() => server.stop());

    expect(await failureOf(() => source({ url: server.url }).fetch())).toMatch(/authentication required \(HTTP 401\).*--git-token-file/);
  });
});

describe("GitSource over SSH with a key", () => {
  it("clones, then fetches a new commit, recording the host key in the cache directory", async () => {
    const { remote, first } = await remoteWithCommit();
    const sshd = await startGitSshServer();
    cleanups.push(() => sshd.stop());
    const git = source({ url: sshd.urlOf(remote.url), sshKeyFile: sshd.clientKeyFile });

    expect((await git.fetch()).sha).toBe(first);
    const second = await remote.commit({ "rollouts/README.md": "second\n" });
    expect((await git.fetch()).sha).toBe(second);
    expect(readFileSync(join(git.workTree, "..", "known_hosts"), "utf8")).not.toBe("");
  });

  it("reports a key the server refuses as an SSH authentication failure", async () => {
    const { remote } = await remoteWithCommit();
    const sshd = await startGitSshServer();
    cleanups.push(() => sshd.stop());

    const message = await failureOf(() => source({ url: sshd.urlOf(remote.url), sshKeyFile: sshd.strangerKeyFile }).fetch());
    expect(message).toMatch(/SSH authentication failed: the server refused the key in --git-ssh-key-file/);
    expect(message).not.toContain(readFileSync(sshd.strangerKeyFile, "utf8").split("\n")[1]);
  });

  it("refuses a server whose host key differs from the one recorded", async () => {
    const { remote } = await remoteWithCommit();
    const sshd = await startGitSshServer();
    cleanups.push(() => sshd.stop());
    const git = source({ url: sshd.urlOf(remote.url), sshKeyFile: sshd.clientKeyFile });
    // Another server's key recorded for this address: what a man in the middle would look like.
    const impostor = readFileSync(`${sshd.strangerKeyFile}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    writeFileSync(join(git.workTree, "..", "known_hosts"), `[127.0.0.1]:${sshd.port} ${impostor}\n`);

    expect(await failureOf(() => git.fetch())).toMatch(/SSH host key verification failed/);
  });
});
