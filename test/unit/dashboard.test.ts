/** The dashboard's pure parts: what the page is shown of a Rollout, the checks over time, the buttons, and who may call the API. */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { actionCommand } from "../../src/dashboard/actions.js";
import { ASSET_DIR, ASSET_FILES, loadAssets } from "../../src/dashboard/assets.js";
import { recordChecks, SAMPLE_LIMIT } from "../../src/dashboard/series.js";
import { allowedHosts, DashboardSessions, SESSION_COOKIE } from "../../src/dashboard/session.js";
import { availableActions, EVENT_LIMIT, rolloutView } from "../../src/dashboard/view.js";
import type { RolloutObject } from "../../src/kube/rollouts.js";
import { RolloutStatusSchema, type RolloutStatus } from "../../src/rollout/status.js";

const counts = { passed: 1, failed: 0, inconclusive: 0, errored: 0 };

function status(overrides: Partial<RolloutStatus> = {}, release: Record<string, unknown> = {}, metric: Record<string, unknown> = {}): RolloutStatus {
  return RolloutStatusSchema.parse({
    phase: "Progressing",
    message: "step 1/4: 20% to canary",
    stableVersion: "v1",
    canaryVersion: "v2",
    canaryWeight: 20,
    step: "1/4",
    releaseCount: 2,
    release: {
      id: 2,
      version: "v2",
      startedAt: "2026-01-02T03:04:05Z",
      stepIndex: 0,
      canaryWeight: 20,
      headerRoute: false,
      trafficApplied: true,
      stepChecks: counts,
      checks: counts,
      inconclusiveStreak: 0,
      errorStreak: 0,
      metrics: [{ name: "success-rate", counts, lastOutcome: "pass", lastValue: 0.99, lastMessage: "ok", lastCheckedAt: "2026-01-02T03:05:00Z", ...metric }],
      ...release,
    },
    conditions: [],
    history: [],
    commands: [],
    ...overrides,
  });
}

function object(statusValue: unknown, annotations: Record<string, string> = {}): RolloutObject {
  return {
    apiVersion: "tideway.io/v1alpha1",
    kind: "Rollout",
    metadata: { name: "reviews", namespace: "bookinfo", resourceVersion: "7", annotations },
    spec: {
      service: "reviews",
      version: "v2",
      trafficRouting: { istio: { virtualService: { name: "reviews" } } },
      steps: [{ setWeight: 20 }, { pause: "1m" }, { setHeaderRoute: { headers: { "x-canary": { exact: "true" } } } }, { pause: {} }],
      analysis: {
        metrics: [
          { name: "success-rate", min: 0.99 },
          { name: "latency-p99", compare: { maxIncrease: 0.5 } },
        ],
      },
      workload: { replicas: 1, template: { spec: { containers: [{ name: "app", image: "reviews:{{ version }}", env: [{ name: "TOKEN", value: "s3cret-value" }] }] } } },
    },
    status: statusValue,
  };
}

describe("the dashboard's view of a Rollout", () => {
  it("shows phase, versions, weight, the step list with the current step, the checks and the commit", () => {
    const view = rolloutView(
      object(status(), { "tideway.io/commit": "abcdef0123456789", "tideway.io/commit-author": "Ana", "tideway.io/commit-subject": "reviews v2", "tideway.io/invalid": "reviews.yaml:3:1: bad" }),
      [],
      undefined,
    );
    expect(view).toMatchObject({
      phase: "Progressing",
      stableVersion: "v1",
      canaryVersion: "v2",
      canaryWeight: 20,
      step: "1/4",
      stepIndex: 0,
      steps: ["setWeight 20%", "pause 1m", 'header route: x-canary exact "true"', "pause until promoted (manual gate)"],
      commit: { sha: "abcdef0123456789", author: "Ana", subject: "reviews v2" },
      invalid: "reviews.yaml:3:1: bad",
      actions: ["promote", "promote-full", "pause", "abort"],
    });
    expect(view.metrics).toMatchObject([
      { name: "success-rate", min: 0.99, lastValue: 0.99, lastOutcome: "pass" },
      { name: "latency-p99", maxIncrease: 0.5 },
    ]);
  });

  it("never carries the spec's workload (its env may hold a secret) or other annotations to the page", () => {
    const view = rolloutView(object(status(), { "kubectl.kubernetes.io/last-applied-configuration": "s3cret-value" }), [], undefined);
    expect(JSON.stringify(view)).not.toContain("s3cret-value");
  });

  it("names a mirror step in the step list", () => {
    const mirrored = object(status());
    mirrored.spec = { ...(mirrored.spec as Record<string, unknown>), steps: [{ setMirrorRoute: { percentage: 20, match: { headers: { "x-user": { exact: "qa" } } } } }, { setWeight: 20 }] };
    expect(rolloutView(mirrored, [], undefined).steps).toEqual(["mirror 20% to the canary (x-user matching)", "setWeight 20%"]);
  });

  it("says so when the controller has not written a status yet", () => {
    expect(rolloutView(object(undefined), [], undefined)).toMatchObject({ phase: "Pending", message: "waiting for the controller", actions: [] });
  });

  it(`shows the newest ${EVENT_LIMIT} Events first`, () => {
    const events = Array.from({ length: 25 }, (_, i) => ({ type: "Normal", reason: "Step", message: `m${i}`, at: `2026-01-02T03:${String(i).padStart(2, "0")}:00Z`, count: 1 }));
    const shown = rolloutView(object(status()), events, undefined).events;
    expect(shown).toHaveLength(EVENT_LIMIT);
    expect(shown[0]?.message).toBe("m24");
  });

  it.each([
    ["Progressing", ["promote", "promote-full", "pause", "abort"]],
    ["Paused", ["promote", "promote-full", "resume", "abort"]],
    ["RolledBack", ["retry"]],
    ["Aborted", ["retry"]],
    ["Healthy", []],
    ["Refused", []],
  ] as const)("offers in phase %s the buttons %j", (phase, actions) => {
    expect(availableActions(status({ phase }))).toEqual(actions);
  });
});

describe("the checks over time", () => {
  it("adds a sample each time a check's time changes, and only then", () => {
    let series = recordChecks(undefined, status());
    series = recordChecks(series, status());
    series = recordChecks(series, status({}, {}, { lastValue: 0.97, lastCheckedAt: "2026-01-02T03:05:03Z" }));
    expect(series?.metrics["success-rate"]?.map((s) => s.value)).toEqual([0.99, 0.97]);
  });

  it("starts again with a new release, and keeps the last release's once it has ended", () => {
    const first = recordChecks(undefined, status());
    const ended = recordChecks(first, status({ phase: "Healthy", release: undefined }));
    expect(ended).toBe(first);
    const next = recordChecks(ended, status({}, { id: 3 }, { lastValue: 0.5, lastCheckedAt: "2026-01-02T04:00:00Z" }));
    expect(next).toMatchObject({ releaseId: 3, metrics: { "success-rate": [{ value: 0.5 }] } });
  });

  it("records canary against stable for a comparison: the share of bad requests so far", () => {
    const evidence = { maxIncrease: 0.5, canary: { requests: 200, bad: 4 }, stable: { requests: 800, bad: 8 }, logWorse: [], logNoWorse: [] };
    expect(recordChecks(undefined, status({}, {}, { evidence }))?.metrics["success-rate"]?.[0]).toMatchObject({ canary: 0.02, stable: 0.01 });
  });

  it(`keeps the last ${SAMPLE_LIMIT} samples`, () => {
    let series = recordChecks(undefined, status());
    for (let i = 0; i < SAMPLE_LIMIT + 5; i++) series = recordChecks(series, status({}, {}, { lastValue: i, lastCheckedAt: new Date(Date.UTC(2026, 0, 3, 0, 0, i)).toISOString() }));
    expect(series?.metrics["success-rate"]).toHaveLength(SAMPLE_LIMIT);
    expect(series?.metrics["success-rate"]?.at(-1)?.value).toBe(SAMPLE_LIMIT + 4);
  });
});

describe("the buttons", () => {
  it.each([
    ["promote", undefined, { command: "promote", value: "step" }],
    ["promote-full", undefined, { command: "promote", value: "full" }],
    ["pause", undefined, { command: "pause", value: "" }],
    ["resume", undefined, { command: "resume", value: "" }],
    ["retry", undefined, { command: "retry", value: "" }],
    ["abort", "  bad latency ", { command: "abort", value: "bad latency" }],
  ])("%s writes the CLI's annotation value", (action, reason, expected) => {
    expect(actionCommand(action, reason)).toEqual({ ok: true, ...expected });
  });

  it("refuses an unknown action, an abort without a reason and an overlong reason", () => {
    expect(actionCommand("delete", undefined)).toMatchObject({ ok: false, status: 404 });
    expect(actionCommand("abort", "   ")).toEqual({ ok: false, status: 400, error: "abort needs a reason" });
    expect(actionCommand("abort", "x".repeat(501))).toMatchObject({ ok: false, status: 400 });
  });
});

describe("who may use the API", () => {
  it.each([
    ["127.0.0.1", ["localhost:3100", "127.0.0.1:3100", "[::1]:3100"]],
    ["::1", ["localhost:3100", "127.0.0.1:3100", "[::1]:3100"]],
    ["0.0.0.0", ["localhost:3100", "127.0.0.1:3100", "[::1]:3100"]],
    ["10.1.2.3", ["10.1.2.3:3100"]],
  ])("listening on %s answers the Hosts %j", (host, hosts) => {
    expect([...allowedHosts(host, 3100)].sort()).toEqual([...hosts].sort());
  });

  it("adds the names given with --allow-host", () => {
    expect(allowedHosts("127.0.0.1", 3100, ["Dash.example", "proxy:8443"])).toContain("dash.example:3100");
    expect(allowedHosts("127.0.0.1", 3100, ["proxy:8443"])).toContain("proxy:8443");
  });

  it("accepts a write only with the page's origin, its session cookie and that session's token", () => {
    const sessions = new DashboardSessions(allowedHosts("127.0.0.1", 3100));
    const page = sessions.session({ host: "127.0.0.1:3100" });
    expect(page.cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[\\w-]{43}; Path=/; HttpOnly; SameSite=Strict$`));
    const cookie = `${SESSION_COOKIE}=${page.id}`;
    const good = { host: "127.0.0.1:3100", origin: "http://127.0.0.1:3100", cookie, "x-tideway-csrf": page.token };
    expect(sessions.refuseWrite(good)).toBeUndefined();
    expect(sessions.session({ cookie })).toEqual({ id: page.id, token: page.token });
    expect(sessions.refuseWrite({ ...good, "x-tideway-csrf": sessions.session({}).token })).toMatch(/does not match/);
    expect(sessions.refuseWrite({ ...good, origin: "http://localhost:3100" })).toMatch(/^Origin/);
    expect(sessions.refuseWrite({ ...good, "sec-fetch-site": "cross-site" })).toBe("cross-site request refused");
    expect(sessions.refuseHost({ host: "evil.example:3100" })).toMatch(/is not this dashboard's/);
    expect(sessions.refuseHost({ host: "localhost:3100" })).toBeUndefined();
  });
});

describe("the page's files", () => {
  it("are all in the package's asset folder, and the build copies that folder into dist", () => {
    const assets = loadAssets();
    expect(assets.page("TOKEN")).toContain('<meta name="csrf-token" content="TOKEN" />');
    for (const path of Object.keys(ASSET_FILES)) expect(assets.asset(path)?.body.length).toBeGreaterThan(0);
    // Every file in the folder is served (a module the page imports but the server does not know would 404).
    expect(readdirSync(ASSET_DIR).sort()).toEqual([...Object.values(ASSET_FILES).map((a) => a.file), "index.html"].sort());
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { scripts: { build: string }; files: string[] };
    expect(pkg.scripts.build).toContain("cpSync('src/dashboard/assets', 'dist/dashboard/assets'");
    expect(pkg.files).toContain("dist");
    expect(ASSET_DIR.endsWith("/src/dashboard/assets/")).toBe(true);
  });

  it("load nothing from elsewhere: no http(s) URL, no inline script or style", () => {
    const page = loadAssets().page("T");
    expect(page).not.toMatch(/(src|href)="https?:/);
    expect(page).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(page).not.toMatch(/\sstyle="/);
    for (const path of Object.keys(ASSET_FILES).filter((p) => p.endsWith(".js"))) {
      expect(loadAssets().asset(path)?.body.toString()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
  });
});

describe("docs/dashboard.md", () => {
  it("documents every flag of tideway dashboard", async () => {
    const { buildCli } = await import("../../src/cli.js");
    const command = buildCli().commands.find((c) => c.name() === "dashboard");
    const doc = readFileSync(new URL("../../docs/dashboard.md", import.meta.url), "utf8");
    const flags = command?.options.map((o) => o.long ?? "") ?? [];
    expect(flags).toEqual(["--listen", "--namespace", "--kubeconfig", "--by", "--allow-host"]);
    for (const flag of flags) expect(doc).toContain(`| \`${flag}`.replace("| `--namespace", "| `-n, --namespace"));
  });
});
