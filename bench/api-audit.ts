/**
 * Counts the controller's requests to the API server from the API server's own audit log
 * (benchServices({ auditLogPath })). The controller's client (@kubernetes/client-node on
 * node-fetch) sends `User-Agent: node-fetch`; the benchmark's own reads go through kubeRequest
 * (no user agent) and the cluster's controllers send their own names, so none of them is counted.
 */
import { createReadStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const CONTROLLER_AGENT = /^node-fetch/;

interface AuditEvent {
  stage?: string;
  verb?: string;
  userAgent?: string;
  requestReceivedTimestamp?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string };
}

/** Requests of the controller received in [fromMs, toMs], by "verb resource[/subresource]". */
export function controllerRequests(auditLogPath: string, fromMs: number, toMs: number, namespace?: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(auditLogPath, "utf8").split("\n")) count(counts, line, fromMs, toMs, namespace);
  return counts;
}

/** The same, read line by line (for logs too large to hold: a scale run's is hundreds of MB). */
export async function controllerRequestsStreamed(auditLogPath: string, fromMs: number, toMs: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const line of createInterface({ input: createReadStream(auditLogPath), crlfDelay: Infinity })) count(counts, line, fromMs, toMs);
  return counts;
}

function count(counts: Map<string, number>, line: string, fromMs: number, toMs: number, namespace?: string): void {
  // Cheap test first: most lines of a scale run are the cluster's own controllers.
  if (line.length === 0 || !line.includes("node-fetch")) return;
  const event = JSON.parse(line) as AuditEvent;
  if (event.stage !== "RequestReceived" || !CONTROLLER_AGENT.test(event.userAgent ?? "")) return;
  const at = Date.parse(event.requestReceivedTimestamp ?? "");
  if (at < fromMs || at > toMs) return;
  const ref = event.objectRef ?? {};
  if (namespace !== undefined && ref.namespace !== undefined && ref.namespace !== namespace) return;
  const kind = `${event.verb ?? "?"} ${ref.resource ?? "(no resource)"}${ref.subresource ? `/${ref.subresource}` : ""}`;
  counts.set(kind, (counts.get(kind) ?? 0) + 1);
}

/** Per-kind medians over several releases, and the median of their totals. */
export function medianCounts(releases: readonly Map<string, number>[]): { byKind: Map<string, number>; total: number } {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const kinds = [...new Set(releases.flatMap((r) => [...r.keys()]))].sort();
  const byKind = new Map(kinds.map((kind) => [kind, median(releases.map((r) => r.get(kind) ?? 0))]));
  return { byKind, total: median(releases.map((r) => [...r.values()].reduce((a, b) => a + b, 0))) };
}
