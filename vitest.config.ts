import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Two cores: at most two test files at a time.
    maxWorkers: 2,
    coverage: { provider: "v8", include: ["src/**/*.ts"], reporter: ["text-summary", "json-summary"] },
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // One API server, Redis and Prometheus for the whole run; tests isolate by namespace/prefix.
          globalSetup: ["test/env/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "chaos",
          include: ["test/chaos/**/*.test.ts"],
          // The same services as integration (started once for both); each case brings its own Redis, Prometheus proxy or API server to break.
          globalSetup: ["test/env/global-setup.ts"],
          testTimeout: 240_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
