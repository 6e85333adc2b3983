import { ESLint } from "eslint";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

/** The lint rules that keep the release engine pure, checked against the repository's own eslint.config.js. */
const root = fileURLToPath(new URL("../..", import.meta.url));
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: root });
});

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

const impure: [string, string][] = [
  ["Date.now()", "export const at = (): number => Date.now();\n"],
  ["new Date() without an argument", "export const at = (): string => new Date().toISOString();\n"],
  ["Date() as a function", "export const at = (): string => Date();\n"],
  ["Math.random()", "export const jitter = (): number => Math.random();\n"],
  ["performance.now()", "export const at = (): number => performance.now();\n"],
  ["crypto.randomUUID()", "export const id = (): string => crypto.randomUUID();\n"],
  ["process.env", "export const home = (): string | undefined => process.env.HOME;\n"],
  ["process.hrtime", "export const at = (): bigint => process.hrtime.bigint();\n"],
  ["an import of crypto", 'import { randomUUID } from "crypto";\nexport const id = (): string => randomUUID();\n'],
];

describe("the release engine's purity rules", () => {
  it.each(impure)("refuse %s in src/rollout, saying the engine takes now as input", async (_, code) => {
    const messages = await ruleIds(code, "src/rollout/engine/clock-sample.ts");
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^no-restricted-(properties|syntax|globals|imports): .*src\/rollout is pure.*/);
    expect(messages[0]).toMatch(/`now`|new Date\(now\)/);
  });

  it.each(impure)("allow %s outside src/rollout", async (_, code) => {
    expect(await ruleIds(code, "src/controller/clock-sample.ts")).toEqual([]);
  });

  it("allow a date built from the now the engine is given", async () => {
    const code = "export const iso = (now: number): string => new Date(now).toISOString();\nexport const at = (s: string): number => Date.parse(s);\n";
    expect(await ruleIds(code, "src/rollout/engine/clock-sample.ts")).toEqual([]);
  });
});
