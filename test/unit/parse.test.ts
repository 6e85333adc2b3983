import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseRolloutFile, parseRolloutFiles, refuseDuplicates } from "../../src/rollout/parse.js";
import { formatProblem, type Problem } from "../../src/rollout/problem.js";
import { allowedKeys, describeIssue, describeValue, explainIssues } from "../../src/rollout/parse-messages.js";

/** The Rollout of DESIGN.md, as a user would commit it. */
const DESIGN_SAMPLE = `apiVersion: tideway.io/v1alpha1
kind: Rollout
metadata: { name: reviews, namespace: bookinfo }
spec:
  service: reviews                # mesh host, used by destinations and metric templates
  version: v2                     # the release: a new value committed to git starts a canary
  trafficRouting:
    istio:
      virtualService: { name: reviews, routes: [primary] }   # routes optional if the VS has one route
      subset: "{{ version }}"     # destination per version: a DestinationRule subset, or host: "reviews-{{ version }}"
  steps:                          # Argo-style, familiar to users
    - setWeight: 10
    - pause: 1m                   # bake time; analysis runs during every pause
    - setHeaderRoute: { headers: { x-canary: { exact: "true" } } }   # A/B: matched requests go to the canary
    - setWeight: 50
    - pause: {}                   # manual gate: waits for a promote
  analysis:
    interval: 15s
    failureLimit: 1
    inconclusiveLimit: 3
    onInconclusive: rollback      # or pause
    metrics:
      - name: success-rate        # built-in template for Istio telemetry (istio_requests_total)
        min: 0.99
      - name: latency-p99         # built-in (istio_request_duration_milliseconds)
        max: 500
      - name: checkout-errors     # custom PromQL template
        query: sum(rate(checkout_errors_total{version="{{ version }}"}[1m]))
        max: 0.5
  notifications:
    slack: { channel: "#deploys" }
`;

const rollout = (name: string, extra = "") => `apiVersion: tideway.io/v1alpha1
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
    - setWeight: 10
${extra}`;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v2
spec:
  replicas: 2
`;

const messages = (problems: Problem[]) => problems.map(formatProblem);

describe("parsing Rollout files", () => {
  it("accepts the Rollout of DESIGN.md as it is", () => {
    const { rollouts, problems } = parseRolloutFile("rollouts/reviews.yaml", DESIGN_SAMPLE);
    expect(problems).toEqual([]);
    expect(rollouts).toHaveLength(1);
    const [parsed] = rollouts;
    expect(parsed).toMatchObject({ file: "rollouts/reviews.yaml", line: 1, column: 1 });
    expect(parsed?.rollout).toMatchObject({ name: "reviews", namespace: "bookinfo" });
    expect(parsed?.rollout.spec.steps).toEqual([{ setWeight: 10 }, { pause: "1m" }, { setHeaderRoute: { headers: { "x-canary": { exact: "true" } } } }, { setWeight: 50 }, { pause: {} }]);
    expect(parsed?.rollout.spec.analysis?.metrics.map((m) => m.name)).toEqual(["success-rate", "latency-p99", "checkout-errors"]);
    expect(parsed?.rollout.spec.notifications).toEqual({ slack: { channel: "#deploys" } });
  });

  it("reads every Rollout of a multi-document file and skips the Deployment between them", () => {
    const text = `${rollout("reviews")}---\n${DEPLOYMENT}---\n${rollout("ratings")}`;
    const { rollouts, problems } = parseRolloutFile("rollouts/bookinfo.yaml", text);
    expect(problems).toEqual([]);
    expect(rollouts.map((r) => [r.rollout.name, r.line, r.column])).toEqual([
      ["reviews", 1, 1],
      ["ratings", 21, 1],
    ]);
  });

  it("applies the defaults: namespace default, analysis every 15s, limits, pause when unsure", () => {
    const text = rollout("reviews", "  analysis:\n    metrics:\n      - name: success-rate\n");
    const [parsed] = parseRolloutFile("r.yaml", text).rollouts;
    expect(parsed?.rollout.namespace).toBe("default");
    expect(parsed?.rollout.spec.analysis).toEqual({
      interval: "15s",
      failureLimit: 0,
      inconclusiveLimit: 3,
      errorLimit: 3,
      onInconclusive: "pause",
      onError: "pause",
      minRequests: 20,
      metrics: [{ name: "success-rate" }],
    });
  });

  it("holds the version aborted when the abort annotation is committed", () => {
    const text = rollout("reviews").replace("  name: reviews\n", '  name: reviews\n  annotations:\n    tideway.io/abort: "bad latency"\n');
    const [parsed] = parseRolloutFile("r.yaml", text).rollouts;
    expect(parsed?.rollout.heldAbort).toBe("bad latency");
    expect(parseRolloutFile("r.yaml", rollout("reviews")).rollouts[0]?.rollout).not.toHaveProperty("heldAbort");
  });

  it("accepts anchors and aliases used with restraint", () => {
    const text = rollout("reviews", "    - pause: &bake 5m\n    - setWeight: 50\n    - pause: *bake\n");
    const { rollouts, problems } = parseRolloutFile("r.yaml", text);
    expect(problems).toEqual([]);
    expect(rollouts[0]?.rollout.spec.steps.at(-1)).toEqual({ pause: "5m" });
  });

  const skipped: [string, string][] = [
    ["an empty file", ""],
    ["a file of comments and empty documents", "# nothing here\n---\n---\n...\n"],
    ["a Deployment", DEPLOYMENT],
    ["an Argo Rollout of the same kind name", "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: { name: reviews }\nspec: { replicas: 2 }\n"],
    ["another kind of Tideway's group", "apiVersion: tideway.io/v1alpha1\nkind: MetricTemplate\nmetadata: { name: errors }\n"],
    ["a document that is a list", "- apiVersion: tideway.io/v1alpha1\n- kind: Rollout\n"],
    ["a broken Helm template that is not a Rollout", "apiVersion: v1\nkind: ConfigMap\ndata:\n  {{ .Values.data }}: x: y\n"],
  ];
  it.each(skipped)("skips %s without a problem", (_, text) => {
    expect(parseRolloutFile("other.yaml", text)).toEqual({ rollouts: [], problems: [] });
  });

  it("reports a syntax error in a document that names Tideway's group, once", () => {
    const text = "apiVersion: tideway.io/v1alpha1\nkind: Rollout\nmetadata: { name: reviews\nspec:\n  a: b: c\n";
    expect(messages(parseRolloutFile("r.yaml", text).problems)).toEqual(["r.yaml:3:11: Flow map in block collection must be sufficiently indented and end with a }"]);
  });

  it("keeps checking the other documents of a file when one is broken", () => {
    const text = `${rollout("reviews", "    - setWeight: 150\n")}---\n${rollout("ratings")}`;
    const { rollouts, problems } = parseRolloutFile("r.yaml", text);
    expect(messages(problems)).toEqual(["r.yaml:13:18: spec.steps[1].setWeight: expected an integer from 0 to 100, found 150"]);
    expect(rollouts.map((r) => r.rollout.name)).toEqual(["ratings"]);
  });

  it("judges each step on its own: a broken step does not hide a problem in another", () => {
    const text = rollout("reviews", "    - setWeight: high\n    - { setWeight: 20, pause: 1m }\n    - setHeaderRoute: { name: Beta, headers: {} }\n");
    expect(messages(parseRolloutFile("r.yaml", text).problems)).toEqual([
      'r.yaml:13:18: spec.steps[1].setWeight: expected an integer from 0 to 100, found a string ("high")',
      "r.yaml:14:7: spec.steps[2]: expected exactly one of setWeight, pause, setHeaderRoute or setMirrorRoute in a step, found setWeight and pause",
      'r.yaml:15:31: spec.steps[3].setHeaderRoute.name: expected a route name: lower-case letters, digits and "-", starting and ending with a letter or digit, found "Beta"',
    ]);
  });

  it("points at the alias whose anchor is missing, not at the ones that resolve", () => {
    const text = rollout("reviews", "    - pause: &bake 5m\n    - pause: *bake\n    - pause: *soak\n");
    expect(messages(parseRolloutFile("r.yaml", text).problems)).toEqual(["r.yaml:15:14: Unresolved alias (the anchor must be set before the alias): soak"]);
  });

  it("reports every problem of a document, in the order of the file", () => {
    const text = rollout("reviews", "    - setWeight: 150\n    - pause: soon\n").replace("  version: v2\n", "  version: 2\n");
    expect(messages(parseRolloutFile("r.yaml", text).problems)).toEqual([
      'r.yaml:7:12: spec.version: expected a string, found the number 2: quote it, e.g. version: "2"',
      "r.yaml:13:18: spec.steps[1].setWeight: expected an integer from 0 to 100, found 150",
      'r.yaml:14:14: spec.steps[2].pause: expected a duration such as "30s", "1m" or "1h30m", found "soon"',
    ]);
  });

  it("reports a field and a key that do not fit the path syntax with quotes", () => {
    const text = rollout("reviews").replace("  name: reviews\n", '  name: reviews\n  labels:\n    app.kubernetes.io/name: 3\n    "a b": ok\n  "odd key": 1\n');
    expect(messages(parseRolloutFile("r.yaml", text).problems)).toEqual([
      'r.yaml:6:29: metadata.labels["app.kubernetes.io/name"]: expected a string, found a number (3)',
      'r.yaml:8:3: metadata: unknown field "odd key"; expected one of name, namespace, labels, annotations',
    ]);
  });

  it("points at the key when a field is left empty", () => {
    const text = rollout("reviews").replace("  version: v2\n", "  version:\n");
    expect(messages(parseRolloutFile("r.yaml", text).problems)).toEqual(["r.yaml:7:3: spec.version: expected a string, found null"]);
  });

  it("reports a map where a list of steps was expected, and a too-long string briefly", () => {
    const long = "v".repeat(70);
    const text = rollout("reviews").replace("  version: v2\n", `  version: ${long}\n`);
    expect(messages(parseRolloutFile("r.yaml", text).problems)).toEqual(["r.yaml:7:12: spec.version: expected at most 63 characters, found 70 characters"]);
    const steps = rollout("reviews").replace("    - setWeight: 10\n", "    setWeight: 10\n");
    expect(messages(parseRolloutFile("r.yaml", steps).problems)).toEqual(["r.yaml:12:5: spec.steps: expected a list, found a map"]);
  });
});

describe("which Rollout a problem belongs to", () => {
  it("is named when the document's name and namespace are valid", () => {
    const text = rollout("reviews", "    - setWeight: 150\n").replace("  name: reviews\n", "  name: reviews\n  namespace: bookinfo\n");
    expect(parseRolloutFile("r.yaml", text).problems[0]?.rollout).toEqual({ name: "reviews", namespace: "bookinfo" });
  });

  it("is in the default namespace when none is given", () => {
    expect(parseRolloutFile("r.yaml", rollout("reviews", "    - setWeight: 150\n")).problems[0]?.rollout).toEqual({ name: "reviews", namespace: "default" });
  });

  it("is named for a syntax error when the name could be read", () => {
    const text = rollout("reviews", "    - setWeight: [10\n");
    expect(parseRolloutFile("r.yaml", text).problems[0]?.rollout).toEqual({ name: "reviews", namespace: "default" });
  });

  it.each([
    ["the name is not a valid name", rollout("Reviews_2")],
    ["the namespace is not a valid name", rollout("reviews").replace("  name: reviews\n", "  name: reviews\n  namespace: Book_Info\n")],
    ["metadata is not a map", rollout("reviews").replace("metadata:\n  name: reviews\n", "metadata: reviews\n")],
    ["the document is a broken list", "- apiVersion: tideway.io/v1alpha1\n- [unclosed\n"],
  ])("is not named when %s", (_, text) => {
    const { problems } = parseRolloutFile("r.yaml", text);
    expect(problems).not.toEqual([]);
    for (const problem of problems) expect(problem).not.toHaveProperty("rollout");
  });
});

describe("Rollouts defined more than once", () => {
  it("keeps the first definition and reports the second, across files", () => {
    const { rollouts, problems } = parseRolloutFiles([
      { path: "a.yaml", text: rollout("reviews") },
      { path: "b.yaml", text: `${DEPLOYMENT}---\n${rollout("reviews")}` },
    ]);
    expect(rollouts.map((r) => r.file)).toEqual(["a.yaml"]);
    expect(messages(problems)).toEqual(['b.yaml:11:9: metadata.name: Rollout "reviews" in namespace "default" is already defined at a.yaml:4']);
  });

  it("counts a missing namespace as the default namespace", () => {
    const explicit = rollout("reviews").replace("  name: reviews\n", "  name: reviews\n  namespace: default\n");
    const { problems } = parseRolloutFiles([{ path: "a.yaml", text: `${rollout("reviews")}---\n${explicit}` }]);
    expect(messages(problems)).toEqual(['a.yaml:17:9: metadata.name: Rollout "reviews" in namespace "default" is already defined at a.yaml:4']);
  });

  it("allows the same name in two namespaces", () => {
    const other = rollout("reviews").replace("  name: reviews\n", "  name: reviews\n  namespace: staging\n");
    const { rollouts, problems } = parseRolloutFiles([
      { path: "a.yaml", text: rollout("reviews") },
      { path: "b.yaml", text: other },
    ]);
    expect(problems).toEqual([]);
    expect(rollouts.map((r) => `${r.rollout.namespace}/${r.rollout.name}`)).toEqual(["default/reviews", "staging/reviews"]);
  });

  it("can be checked over Rollouts parsed earlier, one file at a time", () => {
    const cached = [...parseRolloutFile("b.yaml", `${DEPLOYMENT}---\n${rollout("reviews")}`).rollouts, ...parseRolloutFile("a.yaml", rollout("reviews")).rollouts];
    expect(messages(refuseDuplicates(cached).problems)).toEqual(['a.yaml:4:9: metadata.name: Rollout "reviews" in namespace "default" is already defined at b.yaml:11']);
    const withoutNamePositions = cached.map((parsed) => ({ ...parsed, namePosition: undefined }));
    expect(messages(refuseDuplicates(withoutNamePositions).problems)).toEqual(['a.yaml:1:1: metadata.name: Rollout "reviews" in namespace "default" is already defined at b.yaml:8']);
  });

  it("passes the problems of each file through", () => {
    const { problems } = parseRolloutFiles([{ path: "a.yaml", text: rollout("reviews", "    - setWeight: 150\n") }], { maxDocumentBytes: 100 });
    expect(messages(problems)).toEqual([`a.yaml:1:1: document is ${rollout("reviews", "    - setWeight: 150\n").length} bytes; the limit is 100`]);
  });
});

describe("hostile YAML", () => {
  it("refuses thousands of nested brackets before the YAML parser sees them", () => {
    const text = `${rollout("reviews")}---\nbomb: ${"[".repeat(200_000)}\n---\n${rollout("ratings", "    - setWeight: 150\n")}`;
    const { rollouts, problems } = parseRolloutFile("r.yaml", text);
    expect(messages(problems)).toEqual(["r.yaml:13:1: document nests deeper than 64 levels", "r.yaml:28:18: spec.steps[1].setWeight: expected an integer from 0 to 100, found 150"]);
    expect(rollouts.map((r) => r.rollout.name)).toEqual(["reviews"]);
  });

  it("counts bytes, not characters, against the size limit", () => {
    const text = rollout("reviews", `# ${"😀".repeat(10)}\n`);
    const bytes = new TextEncoder().encode(text).length;
    expect(messages(parseRolloutFile("r.yaml", text, { maxDocumentBytes: bytes - 1 }).problems)).toEqual([`r.yaml:1:1: document is ${bytes} bytes; the limit is ${bytes - 1}`]);
    expect(parseRolloutFile("r.yaml", text, { maxDocumentBytes: bytes }).problems).toEqual([]);
  });
});

describe("messages for schemas that have none of their own", () => {
  /** What the parser would say about `input` against `schema`, as "path: message". */
  const explain = (schema: z.ZodType, input: unknown) => {
    const result = schema.safeParse(input, { error: describeIssue, reportInput: true });
    return result.success ? [] : explainIssues(result.error.issues, schema).map((p) => `${p.path.join(".")}: ${p.message}`);
  };

  const cases: [string, z.ZodType, unknown, string[]][] = [
    ["a number with only a maximum", z.strictObject({ n: z.number().max(5) }), { n: 9 }, ["n: expected a number of at most 5, found 9"]],
    ["a number with only a minimum", z.strictObject({ n: z.number().min(1) }), { n: 0 }, ["n: expected a number of at least 1, found 0"]],
    ["a string of a minimum length", z.strictObject({ s: z.string().min(3) }), { s: "ab" }, ['s: expected at least 3 characters, found "ab"']],
    ["a list of one at most", z.strictObject({ l: z.array(z.string()).max(1) }), { l: ["a", "b"] }, ["l: expected at most 1 item, found 2 items"]],
    ["a pattern", z.strictObject({ s: z.string().regex(/^v\d+$/) }), { s: "two" }, ['s: expected a string matching /^v\\d+$/, found "two"']],
    ["a format", z.strictObject({ s: z.email() }), { s: "nobody" }, ['s: expected a valid email, found "nobody"']],
    ["a single literal", z.strictObject({ k: z.literal("Rollout") }), { k: 3 }, ['k: expected "Rollout", found a number (3)']],
    ["a union of scalars", z.strictObject({ u: z.union([z.string(), z.number()]) }), { u: true }, ["u: expected a string or a number, found a boolean (true)"]],
    [
      "a union of maps matching none",
      z.strictObject({ u: z.union([z.strictObject({ a: z.string() }), z.strictObject({ b: z.string() })]) }),
      { u: { c: "x" } },
      ["u: expected one of the allowed forms, found a map"],
    ],
    ["a boolean", z.strictObject({ b: z.boolean() }), { b: "yes" }, ['b: expected a boolean, found a string ("yes")']],
    ["a long string, shortened", z.strictObject({ n: z.number() }), { n: "x".repeat(80) }, [`n: expected a number, found a string ("${"x".repeat(60)}…")`]],
  ];
  it.each(cases)("describes %s", (_, schema, input, expected) => {
    expect(explain(schema, input)).toEqual(expected);
  });

  it.each([
    [undefined, "nothing"],
    [null, "null"],
    [[1], "a list"],
    [{}, "a map"],
    [10n, "bigint"],
  ])("describes the value %s as %s", (value, description) => {
    expect(describeValue(value)).toBe(description);
  });

  it("suggests no keys where the schema has no map", () => {
    expect(allowedKeys(z.union([z.string(), z.number()]), [])).toEqual([]);
    expect(allowedKeys(z.strictObject({ a: z.string() }), ["a", "b"])).toEqual([]);
  });
});
