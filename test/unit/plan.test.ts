import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatPlan, planRelease, type PlanLine } from "../../src/cli/plan.js";
import { RolloutSpecSchema, type RolloutSpecInput } from "../../src/rollout/schema.js";

const withAnalysis = { interval: "15s", metrics: [{ name: "success-rate", min: 0.99 }] };

function spec(steps: RolloutSpecInput["steps"], analysis?: RolloutSpecInput["analysis"]) {
  return RolloutSpecSchema.parse({
    service: "reviews",
    version: "v2",
    trafficRouting: { istio: { virtualService: { name: "reviews" } } },
    steps,
    ...(analysis ? { analysis } : {}),
  });
}

/** [step, weight, minimum] per line: the part of a plan a user reads first. */
const summary = (lines: PlanLine[]) => lines.map((l) => [l.step ?? "final", `${l.canaryWeight}%${l.headerRoute ? "+h" : ""}`, l.minimumMs ?? "promote"]);

describe("planRelease", () => {
  it.each([
    {
      name: "takes exactly the pauses when there is no analysis, with no final check",
      spec: spec([{ setWeight: 20 }, { pause: "30s" }, { setWeight: 100 }]),
      expected: [
        [1, "20%", 0],
        [2, "20%", 30_000],
        [3, "100%", 0],
      ],
    },
    {
      name: "makes a pause shorter than the interval wait for the first check",
      spec: spec([{ setWeight: 10 }, { pause: "5s" }], withAnalysis),
      expected: [
        [1, "10%", 0],
        [2, "10%", 15_000],
      ],
    },
    {
      name: "keeps a pause longer than the interval as it is",
      spec: spec([{ setWeight: 10 }, { pause: { duration: "1m30s" } }], withAnalysis),
      expected: [
        [1, "10%", 0],
        [2, "10%", 90_000],
      ],
    },
    {
      name: "adds one final check at the last weight when the steps do not end with a pause",
      spec: spec([{ setWeight: 10 }, { pause: "1m" }, { setWeight: 50 }, { pause: "1m" }, { setWeight: 100 }], withAnalysis),
      expected: [
        [1, "10%", 0],
        [2, "10%", 60_000],
        [3, "50%", 0],
        [4, "50%", 60_000],
        [5, "100%", 0],
        ["final", "100%", 15_000],
      ],
    },
    {
      name: "uses the default 15s interval when analysis leaves it out",
      spec: spec([{ setWeight: 50 }], { metrics: [{ name: "latency-p99", max: 500 }] }),
      expected: [
        [1, "50%", 0],
        ["final", "50%", 15_000],
      ],
    },
    {
      name: "keeps the header route on from its step to the end, without changing the weight",
      spec: spec([{ setWeight: 10 }, { setHeaderRoute: { headers: { "x-canary": { exact: "true" } } } }, { setWeight: 50 }]),
      expected: [
        [1, "10%", 0],
        [2, "10%+h", 0],
        [3, "50%+h", 0],
      ],
    },
    {
      name: "marks a manual gate as waiting for a promote",
      spec: spec([{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }], withAnalysis),
      expected: [
        [1, "10%", 0],
        [2, "10%", "promote"],
        [3, "100%", 0],
        ["final", "100%", 15_000],
      ],
    },
  ])("$name", ({ spec, expected }) => {
    expect(summary(planRelease(spec))).toEqual(expected);
  });

  it("says what each step does in words", () => {
    const lines = planRelease(spec([{ setWeight: 10 }, { pause: "1m" }, { setHeaderRoute: { headers: { "x-canary": { exact: "true" }, "x-user": { prefix: "qa-" } } } }, { pause: {} }], withAnalysis));
    expect(lines.map((l) => l.action)).toEqual([
      "send 10% of traffic to the canary",
      "pause 1m, checked every 15s",
      'send requests with x-canary: "true" and x-user starting with "qa-" to the canary',
      "wait for a manual promote, checked every 15s",
    ]);
  });
});

describe("formatPlan", () => {
  it.each([
    ["without a gate", spec([{ setWeight: 10 }, { pause: "1m" }, { setWeight: 50 }, { pause: "1m" }, { setWeight: 100 }], withAnalysis), "minimum time to promote: 2m15s"],
    ["without analysis or pauses", spec([{ setWeight: 100 }]), "minimum time to promote: 0s"],
    ["with one gate", spec([{ setWeight: 10 }, { pause: "1m" }, { pause: {} }]), "waits for a manual promote at step 3; the other steps take at least 1m"],
    ["with three gates", spec([{ pause: {} }, { setWeight: 10 }, { pause: {} }, { pause: {} }]), "waits for a manual promote at steps 1, 3 and 4; the other steps take at least 0s"],
  ])("ends %s with the least time to promotion", (_case, rollout, last) => {
    const text = formatPlan("bookinfo/reviews v2", planRelease(rollout));
    expect(text.trimEnd().split("\n").at(-1)).toBe(last);
  });

  it("aligns every column under its heading", () => {
    const text = formatPlan("bookinfo/reviews v2", planRelease(spec([{ setWeight: 5 }, { pause: "10m" }, { setWeight: 100 }], withAnalysis)));
    const [title, heading = "", ...rows] = text.trimEnd().split("\n");
    expect(title).toBe("bookinfo/reviews v2: 3 steps");
    const columns = ["ACTION", "CANARY", "TAKES AT LEAST"].map((name) => heading.indexOf(name));
    expect(rows.slice(0, -1)).toEqual([
      expect.stringMatching(/^1 +send 5% of traffic to the canary +5% +immediate$/),
      expect.stringMatching(/^2 +pause 10m, checked every 15s +5% +10m$/),
      expect.stringMatching(/^3 +send 100% of traffic to the canary +100% +immediate$/),
      expect.stringMatching(/^- +final check before promotion +100% +15s$/),
    ]);
    for (const row of rows.slice(0, -1)) {
      for (const column of columns) expect(row[column - 1]).toBe(" ");
      for (const column of columns) expect(row[column]).not.toBe(" ");
    }
  });
});

describe("tideway plan", () => {
  const run = (...args: string[]) => execFileSync(process.execPath, ["--import", "tsx", "src/main.ts", "plan", ...args], { encoding: "utf8", stdio: "pipe" });

  it("prints the plan of rollouts/reviews.yaml, which waits at its manual gate", () => {
    expect(run("rollouts/reviews.yaml")).toBe(
      [
        "bookinfo/reviews v2: 5 steps",
        "STEP  ACTION                                             CANARY              TAKES AT LEAST",
        "1     send 10% of traffic to the canary                  10%                 immediate",
        "2     pause 1m, checked every 15s                        10%                 1m",
        '3     send requests with x-canary: "true" to the canary  10% + header route  immediate',
        "4     send 50% of traffic to the canary                  50% + header route  immediate",
        "5     wait for a manual promote, checked every 15s       50% + header route  a promote",
        "waits for a manual promote at step 5; the other steps take at least 1m",
        "",
      ].join("\n"),
    );
  });

  it("prints what docs/rollout.md shows it printing", () => {
    const docs = readFileSync("docs/rollout.md", "utf8");
    expect(docs).toContain(`$ tideway plan rollouts/reviews.yaml\n${run("rollouts/reviews.yaml")}\`\`\``);
  });

  it("prints one plan per Rollout when a file holds several", () => {
    const dir = mkdtempSync(join(tmpdir(), "tideway-plan-"));
    const file = join(dir, "two.yaml");
    const rollout = (name: string, steps: string) =>
      `apiVersion: tideway.io/v1alpha1\nkind: Rollout\nmetadata: { name: ${name} }\nspec:\n  service: ${name}\n  version: v2\n  trafficRouting: { istio: { virtualService: { name: ${name} } } }\n  steps: ${steps}\n`;
    writeFileSync(file, `${rollout("reviews", "[{ setWeight: 100 }]")}---\n${rollout("ratings", "[{ setWeight: 50 }, { pause: 2m }]")}`);
    try {
      const output = run(file);
      expect(output.split("\n").filter((line) => /: \d+ steps?$/.test(line))).toEqual(["default/reviews v2: 1 step", "default/ratings v2: 2 steps"]);
      expect(output).toContain("minimum time to promote: 0s\n\ndefault/ratings v2");
      expect(output.trimEnd().endsWith("minimum time to promote: 2m")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 with file:line:column and the field when a Rollout is invalid, printing no plan", () => {
    const dir = mkdtempSync(join(tmpdir(), "tideway-plan-"));
    const file = join(dir, "reviews.yaml");
    writeFileSync(
      file,
      [
        "apiVersion: tideway.io/v1alpha1",
        "kind: Rollout",
        "metadata: { name: reviews }",
        "spec:",
        "  service: reviews",
        "  version: v2",
        "  trafficRouting: { istio: { virtualService: { name: reviews } } }",
        "  steps:",
        "    - setWeight: 150",
        "",
      ].join("\n"),
    );
    try {
      expect(() => run(file)).toThrow(
        expect.objectContaining({
          status: 1,
          stdout: "",
          stderr: expect.stringContaining(`${file}:9:18: spec.steps[0].setWeight:`),
        }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 and names the file when it cannot be read", () => {
    expect(() => run("rollouts/no-such-file.yaml")).toThrow(
      expect.objectContaining({
        status: 1,
        stderr: expect.stringMatching(/^error: cannot read rollouts\/no-such-file\.yaml: ENOENT/),
      }),
    );
  });
});
