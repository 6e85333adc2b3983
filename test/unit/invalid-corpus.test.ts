import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseRolloutFile, parseRolloutFiles } from "../../src/rollout/parse.js";
import { formatProblem } from "../../src/rollout/problem.js";

/**
 * Every file in fixtures/invalid is a small, realistic Rollout with one mistake. Its first lines
 * say what must be reported, exactly and nothing more: `# expect: <line>:<col>: [<path>: ]<message>`.
 */
const directory = new URL("./fixtures/invalid/", import.meta.url);
const fixtures = readdirSync(directory)
  .filter((name) => name.endsWith(".yaml"))
  .sort()
  .map((name) => {
    const text = readFileSync(new URL(name, directory), "utf8");
    const expected = [...text.matchAll(/^# expect: (.*)$/gm)].map((match) => `${name}:${match[1] ?? ""}`);
    return { name, text, expected };
  });

const validRollout = (name: string, extra = "") => `apiVersion: tideway.io/v1alpha1
kind: Rollout
metadata:
  name: ${name}
  namespace: bookinfo
spec:
  service: reviews
  version: v2
  trafficRouting:
    istio:
      virtualService: { name: reviews }
  steps:
    - setWeight: 10
${extra}`;

describe("the invalid Rollout corpus", () => {
  it("has a broad corpus, every file with an expectation", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(55);
    for (const fixture of fixtures) expect(fixture.expected, fixture.name).not.toEqual([]);
  });

  it.each(fixtures)("reports exactly what $name expects", ({ name, text, expected }) => {
    const { problems, rollouts } = parseRolloutFile(name, text);
    expect(problems.map(formatProblem)).toEqual(expected);
    // Only the one multi-document fixture has a second, valid Rollout.
    expect(rollouts.map((r) => r.rollout.name)).toEqual(name.startsWith("multi-document") ? ["ratings"] : []);
  });
});

describe("invalid input made up in the test", () => {
  const cases: { name: string; text: string; expected: string[]; options?: Parameters<typeof parseRolloutFile>[2] }[] = [
    {
      name: "a document over 256 KiB, refused unparsed",
      text: `${validRollout("huge")}# ${"x".repeat(262_144)}\n`,
      expected: ["big.yaml:1:1: document is 262375 bytes; the limit is 262144"],
    },
    {
      name: "an oversized second document, the first still checked at its own lines",
      text: `${validRollout("first", "    - setWeight: 150\n")}---\n# ${"é".repeat(200)}\n`,
      expected: ["big.yaml:14:18: spec.steps[1].setWeight: expected an integer from 0 to 100, found 150", "big.yaml:15:1: document is 407 bytes; the limit is 400"],
      options: { maxDocumentBytes: 400 },
    },
    {
      name: "more than 100 steps",
      text: validRollout("long", "    - pause: 1s\n".repeat(100)),
      expected: ["big.yaml:13:5: spec.steps: expected at most 100 items, found 101 items"],
    },
    {
      name: "more YAML nodes than allowed",
      text: validRollout("nodes"),
      expected: ["big.yaml:1:1: document has 30 YAML nodes; the limit is 29"],
      options: { maxNodes: 29 },
    },
    {
      name: "block nesting deeper than allowed",
      text: validRollout("deep"),
      expected: ["big.yaml:1:1: document nests deeper than 5 levels"],
      options: { maxDepth: 5 },
    },
    {
      name: "aliases expanded more often than allowed",
      text: validRollout("aliases", "    - &step { setWeight: 20 }\n    - *step\n    - *step\n"),
      expected: ["big.yaml:1:1: too many alias expansions; the limit is 1"],
      options: { maxAliasCount: 1 },
    },
  ];

  it.each(cases)("reports $name", ({ text, expected, options }) => {
    expect(parseRolloutFile("big.yaml", text, options).problems.map(formatProblem)).toEqual(expected);
  });

  it("reports a Rollout defined in two files at the second one's name, naming the first", () => {
    const { problems, rollouts } = parseRolloutFiles([
      { path: "rollouts/reviews.yaml", text: validRollout("reviews") },
      { path: "rollouts/copy.yaml", text: `# a copy\n${validRollout("reviews")}` },
    ]);
    expect(problems.map(formatProblem)).toEqual(['rollouts/copy.yaml:5:9: metadata.name: Rollout "reviews" in namespace "bookinfo" is already defined at rollouts/reviews.yaml:4']);
    expect(problems[0]?.rollout).toEqual({ name: "reviews", namespace: "bookinfo" });
    expect(rollouts.map((r) => r.file)).toEqual(["rollouts/reviews.yaml"]);
  });
});
