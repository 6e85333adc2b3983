import js from "@eslint/js";
import tseslint from "typescript-eslint";

const PURE = "src/rollout is pure: decide() takes `now` as input (the controller reads the clock), so the same input always gives the same decision.";
/**
 * Imports follow the pipeline (git -> Rollout objects -> engine -> traffic + analysis -> notify):
 * an adapter depends on src/rollout and on no other adapter, except the ones listed here; only
 * the wiring (controller/, cli/, main) imports several. Outside src/rollout, the engine is used
 * through its facade, src/rollout/engine.ts.
 */
const ADAPTERS = ["git", "kube", "traffic", "analysis", "notify", "queue", "http"];
const MAY_IMPORT = { git: [], kube: [], traffic: ["kube"], analysis: [], queue: [], http: [] };
const engineFacade = { group: ["../rollout/engine/*"], message: "Use the engine's facade, src/rollout/engine.ts." };
const importRules = (patterns) => ({ "no-restricted-imports": ["error", { patterns }] });
const boundaries = [
  { files: ["src/**/*.ts"], ignores: ["src/rollout/**"], rules: importRules([engineFacade]) },
  ...Object.entries(MAY_IMPORT).map(([folder, allowed]) => ({
    files: [`src/${folder}/**/*.ts`],
    rules: importRules([
      engineFacade,
      {
        group: [...ADAPTERS.filter((other) => other !== folder && !allowed.includes(other)), "controller", "cli"].map((other) => `../${other}/*`),
        message: `src/${folder} is an adapter: it depends on src/rollout (and ${allowed.length > 0 ? allowed.join(", ") : "no other adapter"}); share a type through src/rollout or an interface beside its consumer.`,
      },
    ]),
  })),
];

export default tseslint.config(
  { ignores: ["dist/**", "coverage/**", "node_modules/**", ".tideway/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["src/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  ...boundaries,
  {
    files: ["src/rollout/**/*.ts"],
    rules: {
      // The release engine is pure: no I/O, no adapters, no clock.
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*", "fs", "fs/*", "http", "https", "net", "child_process"], message: "src/rollout is pure: no I/O." },
            { group: ["../git/*", "../kube/*", "../traffic/*", "../analysis/*", "../notify/*", "../queue/*", "../http/*", "../controller/*"], message: "src/rollout must not import adapters." },
            { group: ["@kubernetes/*", "simple-git", "ioredis", "bullmq", "prometheus-query", "prom-client", "@slack/*", "pino"], message: "src/rollout is pure: no I/O libraries." },
            { group: ["crypto", "perf_hooks", "process", "os"], message: `src/rollout is pure: no clock, randomness or environment. ${PURE}` },
          ],
        },
      ],
      // Same input, same decision: the engine reads no clock, no randomness and no environment.
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: PURE },
        { object: "Math", property: "random", message: PURE },
        { object: "performance", property: "now", message: PURE },
        { object: "crypto", property: "randomUUID", message: PURE },
        { object: "crypto", property: "getRandomValues", message: PURE },
        { object: "globalThis", property: "process", message: PURE },
      ],
      "no-restricted-globals": ["error", { name: "process", message: PURE }],
      "no-restricted-syntax": [
        "error",
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: `new Date() reads the clock. ${PURE} Use new Date(now).` },
        { selector: "CallExpression[callee.name='Date']", message: `Date() reads the clock. ${PURE}` },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly" } },
  },
  {
    // The dashboard's page runs in the browser.
    files: ["src/dashboard/assets/**/*.js"],
    languageOptions: {
      globals: {
        document: "readonly",
        window: "readonly",
        fetch: "readonly",
        EventSource: "readonly",
        sessionStorage: "readonly",
        Node: "readonly",
        JSON: "readonly",
        console: "readonly",
        process: "off",
      },
    },
  },
);
