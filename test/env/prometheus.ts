import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { findExecutable, freePort, removeDir, ServerProcess, tempDir, waitUntil } from "./process.js";

/** How often the test Prometheus scrapes: the controller and analysis tests are told the same (--prometheus-scrape-interval). */
export const SCRAPE_INTERVAL = "1s";

export interface PrometheusEnvironment {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Directory of file_sd target files; any process may drop a file here (see registerTarget). */
  targetsDir: string;
  stop(): Promise<void>;
}

/**
 * Makes Prometheus scrape `target` (host:port) every second, with extra labels, and waits until
 * it has been scraped once. Works from any process that knows `targetsDir`. Returns the undo.
 */
export async function registerTarget(prometheusUrl: string, targetsDir: string, target: string, labels: Record<string, string> = {}): Promise<() => void> {
  const file = join(targetsDir, `${randomUUID()}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify([{ targets: [target], labels }]));
  renameSync(`${file}.tmp`, file);
  await waitUntil(
    `prometheus scraping ${target}`,
    async () => {
      const response = await fetch(`${prometheusUrl}/api/v1/targets?state=active`);
      const body = (await response.json()) as { data: { activeTargets: { scrapeUrl: string; health: string }[] } };
      return body.data.activeTargets.some((t) => t.scrapeUrl.includes(`//${target}/`) && t.health === "up");
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  return () => rmSync(file, { force: true });
}

/** Starts Debian's prometheus, scraping every registered target once a second. */
export async function startPrometheus(): Promise<PrometheusEnvironment> {
  const bin = findExecutable("prometheus", ["/usr/bin"]);
  if (!bin) throw new Error("prometheus not found: install Debian's prometheus (bash .ci/run does)");
  const dir = tempDir("prometheus");
  const targetsDir = join(dir, "targets");
  mkdirSync(targetsDir);
  writeFileSync(
    join(dir, "prometheus.yml"),
    [
      "global:",
      `  scrape_interval: ${SCRAPE_INTERVAL}`,
      "  scrape_timeout: 900ms",
      "  evaluation_interval: 1s",
      "scrape_configs:",
      "  - job_name: tideway-test",
      "    file_sd_configs:",
      `      - files: ["${targetsDir}/*.json"]`,
      "        refresh_interval: 1s",
      "",
    ].join("\n"),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const prometheus = new ServerProcess(
    "prometheus",
    bin,
    [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--storage.tsdb.retention.time=1h", "--log.level=warn"],
    { logDir: dir },
  );
  const stop = async () => {
    await prometheus.stop();
    removeDir(dir);
  };
  try {
    await waitUntil("prometheus /-/ready", async () => (await fetch(`${url}/-/ready`)).ok, { timeoutMs: 30_000, process: prometheus });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, targetsDir, stop };
}
