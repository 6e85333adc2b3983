import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
const run = (...args: string[]) => execFileSync(process.execPath, ["--import", "tsx", "src/main.ts", ...args], { encoding: "utf8" });

describe("the tideway command", () => {
  it("prints the package version for --version", () => {
    expect(run("--version").trim()).toBe(pkg.version);
  });

  it("describes itself and its options for --help", () => {
    const help = run("--help");
    expect(help).toContain("Usage: tideway");
    expect(help).toContain("GitOps progressive delivery for Istio");
    expect(help).toContain("--version");
  });

  it.each([
    ["--http-max-connections", "0", 'expected a whole number of at least 1, found "0"'],
    ["--http-max-connections", "many", 'expected a whole number of at least 1, found "many"'],
    ["--prometheus-scrape-interval", "often", 'expected a duration such as "30s" or "1m", found "often"'],
  ])("refuses %s %s before starting, naming the flag", (flag, value, message) => {
    // The options are checked before any connection is made, so nothing needs to listen here.
    const result = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "run", "--git-url", "/nonexistent", flag, value], { encoding: "utf8" });
    expect(result.stderr).toContain(`tideway run: ${flag}: ${message}`);
    expect(result.status).toBe(2);
  });
});
