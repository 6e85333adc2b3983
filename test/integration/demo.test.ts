import { describe, expect, it } from "vitest";
import { runDemo } from "../../scripts/demo-story.js";

describe("the demo", () => {
  it("tells the whole story headless: v2 promoted, v3 rolled back on its errors, v4 aborted by hand", async () => {
    const lines: string[] = [];
    const result = await runDemo({ keep: false, redraw: false, print: (line) => lines.push(line) });
    expect(result.acts.map((a) => [a.version, a.outcome])).toEqual([["v2", "promoted"], ["v3", "rolled-back"], ["v4", "aborted"]]);
    expect(result.acts[1]?.reason).toMatch(/^success-rate 0\.\d+ < 0\.95$/);
    expect(result.acts[2]?.reason).toBe("demo: stopped by hand");
    expect(result.ok).toBe(true);
    expect(result.slackMessages).toContain("reviews v2 promoted: 100% of traffic, now stable (was v1)");
    expect(lines.some((l) => l.trim() === "Summary")).toBe(true);
  }, 300_000);
});
