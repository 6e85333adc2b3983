/**
 * The import rules of eslint.config.js hold: an adapter that imports another adapter sideways, or
 * reaches into the engine past its facade, fails `npm run lint`.
 */
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const eslint = new ESLint({ cwd: new URL("../../", import.meta.url).pathname });

async function refusedImport(file: string, from: string): Promise<boolean> {
  const [result] = await eslint.lintText(`import type { X } from "${from}";\nexport type Y = X;\n`, { filePath: file });
  return (result?.messages ?? []).some((m) => m.ruleId === "no-restricted-imports");
}

describe("imports follow the pipeline", () => {
  it.each([
    ["git", "src/git/sync.ts", "../kube/mirror.js"],
    ["queue", "src/queue/reconcile-queue.ts", "../kube/informer.js"],
    ["kube", "src/kube/mirror.ts", "../git/sync.js"],
    ["analysis", "src/analysis/analyze.ts", "../traffic/istio.js"],
    ["traffic", "src/traffic/istio.ts", "../analysis/templates.js"],
    ["an adapter", "src/http/server.ts", "../controller/log.js"],
  ])("%s does not import another adapter sideways (%s from %s)", async (_, file, from) => {
    expect(await refusedImport(file, from)).toBe(true);
  });

  it.each([["src/analysis/classify.ts"], ["src/controller/reconciler.ts"], ["src/notify/slack-message.ts"]])("%s reaches the engine only through its facade", async (file) => {
    expect(await refusedImport(file, "../rollout/engine/types.js")).toBe(true);
    expect(await refusedImport(file, "../rollout/engine.js")).toBe(false);
  });

  it.each([
    ["src/git/sync.ts", "../rollout/mirror.js"],
    ["src/queue/reconcile-queue.ts", "../rollout/model.js"],
    ["src/traffic/istio.ts", "../kube/errors.js"],
    ["src/controller/controller.ts", "../kube/mirror.js"],
    ["src/rollout/engine/decide.ts", "./types.js"],
  ])("lets %s import %s", async (file, from) => {
    expect(await refusedImport(file, from)).toBe(false);
  });
});
