/**
 * A git server over SSH: Debian's OpenSSH sshd in the foreground on a free loopback port, with
 * its own config, a host key made for this run and key-only login for one generated client key.
 * Git runs `git-upload-pack <path>` through it, so any bare repository on disk can be cloned as
 * `ssh://<user>@127.0.0.1:<port><path>`.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { freePort, removeDir, ServerProcess, tempDir, waitUntil } from "./process.js";

export interface GitSshServer {
  port: number;
  /** The login the client key is authorised for: the user running the tests (sshd cannot switch users otherwise). */
  user: string;
  /** The authorised client's private key (mode 0600, as ssh wants). */
  clientKeyFile: string;
  /** A private key sshd does not know, for testing refusals. */
  strangerKeyFile: string;
  /** The ssh:// URL of a repository at this absolute path on disk. */
  urlOf(repoPath: string): string;
  stop(): Promise<void>;
}

const SSHD = "/usr/sbin/sshd";

export async function startGitSshServer(): Promise<GitSshServer> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} not found: install Debian's openssh-server (bash scripts/test-deps.sh does)`);
  const dir = tempDir("sshd");
  const port = await freePort();
  const user = userInfo().username;
  const keygen = (file: string, comment: string) => execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  keygen(join(dir, "host_key"), "tideway-test-host");
  keygen(join(dir, "client_key"), "tideway-test-client");
  keygen(join(dir, "stranger_key"), "tideway-test-stranger");
  const authorizedKeys = join(dir, "authorized_keys");
  writeFileSync(authorizedKeys, readFileSync(join(dir, "client_key.pub")), { mode: 0o600 });
  const root = process.getuid?.() === 0;
  if (root) {
    // Running as root, sshd separates privileges into this directory, which the package's
    // service creates at boot; it is absent when that service never ran.
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    chmodSync("/run/sshd", 0o755);
  }
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${join(dir, "host_key")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `AllowUsers ${user}`,
      // Keys only: no passwords, no PAM (which would want /etc/pam.d and a real login).
      "AuthenticationMethods publickey",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      `PermitRootLogin ${root ? "prohibit-password" : "no"}`,
      // The files live under /tmp (world-writable), which StrictModes would refuse.
      "StrictModes no",
      "UseDNS no",
      "PrintMotd no",
      "PrintLastLog no",
      "PermitUserEnvironment no",
      "AllowTcpForwarding no",
      "X11Forwarding no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  // -D: stay in the foreground (the watchdog owns it); -e: log to stderr, i.e. the log file.
  const sshd = new ServerProcess("sshd", SSHD, ["-D", "-e", "-f", config], { logDir: dir });
  const stop = async () => {
    await sshd.stop();
    removeDir(dir);
  };
  try {
    await waitUntil("sshd's banner", () => banner(port), { timeoutMs: 15_000, process: sshd });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    user,
    clientKeyFile: join(dir, "client_key"),
    strangerKeyFile: join(dir, "stranger_key"),
    urlOf: (repoPath) => `ssh://${user}@127.0.0.1:${port}${repoPath}`,
    stop,
  };
}

/** True once something on the port greets like an SSH server. */
function banner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.setTimeout(2_000);
    socket.once("data", (chunk: Buffer) => {
      socket.destroy();
      resolve(chunk.toString("latin1").startsWith("SSH-2.0-"));
    });
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}
