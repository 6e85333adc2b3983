import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gitCredentials } from "../../src/git/credentials.js";

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
