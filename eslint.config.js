import js from "@eslint/js";
import tseslint from "typescript-eslint";

const PURE = "src/rollout is pure: decide() takes `now` as input (the controller reads the clock), so the same input always gives the same decision.";

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
);
