import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { RolloutClient, type RolloutObject } from "../../src/kube/rollouts.js";
import { createGitRemote, startGitHttpServer, startGitSshServer, waitUntil, type GitRemote } from "../env/index.js";
import { startController, type ControllerProcess } from "./controller-process.js";
import { rolloutYaml } from "./rollout-yaml.js";
import { kubeConfig, uniqueName } from "./services.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const TOKEN = "ghp-5b2f9e1c7a3d8e6f0a4b";

/** A namespace and a remote whose first commit already holds the Rollout `reviews` at v1. */
async function repository(): Promise<{ remote: GitRemote; namespace: string }> {
  const namespace = uniqueName("gitauth");
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: namespace } } });
  const remote = await createGitRemote();
  cleanups.push(() => remote.stop());
  await remote.commit({ "rollouts/reviews.yaml": rolloutYaml({ name: "reviews", namespace, version: "v1" }) });
  return { remote, namespace };
}

async function controllerFor(gitUrl: string, namespace: string, args: string[] = [], env: Record<string, string> = {}): Promise<ControllerProcess> {
  const controller = await startController({ gitUrl, args: ["--git-source-name", namespace, "--git-path", "rollouts", ...args], env });
  cleanups.push(() => controller.stop());
  return controller;
}

async function waitForVersion(namespace: string, version: string, controller: ControllerProcess): Promise<void> {
  const client = new RolloutClient(kubeConfig());
  const versionOf = (o: RolloutObject) => (o.spec as { version?: string }).version;
  await waitUntil(`Rollout ${namespace}/reviews at ${version}`, async () => versionOf(await client.get(namespace, "reviews")) === version, { timeoutMs: 30_000, intervalMs: 200 }).catch(
    (error: unknown) => {
      throw new Error(`${String(error)}\ncontroller log:\n${controller.output.slice(-10).join("\n")}`);
    },
  );
}

/** Two failed syncs in a row, then a healthy /healthz: the controller keeps polling and serving. */
async function expectStillRunning(controller: ControllerProcess): Promise<void> {
  await waitUntil("a second failed sync", async () => controller.logs().filter((l) => l.msg === "git sync failed").length >= 2, { timeoutMs: 30_000, intervalMs: 200 });
  expect((await fetch(`${controller.url}/healthz`)).status).toBe(200);
}

function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "tideway-gitauth-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, name), content, { mode: 0o600 });
  return join(dir, name);
}

describe("a controller syncing from a repository that needs a token over HTTP", () => {
  it("applies the Rollouts of each new commit, and the token reaches no log", async () => {
    const { remote, namespace } = await repository();
    const server = await startGitHttpServer(remote.url, { token: TOKEN });
    cleanups.push(() => server.stop());
    const controller = await controllerFor(server.url, namespace, ["--git-token-file", tempFile("token", `${TOKEN}\n`)]);

    await waitForVersion(namespace, "v1", controller);
    await remote.commit({ "rollouts/reviews.yaml": rolloutYaml({ name: "reviews", namespace, version: "v2" }) });
    await waitForVersion(namespace, "v2", controller);

    expect(server.requests.filter((r) => r.status === 401)).toEqual([]);
    const all = controller.output.join("\n");
    for (const secret of [TOKEN, Buffer.from(`x-access-token:${TOKEN}`).toString("base64")]) expect(all).not.toContain(secret);
  });

  it("with a wrong token logs an authentication failure (401) without the token, and keeps running", async () => {
    const { remote, namespace } = await repository();
    const server = await startGitHttpServer(remote.url, { token: TOKEN });
    cleanups.push(() => server.stop());
    const wrong = "ghp-0000000000wrong00000";
    const controller = await controllerFor(server.url, namespace, [], { TIDEWAY_GIT_TOKEN: wrong });

    const failed = await controller.waitForLog((l) => l.msg === "git sync failed", 30_000);
    expect(String(failed.err)).toContain(`git clone ${server.url}: authentication failed (HTTP 401): the server refused the token`);
    expect(server.requests.some((r) => r.status === 401)).toBe(true);
    await expectStillRunning(controller);
    const all = controller.output.join("\n");
    for (const secret of [wrong, Buffer.from(`x-access-token:${wrong}`).toString("base64")]) expect(all).not.toContain(secret);
  });
});

describe("a controller syncing from a repository over SSH", () => {
  it("applies the Rollouts of each new commit, with its key and a host key accepted on first use", async () => {
    const { remote, namespace } = await repository();
    const sshd = await startGitSshServer();
    cleanups.push(() => sshd.stop());
    const controller = await controllerFor(sshd.urlOf(remote.url), namespace, ["--git-ssh-key-file", sshd.clientKeyFile]);

    await waitForVersion(namespace, "v1", controller);
    await remote.commit({ "rollouts/reviews.yaml": rolloutYaml({ name: "reviews", namespace, version: "v2" }) });
    await waitForVersion(namespace, "v2", controller);
  });

  it("with a key the server does not know logs an SSH authentication failure, and keeps running", async () => {
    const { remote, namespace } = await repository();
    const sshd = await startGitSshServer();
    cleanups.push(() => sshd.stop());
    const controller = await controllerFor(sshd.urlOf(remote.url), namespace, ["--git-ssh-key-file", sshd.strangerKeyFile]);

    const failed = await controller.waitForLog((l) => l.msg === "git sync failed", 30_000);
    expect(String(failed.err)).toContain("SSH authentication failed: the server refused the key in --git-ssh-key-file");
    await expectStillRunning(controller);
    const keyBody = readFileSync(sshd.strangerKeyFile, "utf8").split("\n")[1] ?? "";
    expect(keyBody.length).toBeGreaterThan(20);
    expect(controller.output.join("\n")).not.toContain(keyBody);
  });
});
