import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
const run = (...args: string[]) =>
  execFileSync(process.execPath, ["--import", "tsx", "src/main.ts", ...args], { encoding: "utf8" });

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
});
