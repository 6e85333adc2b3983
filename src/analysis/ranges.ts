/**
 * PromQL range selectors and the scrapes they cover. `rate` and `increase` need two samples in
 * their range: a range shorter than two scrape intervals has no data most of the time, and the
 * check is inconclusive for ever. Kept light (no schema): `tideway run` and `validate` load it at start.
 */
import { formatDuration } from "../rollout/duration.js";

/** `--prometheus-scrape-interval` when not given: the usual Prometheus and Istio setting. */
export const DEFAULT_SCRAPE_INTERVAL = "15s";

/** The fewest scrapes a range must cover to hold two samples. */
export const MIN_RANGE_SCRAPES = 2;

/** The scrapes the built-in metrics' range covers, so that one missed or late scrape still leaves data. */
export const BUILT_IN_RANGE_SCRAPES = 4;

/**
 * A range for PromQL: whole seconds, at least 1s (Prometheus rejects "0s"), compound units
 * allowed ("1m30s").
 */
export function promqlRange(ms: number): string {
  return formatDuration(Math.max(1, Math.round(ms / 1_000)) * 1_000);
}

/** The built-in metrics look over the analysis interval, or four scrapes when that is longer. */
export function builtInWindowMs(intervalMs: number, scrapeIntervalMs: number): number {
  return Math.max(intervalMs, BUILT_IN_RANGE_SCRAPES * scrapeIntervalMs);
}

/** `[5m]` or `[{{ interval }}]` in a query template: the text between the brackets. */
export interface RangeSelector {
  text: string;
  /** Offset of the `[` in the template. */
  offset: number;
}

/**
 * The range selectors of a PromQL template, outside strings and comments. Subqueries
 * (`[30m:1m]`) are left out: their range is evaluated step by step, not read from scrapes.
 */
export function rangeSelectors(template: string): RangeSelector[] {
  const found: RangeSelector[] = [];
  for (let i = 0; i < template.length; i++) {
    const char = template[i];
    if (char === '"' || char === "'" || char === "`") {
      i = endOfString(template, i);
    } else if (char === "#") {
      const newline = template.indexOf("\n", i);
      i = newline < 0 ? template.length : newline;
    } else if (char === "[") {
      const close = template.indexOf("]", i);
      if (close < 0) break;
      const text = template.slice(i + 1, close).trim();
      if (!text.includes(":")) found.push({ text, offset: i });
      i = close;
    }
  }
  return found;
}

/** The index of the quote that closes the string opened at `start` (backslash escapes, except in `raw` strings). */
function endOfString(template: string, start: number): number {
  const quote = template[start];
  for (let i = start + 1; i < template.length; i++) {
    if (template[i] === "\\" && quote !== "`") i++;
    else if (template[i] === quote) return i;
  }
  return template.length;
}

const PROMQL_UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 } as const;

/** Milliseconds of a PromQL duration such as "30s", "1h30m" or "2d"; undefined for anything else. */
export function parsePromqlDuration(text: string): number | undefined {
  const parts = /^(?:\d+(?:ms|[smhdwy]))+$/.test(text) ? text.match(/\d+(?:ms|[smhdwy])/g) : null;
  if (!parts) return undefined;
  let total = 0;
  for (const part of parts) {
    const unit = /ms|[smhdwy]$/.exec(part)?.[0] as keyof typeof PROMQL_UNIT_MS;
    total += Number.parseInt(part, 10) * PROMQL_UNIT_MS[unit];
  }
  return total;
}

/**
 * What is wrong with one range at this scrape interval, with the fix, or undefined when it
 * covers two scrapes. `[{{ interval }}]` is judged as it renders: the analysis interval.
 */
export function rangeProblem(range: RangeSelector, intervalMs: number, scrapeIntervalMs: number): string | undefined {
  const usesInterval = /^\{\{\s*interval\s*\}\}$/.test(range.text);
  const ms = usesInterval ? Math.max(1_000, Math.round(intervalMs / 1_000) * 1_000) : parsePromqlDuration(range.text);
  if (ms === undefined || ms >= MIN_RANGE_SCRAPES * scrapeIntervalMs) return undefined;
  const found = usesInterval ? `[${range.text}] (the analysis interval, ${promqlRange(ms)})` : `[${range.text}]`;
  const least = promqlRange(MIN_RANGE_SCRAPES * scrapeIntervalMs);
  const better = promqlRange(BUILT_IN_RANGE_SCRAPES * scrapeIntervalMs);
  const fix = usesInterval
    ? `; write at least [${least}] instead (${BUILT_IN_RANGE_SCRAPES} scrapes: [${better}]), or a longer spec.analysis.interval`
    : `; use at least [${least}] (${BUILT_IN_RANGE_SCRAPES} scrapes: [${better}])`;
  return `the range ${found} covers fewer than ${MIN_RANGE_SCRAPES} scrapes at a ${promqlRange(scrapeIntervalMs)} scrape interval${fix}`;
}
