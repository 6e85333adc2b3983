import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../src/rollout/duration.js";
import { checkTemplate, closest, QUERY_VARIABLES, renderTemplate } from "../../src/rollout/template.js";

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["15s", 15_000],
    ["1m", 60_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1_500],
    ["0s", 0],
    ["2m30s", 150_000],
  ])("reads %s as %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "1x", "fast", "1", "m", "-1s", "1 m", "1m ", "9".repeat(40) + "s"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each([
    [0, "0s"],
    [500, "500ms"],
    [15_000, "15s"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [3_661_000, "1h1m1s"],
  ])("writes %d ms as %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("templates", () => {
  it("fills known variables through the escape function", () => {
    const query = 'sum(rate(x{version="{{ version }}", ns="{{namespace}}"}[{{ interval }}]))';
    expect(renderTemplate(query, { version: 'v"2', namespace: "bookinfo", interval: "1m" }, (v) => v.replace(/"/g, '\\"'))).toBe('sum(rate(x{version="v\\"2", ns="bookinfo"}[1m]))');
  });

  it("leaves unknown placeholders alone when rendering", () => {
    expect(renderTemplate("{{ nope }}-{{ version }}", { version: "v2" })).toBe("{{ nope }}-v2");
  });

  it("names unknown variables with a suggestion and the allowed list", () => {
    expect(checkTemplate('x{version="{{ verison }}"}', QUERY_VARIABLES)).toEqual([
      { offset: 11, message: 'unknown template variable "{{ verison }}" (did you mean "{{ version }}"?); expected one of service, namespace, version, canaryVersion, stableVersion, interval' },
    ]);
  });

  it("reports unbalanced braces", () => {
    expect(checkTemplate("x{{ version }", QUERY_VARIABLES).map((p) => p.message)).toEqual(['unbalanced "{{" or "}}" in template']);
  });

  it("accepts a template that uses only known variables", () => {
    expect(checkTemplate("{{ service }}.{{ namespace }}", QUERY_VARIABLES)).toEqual([]);
  });

  it("suggests only close matches", () => {
    expect(closest("setweight", ["setWeight", "pause"])).toBe("setWeight");
    expect(closest("zzzzzz", ["setWeight", "pause"])).toBeUndefined();
  });
});
