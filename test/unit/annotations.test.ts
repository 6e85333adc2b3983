/** Tideway's metadata names live in src/rollout/annotations.ts, and only there. */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import * as names from "../../src/rollout/annotations.js";
import { COMMANDS } from "../../src/rollout/status.js";

const SRC = new URL("../../src/", import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const constants = Object.entries(names).flatMap(([name, value]) => (typeof value === "string" && name !== "TIDEWAY_PREFIX" ? [value] : []));

describe("annotation names", () => {
  it("all start with tideway.io/ and are all different", () => {
    for (const value of constants) expect(value.startsWith(names.TIDEWAY_PREFIX)).toBe(true);
    expect(new Set(constants).size).toBe(constants.length);
  });

  it("name each command after it, the abort held from git being the abort command", () => {
    expect(COMMANDS.map(names.commandAnnotation)).toEqual(["tideway.io/abort", "tideway.io/promote", "tideway.io/pause", "tideway.io/resume", "tideway.io/retry"]);
    expect(names.commandAnnotation("abort")).toBe(names.ABORT_ANNOTATION);
    expect(constants).not.toContain(names.commandAnnotation("promote"));
  });

  it("are written out nowhere else in src/", () => {
    const found: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const path = relative(SRC, file);
      if (path === "rollout/annotations.ts") continue;
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, index) => {
          if (/^\s*(\*|\/\/|\/\*)/.test(line)) return; // comments may name them
          if (/["'`]tideway\.io\/(?!v1alpha1")/.test(line)) found.push(`${path}:${index + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });
});
