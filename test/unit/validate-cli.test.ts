import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { validate } from "../../src/cli/validate.js";
import { isRolloutFilePath, readRolloutTree } from "../../src/git/tree.js";

const rollout = (name: string, weight = 10) => `apiVersion: tideway.io/v1alpha1
kind: Rollout
metadata:
  name: ${name}
spec:
  service: ${name}
  version: v2
  trafficRouting:
    istio:
      virtualService: { name: ${name} }
  steps:
    - setWeight: ${weight}
`;

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(path.join(tmpdir(), "tideway-validate-"));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** Writes files under the scratch directory; a value of `{ link }` makes a symlink. */
function tree(files: Record<string, string | Uint8Array | { link: string }>): void {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(scratch, name);
    mkdirSync(path.dirname(file), { recursive: true });
    if (typeof content === "string" || content instanceof Uint8Array) writeFileSync(file, content);
    else symlinkSync(content.link, file);
  }
}

/** Runs `tideway validate` in-process from `cwd`, capturing what it prints. */
async function run(paths: string[], cwd = scratch) {
  let stdout = "";
  let stderr = "";
  const code = await validate(paths, { cwd, stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

describe("tideway validate", () => {
  it("prints each problem as path:line:col, a summary, and exits 1", async () => {
    tree({ "rollouts/good.yaml": rollout("reviews"), "rollouts/bad.yaml": rollout("ratings", 150) });
    expect(await run(["rollouts"])).toEqual({
      code: 1,
      stdout: "2 files, 1 Rollout, 1 problem\n",
      stderr: "rollouts/bad.yaml:12:18: spec.steps[0].setWeight: expected an integer from 0 to 100, found 150\n",
    });
  });

  it("exits 0 when every Rollout is valid, checking the current directory by default", async () => {
    tree({ "reviews.yaml": rollout("reviews"), "ratings.yml": rollout("ratings"), "README.md": "# not YAML" });
    expect(await run([])).toEqual({ code: 0, stdout: "2 files, 2 Rollouts, 0 problems\n", stderr: "" });
  });

  it("prints paths relative to the current directory, or absolute when typed absolute", async () => {
    tree({ "repo/rollouts/bad.yaml": rollout("ratings", 150), "other/.keep": "" });
    const where = async (typed: string, cwd: string) => (await run([typed], path.join(scratch, cwd))).stderr.split(":")[0];
    expect(await where("./rollouts/", "repo")).toBe("rollouts/bad.yaml");
    expect(await where("rollouts/bad.yaml", "repo")).toBe("rollouts/bad.yaml");
    expect(await where("../repo/rollouts", "other")).toBe("../repo/rollouts/bad.yaml");
    expect(await where(path.join(scratch, "repo"), "other")).toBe(path.join(scratch, "repo", "rollouts", "bad.yaml"));
  });

  it("reports a symlink out of the tree without reading what it points to", async () => {
    tree({ "secret/rollout.yaml": rollout("secret"), "repo/reviews.yaml": rollout("reviews"), "repo/leak.yaml": { link: "../secret/rollout.yaml" } });
    expect(await run(["repo"])).toEqual({
      code: 1,
      stdout: "1 file, 1 Rollout, 1 problem\n",
      stderr: "repo/leak.yaml:1:1: symlink points outside the repository\n",
    });
  });

  it("follows a symlink anywhere inside the git work tree it is in", async () => {
    tree({ "repo/.git/HEAD": "ref: refs/heads/main\n", "repo/shared/reviews.yaml": rollout("reviews"), "repo/rollouts/reviews.yaml": { link: "../shared/reviews.yaml" } });
    expect(await run(["repo/rollouts"])).toEqual({ code: 0, stdout: "1 file, 1 Rollout, 0 problems\n", stderr: "" });
  });

  it.each([
    {
      case: "both virtualService and virtualServices",
      istio: "      virtualService: { name: reviews }\n      virtualServices: [{ name: reviews }, { name: gateway, namespace: edge }]",
      problem: "rollouts/reviews.yaml:11:24: spec.trafficRouting.istio.virtualServices: expected virtualService or virtualServices, not both: list every VirtualService in virtualServices",
    },
    {
      case: "neither",
      istio: '      subset: "{{ version }}"',
      problem: "rollouts/reviews.yaml:10:7: spec.trafficRouting.istio.virtualService: expected virtualService: { name: ... } or virtualServices: [{ name: ... }, ...]",
    },
    {
      case: "one VirtualService listed twice",
      istio: "      virtualServices: [{ name: gateway, namespace: edge }, { name: gateway, namespace: edge }]",
      problem: "rollouts/reviews.yaml:10:69: spec.trafficRouting.istio.virtualServices[1].name: VirtualService edge/gateway is listed twice",
    },
    {
      case: "a route listed twice",
      istio: "      virtualServices: [{ name: gateway, routes: [reviews, reviews] }]",
      problem: 'rollouts/reviews.yaml:10:60: spec.trafficRouting.istio.virtualServices[0].routes[1]: route "reviews" is listed twice',
    },
  ])("reports a wrong VirtualService reference ($case) at its file:line", async ({ istio, problem }) => {
    tree({ "rollouts/reviews.yaml": rollout("reviews").replace("      virtualService: { name: reviews }", istio) });
    const { code, stderr } = await run(["rollouts"]);
    expect({ code, stderr }).toEqual({ code: 1, stderr: `${problem}\n` });
  });

  it.each([
    {
      case: "two routers, istio and gatewayAPI",
      routing: "    istio:\n      virtualService: { name: reviews }\n    gatewayAPI:\n      httpRoute: { name: reviews }",
      problem: "rollouts/reviews.yaml:12:7: spec.trafficRouting.gatewayAPI: expected one router, istio or gatewayAPI, not both",
    },
    {
      case: "no router",
      routing: "    {}",
      problem: "rollouts/reviews.yaml:9:5: spec.trafficRouting: expected a router: istio: { virtualService: ... } or gatewayAPI: { httpRoute: ... }",
    },
    {
      case: "an HTTPRoute rule listed twice",
      routing: "    gatewayAPI:\n      httpRoute: { name: reviews, rules: [primary, primary] }",
      problem: 'rollouts/reviews.yaml:10:52: spec.trafficRouting.gatewayAPI.httpRoute.rules[1]: rule "primary" is listed twice',
    },
    {
      case: "an HTTPRoute without a name",
      routing: "    gatewayAPI:\n      httpRoute: { rules: [primary] }",
      problem: 'rollouts/reviews.yaml:10:18: spec.trafficRouting.gatewayAPI.httpRoute: missing required field "name"',
    },
  ])("reports a wrong router reference ($case) at its file:line", async ({ routing, problem }) => {
    tree({ "rollouts/reviews.yaml": rollout("reviews").replace("    istio:\n      virtualService: { name: reviews }", routing) });
    const { code, stderr } = await run(["rollouts"]);
    expect({ code, stderr }).toEqual({ code: 1, stderr: `${problem}\n` });
  });

  it("reports the second of two Rollouts naming the same VirtualService route at its virtualService field, naming the first", async () => {
    tree({ "rollouts/reviews.yaml": rollout("reviews"), "rollouts/shadow.yaml": rollout("shadow").replace("virtualService: { name: shadow }", "virtualService: { name: reviews }") });
    expect(await run(["rollouts"])).toEqual({
      code: 1,
      stdout: "2 files, 1 Rollout, 1 problem\n",
      stderr:
        "rollouts/shadow.yaml:10:23: spec.trafficRouting.istio.virtualService: VirtualService reviews is already managed by Rollout default/reviews (rollouts/reviews.yaml:10), and a Rollout that lists no routes may manage any of its routes: list distinct routes in both\n",
    });
  });

  it("reports a duplicate Rollout across the paths given, and a path that does not exist", async () => {
    tree({ "a/reviews.yaml": rollout("reviews"), "b/reviews.yaml": rollout("reviews") });
    const result = await run(["a", "b", "a/reviews.yaml", "missing.yaml"]);
    expect(result.stderr).toBe(
      ["missing.yaml:1:1: no such file or directory", 'b/reviews.yaml:4:9: metadata.name: Rollout "reviews" in namespace "default" is already defined at a/reviews.yaml:4', ""].join("\n"),
    );
    expect(result.stdout).toBe("2 files, 1 Rollout, 2 problems\n");
    expect(result.code).toBe(1);
  });

  it("runs as `tideway validate` from the command line", () => {
    tree({ "good.yaml": rollout("reviews"), "bad.yaml": rollout("ratings", 150) });
    const cli = (dir: string) => spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "validate", dir], { encoding: "utf8" });
    const failing = cli(scratch);
    expect(failing.status).toBe(1);
    expect(failing.stderr).toBe(`${path.join(scratch, "bad.yaml")}:12:18: spec.steps[0].setWeight: expected an integer from 0 to 100, found 150\n`);
    expect(failing.stdout).toBe("2 files, 1 Rollout, 1 problem\n");
    rmSync(path.join(scratch, "bad.yaml"));
    const passing = cli(scratch);
    expect([passing.status, passing.stdout, passing.stderr]).toEqual([0, "1 file, 1 Rollout, 0 problems\n", ""]);
  });
});

describe("tideway validate and workloads", () => {
  const withWorkload = (labels: string) => `${rollout("reviews")}  workload:
    template:
      metadata:
        labels: ${labels}
      spec:
        containers: [{ name: reviews, image: "example.com/reviews:{{ version }}" }]
`;

  it("warns at the pod labels when none carries {{ version }}, naming the fix, and exits 0", async () => {
    tree({ "reviews.yaml": withWorkload("{ app: reviews }") });
    expect(await run([])).toEqual({
      code: 0,
      stdout: "1 file, 1 Rollout, 0 problems, 1 warning\n",
      stderr:
        'reviews.yaml:16:17: warning: spec.workload.template.metadata.labels: no pod label carries "{{ version }}": Istio\'s telemetry and the built-in metrics cannot tell the versions apart; add version: "{{ version }}" to spec.workload.template.metadata.labels\n',
    });
  });

  it("says nothing when a pod label carries {{ version }}", async () => {
    tree({ "reviews.yaml": withWorkload('{ app: reviews, version: "{{ version }}" }') });
    expect(await run([])).toEqual({ code: 0, stdout: "1 file, 1 Rollout, 0 problems\n", stderr: "" });
  });
});

describe("tideway validate and the scrape interval", () => {
  /** A valid Rollout whose third metric's range is [10s], and whose fourth uses [{{ interval }}] at `interval`. */
  const withQueries = (interval: string) => `${rollout("reviews")}  analysis:
    interval: ${interval}
    metrics:
      - name: success-rate
      - name: latency-p99
      - name: checkout-errors
        query: sum(rate(checkout_errors_total{version="{{ version }}"}[10s]))
        max: 0.5
      - name: queue-depth
        query: |
          max(avg_over_time(queue_depth{version="{{ version }}"}[{{ interval }}]))
        max: 100
`;

  it("warns, naming file:line, the field and the fix, and exits 0 when there are only warnings", async () => {
    tree({ "reviews.yaml": withQueries("5s") });
    expect(await run([])).toEqual({
      code: 0,
      stdout: "1 file, 1 Rollout, 0 problems, 2 warnings\n",
      stderr: [
        "reviews.yaml:19:16: warning: spec.analysis.metrics[2].query: the range [10s] covers fewer than 2 scrapes at a 15s scrape interval; use at least [30s] (4 scrapes: [1m])",
        "reviews.yaml:22:16: warning: spec.analysis.metrics[3].query: the range [{{ interval }}] (the analysis interval, 5s) covers fewer than 2 scrapes at a 15s scrape interval; write at least [30s] instead (4 scrapes: [1m]), or a longer spec.analysis.interval",
        "",
      ].join("\n"),
    });
  });

  it("judges the ranges against the scrape interval given", async () => {
    tree({ "reviews.yaml": withQueries("5s") });
    const io = { cwd: scratch, stdout: () => undefined, stderr: () => undefined };
    expect(await validate([], io, { scrapeIntervalMs: 2_000 })).toBe(0);
    let stderr = "";
    await validate([], { ...io, stderr: (text) => (stderr += text) }, { scrapeIntervalMs: 1_000 });
    expect(stderr).toBe("");
    await validate([], { ...io, stderr: (text) => (stderr += text) }, { scrapeIntervalMs: 30_000 });
    expect(stderr.match(/warning/g)).toHaveLength(2);
    expect(stderr).toContain("use at least [1m] (4 scrapes: [2m])");
  });

  it("still exits 1 for a problem next to a warning", async () => {
    tree({ "reviews.yaml": withQueries("5s"), "bad.yaml": rollout("ratings", 150) });
    const result = await run([]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("2 files, 1 Rollout, 1 problem, 2 warnings\n");
  });

  it("takes --scrape-interval on the command line, and refuses one that is not a duration", () => {
    tree({ "reviews.yaml": withQueries("5s") });
    const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "validate", scratch, ...args], { encoding: "utf8" });
    const quiet = cli("--scrape-interval", "1s");
    expect([quiet.status, quiet.stdout, quiet.stderr]).toEqual([0, "1 file, 1 Rollout, 0 problems\n", ""]);
    const warned = cli();
    expect([warned.status, warned.stdout]).toEqual([0, "1 file, 1 Rollout, 0 problems, 2 warnings\n"]);
    const bad = cli("--scrape-interval", "often");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--scrape-interval: expected a duration such as "15s" or "1m", found "often"');
  });
});

describe("reading the Rollout files of a tree", () => {
  it("walks directories for YAML files in name order, skipping dot-directories and node_modules", async () => {
    tree({
      "b.yaml": "b",
      "a/nested/c.yml": "c",
      "a/notes.txt": "not read",
      ".github/workflow.yaml": "skipped",
      "node_modules/pkg/x.yaml": "skipped",
      ".hidden.yaml": "read: only directories starting with a dot are skipped",
    });
    const { files, problems } = await readRolloutTree(scratch);
    expect(problems).toEqual([]);
    expect(files.map((f) => f.path)).toEqual([".hidden.yaml", "a/nested/c.yml", "b.yaml"]);
    expect(files.find((f) => f.path === "b.yaml")?.text).toBe("b");
  });

  it.each([
    ["rollouts/reviews.yaml", true],
    ["reviews.YML", true],
    [".hidden.yaml", true],
    ["rollouts/notes.txt", false],
    [".github/workflows/ci.yaml", false],
    ["web/node_modules/pkg/x.yaml", false],
  ])("walks %s: %s", (file, walked) => {
    expect(isRolloutFilePath(file)).toBe(walked);
  });

  it("reads a file given by path whatever its name, and names paths relative to the root", async () => {
    tree({ "rollouts/reviews.txt": "x: 1", "rollouts/a.yaml": "a" });
    const { files } = await readRolloutTree(scratch, ["rollouts/reviews.txt", "rollouts"]);
    expect(files.map((f) => f.path)).toEqual(["rollouts/reviews.txt", "rollouts/a.yaml"]);
  });

  it("refuses files over the size limit without reading them", async () => {
    tree({ "big.yaml": "x".repeat(2_000), "small.yaml": "x" });
    const { files, problems } = await readRolloutTree(scratch, ["."], { maxFileBytes: 1_000 });
    expect(files.map((f) => f.path)).toEqual(["small.yaml"]);
    expect(problems).toEqual([{ file: "big.yaml", line: 1, column: 1, path: "", message: "file is 2000 bytes; the limit is 1000" }]);
  });

  it.each([
    ["a symlink to a file outside", { "leak.yaml": { link: "/etc/hostname" } }, "leak.yaml", "symlink points outside the repository"],
    ["a symlink to a directory outside", { etc: { link: "/etc" } }, "etc", "symlink points outside the repository"],
    ["a symlink to nothing", { "gone.yaml": { link: "nowhere.yaml" } }, "gone.yaml", "symlink points to nothing"],
    ["a file that is not UTF-8", { "latin1.yaml": Uint8Array.from(Buffer.from("name: caf\xe9", "latin1")) }, "latin1.yaml", "file is not valid UTF-8 text"],
  ] as const)("reports %s", async (_, files, file, message) => {
    tree(files);
    const result = await readRolloutTree(scratch);
    expect(result).toEqual({ files: [], problems: [{ file, line: 1, column: 1, path: "", message }] });
  });

  it("reads a symlink to a file inside the tree once, under the first name found", async () => {
    tree({ "a.yaml": "a", "z/alias.yaml": { link: "../a.yaml" }, "linked-dir": { link: "z" } });
    const { files, problems } = await readRolloutTree(scratch);
    expect(problems).toEqual([]);
    expect(files.map((f) => f.path)).toEqual(["a.yaml"]);
  });

  it("refuses a path outside the root, and a given path that is not a regular file", async () => {
    execFileSync("mkfifo", [path.join(scratch, "pipe.yaml")]);
    const { problems } = await readRolloutTree(scratch, ["../elsewhere", "pipe.yaml"]);
    expect(problems.map((p) => `${p.file}: ${p.message}`)).toEqual(["../elsewhere: path is outside the repository", "pipe.yaml: not a regular file"]);
    expect((await readRolloutTree(scratch)).problems).toEqual([]);
  });
});
