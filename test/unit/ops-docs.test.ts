/**
 * The operations docs stay true to the code: the Grafana dashboard and the alert rules query
 * only metrics the controller exports (src/controller/metrics.ts), and the rules load.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";

const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");
const DASHBOARD = "docs/grafana-dashboard.json";
const ALERTS = "docs/prometheus-alerts.yaml";
const PROMTOOL = "/usr/bin/promtool";

/** Metric names metrics.ts defines, and which of them are histograms. */
function exportedMetrics(): { names: Set<string>; histograms: Set<string> } {
  const source = read("src/controller/metrics.ts");
  const names = new Set<string>();
  const histograms = new Set<string>();
  for (const match of source.matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name:\s*"(tideway_[a-z0-9_]+)"/g)) {
    const [, type, name] = match;
    if (!name) continue;
    names.add(name);
    if (type === "Histogram") histograms.add(name);
  }
  return { names, histograms };
}

/** Names a PromQL expression may use: the exported metrics, their histogram series, and `up`. */
function allowedNames(): Set<string> {
  const { names, histograms } = exportedMetrics();
  const allowed = new Set([...names, "up"]);
  for (const name of histograms) for (const suffix of ["_bucket", "_count", "_sum"]) allowed.add(name + suffix);
  return allowed;
}

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"]);

/** The metric names an expression selects: identifiers that are not functions, keywords, labels or strings. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values, regexes
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // range selectors, $__rate_interval
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // grouping clauses: `sum by (le) (x)` reads `sum (x)`
    .replace(/\$\w+/g, ""); // Grafana variables
  const names: string[] = [];
  for (const match of bare.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = match;
    if (!name || call || KEYWORDS.has(name.toLowerCase())) continue;
    names.push(name);
  }
  return names;
}

/** Every `expr` in the dashboard's panels, and the metric of each `label_values(metric, label)` variable. */
function dashboardQueries(dashboard: unknown): string[] {
  const found: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "expr" && typeof value === "string") found.push(value);
      else if (key === "query" && typeof value === "string" && value.startsWith("label_values(")) found.push(value.replace(/^label_values\((.*),\s*\w+\)$/, "$1"));
      else walk(value);
    }
  };
  walk(dashboard);
  return found;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function alertRules(): Rule[] {
  const file = parse(read(ALERTS)) as { groups: { name: string; rules: Rule[] }[] };
  return file.groups.flatMap((group) => group.rules);
}

const dashboard = JSON.parse(read(DASHBOARD)) as { schemaVersion: number; templating: { list: { name: string; type: string; query: unknown }[] }; panels: unknown[] };
const scratch = mkdtempSync(join(tmpdir(), "tideway-ops-docs-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the metrics the operations docs rely on", () => {
  it("are found in src/controller/metrics.ts", () => {
    const { names, histograms } = exportedMetrics();
    expect(names.size).toBeGreaterThanOrEqual(9);
    expect(histograms).toContain("tideway_reconcile_duration_seconds");
  });

  it("are told apart from functions, keywords and labels", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, kind) (rate(tideway_reconcile_duration_seconds_bucket{job=~"x"}[$__rate_interval])))')).toEqual([
      "tideway_reconcile_duration_seconds_bucket",
    ]);
    expect(metricNames('absent(up{job=~".*tideway.*"} == 1) or foo_total offset 5m')).toEqual(["up", "foo_total"]);
  });
});

describe("the Grafana dashboard", () => {
  it("is JSON with a Prometheus datasource variable and namespace and rollout variables", () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.datasource).toMatchObject({ type: "datasource", query: "prometheus" });
    expect(JSON.stringify(variables.namespace?.query)).toContain("label_values(tideway_rollout_phase, namespace)");
    expect(JSON.stringify(variables.rollout?.query)).toContain("rollout)");
    expect(JSON.stringify(dashboard.panels)).toContain("${datasource}");
  });

  it("queries only metrics the controller exports", () => {
    const allowed = allowedNames();
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThan(10);
    for (const query of queries) {
      const unknown = metricNames(query).filter((name) => !allowed.has(name));
      expect(unknown, `in ${query}`).toEqual([]);
    }
  });

  it("shows every metric the controller exports", () => {
    const used = new Set(
      dashboardQueries(dashboard)
        .flatMap(metricNames)
        .map((name) => name.replace(/_(bucket|count|sum)$/, "")),
    );
    expect([...exportedMetrics().names].filter((name) => !used.has(name))).toEqual([]);
  });
});

describe("the Prometheus alert rules", () => {
  const rules = alertRules();

  it("are alerts with an expression, a severity and a summary", () => {
    expect(rules.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining(["TidewayReleaseStuck", "TidewayReleaseRolledBack", "TidewayAnalysisErrors", "TidewayReconcileErrors", "TidewayTrafficNotApplied", "TidewayControllerDown"]),
    );
    for (const rule of rules) {
      expect(rule.expr, rule.alert).toMatch(/\S/);
      expect(rule.labels?.severity, rule.alert).toMatch(/^(critical|warning|info)$/);
      expect(rule.annotations?.summary, rule.alert).toMatch(/\S/);
      if (rule.for !== undefined) expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
    }
  });

  it("query only metrics the controller exports", () => {
    const allowed = allowedNames();
    for (const rule of rules) {
      const unknown = metricNames(rule.expr).filter((name) => !allowed.has(name));
      expect(unknown, `in ${rule.alert ?? rule.record}`).toEqual([]);
    }
  });

  // Two paths, named in the test titles so a run shows which one ran: with Debian's promtool
  // (scripts/test-deps.sh installs it with prometheus), the rules, the dashboard's PromQL and
  // the alerts' behaviour are checked by Prometheus itself; without it, only the YAML parse
  // and the checks above run.
  if (existsSync(PROMTOOL)) {
    const promtool = (...args: string[]) => execFileSync(PROMTOOL, args, { cwd: scratch, encoding: "utf8", stdio: "pipe" });

    it("pass `promtool check rules` (promtool found at /usr/bin/promtool)", () => {
      expect(() => promtool("check", "rules", new URL(ALERTS, root).pathname)).not.toThrow();
    });

    it("and the dashboard's PromQL parse (promtool, as recording rules)", () => {
      const asRules = dashboardQueries(dashboard)
        .filter((query) => !query.startsWith("tideway_rollout_phase")) // the label_values metrics
        .map((expr, index) => ({ record: `dashboard:query_${index}`, expr: expr.replaceAll("$__rate_interval", "1m").replace(/\$\w+/g, ".*") }));
      writeFileSync(join(scratch, "dashboard-rules.yaml"), stringify({ groups: [{ name: "dashboard", rules: asRules }] }));
      expect(() => promtool("check", "rules", "dashboard-rules.yaml")).not.toThrow();
    });

    it("fire when a release is stuck, rolled back, cannot apply traffic, or no controller is up (promtool test rules)", () => {
      // Annotations are left out: promtool compares them verbatim, and they are prose.
      const withoutAnnotations = parse(read(ALERTS)) as { groups: { rules: Rule[] }[] };
      for (const group of withoutAnnotations.groups) for (const rule of group.rules) delete rule.annotations;
      writeFileSync(join(scratch, "alerts.yaml"), stringify(withoutAnnotations));
      const labels = 'job="tideway", instance="a", namespace="shop", rollout="cart"';
      const cart = { severity: "warning", namespace: "shop", rollout: "cart" };
      const tests = {
        rule_files: ["alerts.yaml"],
        evaluation_interval: "1m",
        tests: [
          {
            interval: "1m",
            input_series: [
              // In flight for 70 minutes: Progressing 30, then Paused 40 (the clock does not restart).
              // Only the current phase has a series: Progressing's ends (stale) as Paused's starts.
              { series: `tideway_rollout_phase{${labels}, phase="Progressing"}`, values: "1x29 stale" },
              { series: `tideway_rollout_phase{${labels}, phase="Paused"}`, values: "_x30 1x40" },
              // The first rollback this replica saw: the series appears at 1 after 20 minutes.
              { series: `tideway_release_events_total{${labels}, kind="rolled-back"}`, values: "_x20 1x50" },
              // A VirtualService write failing every 5 s.
              { series: 'tideway_errors_total{job="tideway", instance="a", where="traffic"}', values: "0+12x70" },
              // The only replica stops answering after 40 minutes.
              { series: 'up{job="tideway", instance="a"}', values: "1x40 0x30" },
            ],
            alert_rule_test: [
              { eval_time: "50m", alertname: "TidewayReleaseStuck", exp_alerts: [] },
              { eval_time: "65m", alertname: "TidewayReleaseStuck", exp_alerts: [{ exp_labels: cart }] },
              { eval_time: "25m", alertname: "TidewayReleaseRolledBack", exp_alerts: [{ exp_labels: cart }] },
              { eval_time: "40m", alertname: "TidewayReleaseRolledBack", exp_alerts: [] },
              { eval_time: "10m", alertname: "TidewayTrafficNotApplied", exp_alerts: [{ exp_labels: { severity: "critical", job: "tideway" } }] },
              { eval_time: "30m", alertname: "TidewayControllerDown", exp_alerts: [] },
              { eval_time: "50m", alertname: "TidewayControllerDown", exp_alerts: [{ exp_labels: { severity: "critical" } }] },
            ],
          },
        ],
      };
      writeFileSync(join(scratch, "alerts-test.yaml"), stringify(tests));
      const run = (): string => {
        try {
          return promtool("test", "rules", "alerts-test.yaml");
        } catch (error) {
          const failed = error as { stdout?: string; stderr?: string };
          throw new Error(`promtool test rules failed:\n${failed.stdout ?? ""}${failed.stderr ?? ""}`, { cause: error });
        }
      };
      expect(run()).toContain("SUCCESS");
    });
  } else {
    it("parse as a Prometheus rule file (YAML only: /usr/bin/promtool not installed)", () => {
      const file = parse(read(ALERTS)) as { groups?: unknown };
      expect(Array.isArray(file.groups)).toBe(true);
      expect(rules.length).toBeGreaterThan(0);
    });
  }
});
