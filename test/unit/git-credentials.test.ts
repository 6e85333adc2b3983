import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { explainAuthFailure, gitCredentials } from "../../src/git/credentials.js";

describe("git credentials", () => {
  it("puts a token in a header through GIT_CONFIG_*, lifts only that guard, and leaves the URL clean", () => {
    const credentials = gitCredentials("https://deploy:pw-1234@git.example.com/acme/deploys.git", { token: "tok-abcdef" });
    expect(credentials.url).toBe("https://git.example.com/acme/deploys.git");
    expect(credentials.env.GIT_CONFIG_KEY_0).toBe("http.extraHeader");
    expect(credentials.env.GIT_CONFIG_VALUE_0).toBe(`Authorization: Basic ${Buffer.from("deploy:tok-abcdef").toString("base64")}`);
    expect(credentials.unsafe).toEqual({ allowUnsafeConfigEnvCount: true });
    expect(credentials.secrets).toContain("tok-abcdef");
  });

  it("lifts no guard without credentials", () => {
    expect(gitCredentials("https://git.example.com/acme/deploys.git", {}).unsafe).toEqual({});
  });

  it("gives ssh the key and the known-hosts file intact, whatever their paths hold", () => {
    const dir = mkdtempSync(join(tmpdir(), "tideway-creds-"));
    const key = join(dir, "it's a key"); // ssh -G lists only identity files that exist
    writeFileSync(key, "", { mode: 0o600 });
    const knownHosts = join(dir, "tide way", 'known "hosts"');
    const { env, unsafe } = gitCredentials("ssh://git@git.example.com/acme/deploys.git", { sshKeyFile: key, knownHostsFile: knownHosts });
    expect(unsafe).toEqual({ allowUnsafeSshCommand: true });
    // git runs the command through sh; `ssh -G` prints the options it would use, connecting nowhere.
    const resolved = execFileSync("sh", ["-c", `${env.GIT_SSH_COMMAND} -G git.example.com`], { encoding: "utf8" }).split("\n");
    rmSync(dir, { recursive: true, force: true });
    expect(resolved).toContain(`identityfile ${key}`);
    expect(resolved).toContain(`userknownhostsfile ${knownHosts}`);
    expect(resolved).toContain("stricthostkeychecking accept-new");
    expect(resolved).toContain("batchmode yes");
  });
});

describe("explaining a failed git command", () => {
  const token = { token: true, sshKey: false };
  const key = { token: false, sshKey: true };
  const none = { token: false, sshKey: false };
  it.each([
    ["fatal: could not read Username for 'https://git.example.com': terminal prompts disabled", token, /^authentication failed \(HTTP 401\): the server refused the token/],
    ["fatal: could not read Username for 'https://git.example.com': terminal prompts disabled", none, /^authentication required \(HTTP 401\): give a token with --git-token-file/],
    ["fatal: unable to access 'https://git.example.com/': The requested URL returned error: 403", token, /^access denied \(HTTP 403\)/],
    ["git@git.example.com: Permission denied (publickey).", key, /^SSH authentication failed: the server refused the key in --git-ssh-key-file/],
    ["git@git.example.com: Permission denied (publickey).", none, /^SSH authentication failed: no key was accepted/],
    ["Host key verification failed.", key, /^SSH host key verification failed/],
    ['Load key "/keys/id": invalid format', key, /^the file of --git-ssh-key-file is missing or is not a private key/],
    ["fatal: couldn't find remote ref main", token, /^$/],
  ])("%s (%o)", (output, has, expected) => {
    expect(explainAuthFailure(output, has)).toMatch(expected);
  });
});
