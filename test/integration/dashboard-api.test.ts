/**
 * `tideway dashboard`'s HTTP API, served by the real CLI against the real API server: the page and
 * its session, the live stream, and the buttons' POSTs with what they refuse (no CSRF token, another
 * origin or Host, an unknown action, a Rollout that is not there).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { CoreV1Api } from "@kubernetes/client-node";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RolloutClient } from "../../src/kube/rollouts.js";
import { COMMIT_ANNOTATION, COMMIT_AUTHOR_ANNOTATION, COMMIT_SUBJECT_ANNOTATION } from "../../src/rollout/annotations.js";
import { RolloutStatusSchema } from "../../src/rollout/status.js";
import { waitUntil } from "../env/index.js";
import { rolloutYaml } from "./rollout-yaml.js";
import { kubeConfig, services, uniqueName } from "./services.js";

const kc = kubeConfig();
const rollouts = new RolloutClient(kc);
const namespace = uniqueName("dash");
let dashboard: ChildProcess;
let base: string;
let output = "";

const status = (weight: number, checkedAt: string, value: number) =>
  RolloutStatusSchema.parse({
    phase: "Progressing",
    message: `step 1/4: ${weight}% to canary`,
    stableVersion: "v1",
    canaryVersion: "v2",
    canaryWeight: weight,
    step: "1/4",
    releaseCount: 2,
    release: {
      id: 2,
      version: "v2",
      startedAt: "2026-01-02T03:04:05Z",
      stepIndex: 1,
      canaryWeight: weight,
      headerRoute: false,
      trafficApplied: true,
      stepChecks: { passed: 1, failed: 0, inconclusive: 0, errored: 0 },
      checks: { passed: 1, failed: 0, inconclusive: 0, errored: 0 },
      inconclusiveStreak: 0,
      errorStreak: 0,
      metrics: [
        {
          name: "success-rate",
          counts: { passed: 1, failed: 0, inconclusive: 0, errored: 0 },
          lastOutcome: "pass",
          lastValue: value,
          lastMessage: `success-rate ${value} >= 0.95`,
          lastCheckedAt: checkedAt,
        },
      ],
    },
    conditions: [],
    history: [{ id: 1, version: "v1", fromVersion: "v0", outcome: "promoted", reason: "all checks passed", startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:01:00Z" }],
    commands: [],
  });

/** Answers of the dashboard; `session` adds the page's cookie and token and the right Origin. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: { error?: string; value?: string; by?: string } }> {
  const response = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { error?: string } };
}

async function session(): Promise<Record<string, string>> {
  const response = await fetch(`${base}/`);
  const cookie = (response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const token = /name="csrf-token" content="([^"]+)"/.exec(await response.text())?.[1] ?? "";
  return { cookie, "x-tideway-csrf": token, origin: base };
}

async function annotations(): Promise<Record<string, string>> {
  return (await rollouts.get(namespace, "reviews")).metadata.annotations ?? {};
}

describe("tideway dashboard's HTTP API", () => {
  beforeAll(async () => {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const analysis = ["  analysis:", "    interval: 3s", "    metrics:", "      - name: success-rate", "        min: 0.95"].join("\n");
    const document = parse(rolloutYaml({ name: "reviews", namespace, version: "v2", specExtra: analysis })) as { spec: unknown };
    const object = await rollouts.apply(
      {
        metadata: {
          name: "reviews",
          namespace,
          labels: {},
          annotations: { [COMMIT_ANNOTATION]: "0123456789abcdef0123456789abcdef01234567", [COMMIT_AUTHOR_ANNOTATION]: "Ana <ana@example.com>", [COMMIT_SUBJECT_ANNOTATION]: "reviews v2" },
        },
        spec: document.spec,
      },
      "dashboard-test",
    );
    await rollouts.replaceStatus(object, status(20, "2026-01-02T03:05:00Z", 0.97));
    dashboard = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "dashboard", "--listen", "127.0.0.1:0", "-n", namespace, "--kubeconfig", services().kubeconfigPath], {
      cwd: new URL("../../", import.meta.url),
      stdio: ["ignore", "pipe", "pipe"],
    });
    dashboard.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    dashboard.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await waitUntil("the dashboard's address", async () => /Tideway dashboard: (http:\/\/\S+?)\/? /.test(output), { timeoutMs: 30_000, intervalMs: 100 }).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${output}`);
    });
    base = /Tideway dashboard: (http:\/\/\S+?)\/? /.exec(output)?.[1] ?? "";
  }, 60_000);

  afterAll(() => {
    dashboard?.kill("SIGTERM");
  });

  it("says where it listens, on loopback, and whom commands are recorded as (the user the API server knows)", () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(output).toContain(`Rollouts in namespace ${namespace}; commands recorded as "tideway-admin"`);
  });

  it("serves the page with a session cookie and a CSRF token, and its script and style from the package", async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("set-cookie")).toMatch(/^tideway_dashboard=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(response.headers.get("content-security-policy")).toContain("script-src 'self'");
    const page = await response.text();
    expect(page).toMatch(/<meta name="csrf-token" content="[\w-]{43}"/);
    expect(page).not.toContain("{{csrf-token}}");
    for (const asset of ["/assets/dashboard.js", "/assets/dashboard.css", "/assets/favicon.svg"]) expect((await fetch(`${base}${asset}`)).status).toBe(200);
  });

  it("lists the Rollout with its status, steps, checks, history and commit", async () => {
    const { rollouts: views } = (await (await fetch(`${base}/api/rollouts`)).json()) as { rollouts: Record<string, unknown>[] };
    expect(views).toHaveLength(1);
    expect(views[0]).toMatchObject({
      name: "reviews",
      namespace,
      phase: "Progressing",
      stableVersion: "v1",
      canaryVersion: "v2",
      canaryWeight: 20,
      stepIndex: 1,
      steps: ["setWeight 20%", "pause 2s", "setWeight 60%", "pause 2s"],
      metrics: [{ name: "success-rate", min: 0.95, lastValue: 0.97, samples: [{ value: 0.97, outcome: "pass" }] }],
      history: [{ version: "v1", outcome: "promoted" }],
      commit: { sha: "0123456789abcdef0123456789abcdef01234567", author: "Ana <ana@example.com>", subject: "reviews v2" },
      actions: ["promote", "promote-full", "pause", "abort"],
    });
  });

  it("streams each change of the Rollout as it happens: a new weight and a new check point on the chart", async () => {
    const controller = new AbortController();
    const response = await fetch(`${base}/api/stream`, { signal: controller.signal });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.getReader();
    let text = "";
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await until(/event: snapshot\ndata: .*"canaryWeight":20/);
    await rollouts.replaceStatus(await rollouts.get(namespace, "reviews"), status(60, "2026-01-02T03:05:03Z", 0.99));
    await until(/event: rollout\ndata: .*"canaryWeight":60/);
    const update = JSON.parse(/event: rollout\ndata: (.*"canaryWeight":60.*)\n/.exec(text)?.[1] ?? "{}") as { metrics: { samples: { value: number }[] }[] };
    expect(update.metrics[0]?.samples.map((s) => s.value)).toEqual([0.97, 0.99]);
    controller.abort();
  });

  it("refuses a POST without the session's CSRF token, from another origin, or for another Host, and writes nothing", async () => {
    const good = await session();
    const refusals = [
      await post("/api/rollouts/" + namespace + "/reviews/abort", { reason: "x" }, { origin: base }),
      await post("/api/rollouts/" + namespace + "/reviews/abort", { reason: "x" }, { ...good, "x-tideway-csrf": "A".repeat(43) }),
      await post("/api/rollouts/" + namespace + "/reviews/abort", { reason: "x" }, { ...good, origin: "http://evil.example" }),
      await post("/api/rollouts/" + namespace + "/reviews/abort", { reason: "x" }, { cookie: good.cookie ?? "", "x-tideway-csrf": good["x-tideway-csrf"] ?? "" }),
    ];
    expect(refusals.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    expect(refusals.map((r) => r.body.error)).toEqual([
      "no session or CSRF token: load the dashboard's page again",
      "CSRF token does not match this session: load the dashboard's page again",
      'Origin "http://evil.example": only the dashboard\'s own page may act',
      "Origin missing: only the dashboard's own page may act",
    ]);
    // A page on another name that resolves to 127.0.0.1 (DNS rebinding) can neither read nor write.
    const { port } = new URL(base);
    const rebound = await new Promise<number>((resolve, reject) =>
      request({ host: "127.0.0.1", port, path: "/api/rollouts", headers: { host: `evil.example:${port}` } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on("error", reject)
        .end(),
    );
    expect(rebound).toBe(403);
    expect(Object.keys(await annotations()).filter((k) => /^tideway\.io\/(abort|by)$/.test(k))).toEqual([]);
  });

  it("answers 404 for an unknown action and for a Rollout that is not there", async () => {
    const good = await session();
    const unknown = await post(`/api/rollouts/${namespace}/reviews/delete`, {}, good);
    expect(unknown).toEqual({ status: 404, body: { error: 'unknown action "delete": expected one of promote, promote-full, pause, resume, retry, abort' } });
    const missing = await post(`/api/rollouts/${namespace}/ratings/promote`, {}, good);
    expect(missing).toEqual({ status: 404, body: { error: `Rollout ${namespace}/ratings not found` } });
    expect((await post(`/api/rollouts/${namespace}/reviews/abort`, {}, good)).body).toEqual({ error: "abort needs a reason" });
  });

  it("writes the same annotations as the CLI, with the user recorded", async () => {
    const answer = await post(`/api/rollouts/${namespace}/reviews/abort`, { reason: "bad latency" }, await session());
    expect(answer).toMatchObject({ status: 202, body: { value: "bad latency", by: "tideway-admin" } });
    expect(await annotations()).toMatchObject({ "tideway.io/abort": "bad latency", "tideway.io/by": "tideway-admin" });
    const full = await post(`/api/rollouts/${namespace}/reviews/promote-full`, {}, await session());
    expect(full.status).toBe(202);
    expect(await annotations()).toMatchObject({ "tideway.io/promote": "full", "tideway.io/by": "tideway-admin" });
  });
});
