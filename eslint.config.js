import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly" } },
  },
);
