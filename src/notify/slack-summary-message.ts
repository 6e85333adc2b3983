/**
 * A burst of adoptions and traffic failures (many Rollouts committed at once) as one Slack post:
 * the counts, the failures grouped by cause, the first few Rollouts of each "... and N more".
 * Pure. A summary of one event is that event's own post. See notify/burst.ts for the batching.
 */
import type { Commit } from "../rollout/commit.js";
import { code, commitLine, context, escapeText, FALLBACK_TEXT_LIMIT, header, oneLine, section, type SlackBlock, type SlackMessage } from "./slack-blocks.js";

/** The kinds told as a summary when many come at once. */
export const SUMMARIZED_KINDS = ["adopted", "traffic-failed"] as const;
export type SummarizedKind = (typeof SUMMARIZED_KINDS)[number];

/** One event held for a summary: what its line needs, and the post it is when it is alone. */
export interface SummaryEntry {
  kind: SummarizedKind;
  rollout: { namespace: string; name: string };
  version: string;
  message: string;
  /** A traffic failure's cause, e.g. "NoDestinationRule" (the TrafficApplied condition's reason). */
  cause?: string;
  commit?: Commit;
  /** The event's own post, sent as it is when the summary holds nothing else. */
  alone: SlackMessage;
}

/** How many Rollouts each line names before "and N more". */
export const NAMED_ROLLOUTS = 5;

const CAUSES: Record<string, { phrase: string; fix: string }> = {
  NoDestinationRule: { phrase: "no DestinationRule", fix: "Add a DestinationRule with the subsets named; the next retry (every 5 s) routes." },
  MissingSubset: { phrase: "DestinationRule subset missing", fix: "Add the subsets named to the DestinationRule; the next retry (every 5 s) routes." },
  NoVirtualService: { phrase: "no VirtualService", fix: "Create the VirtualService, or fix trafficRouting.istio.virtualService.name." },
  ApplyFailed: { phrase: "traffic not applied", fix: "Each Rollout's TrafficApplied condition and TrafficFailed Event say why; the write is retried every 5 s." },
};

export function summaryMessage(entries: readonly SummaryEntry[], channel?: string): SlackMessage {
  const [only] = entries;
  if (entries.length === 1 && only !== undefined) return only.alone;
  const adopted = sortByName(entries.filter((e) => e.kind === "adopted"));
  const failures = causeGroups(entries.filter((e) => e.kind === "traffic-failed"));
  const qualified = new Set(entries.map((e) => e.rollout.namespace)).size > 1;
  const failing = failures.reduce((sum, [, group]) => sum + group.length, 0);

  const lines: string[] = [];
  if (adopted.length > 0) lines.push(`${count(adopted.length)} ${plural(adopted.length, "Rollout")} adopted`);
  for (const [cause, group] of failures) lines.push(`${count(group.length)} cannot route: ${phraseOf(cause)} (${namesText(group, qualified)})`);
  const headline = [adopted.length > 0 ? `${count(adopted.length)} ${plural(adopted.length, "Rollout")} adopted` : "", failing > 0 ? `${count(failing)} cannot route` : ""].filter(Boolean).join(", ");

  const blocks: SlackBlock[] = [header(`${failing > 0 ? ":rotating_light:" : ":seedling:"} ${headline}`)];
  if (adopted.length > 0) blocks.push(section(`*Adopted as stable* (${count(adopted.length)}): 100% of traffic to the version each names\n${namesList(adopted, qualified)}`));
  for (const [cause, group] of failures) {
    const example = group[0]?.message ?? "";
    blocks.push(
      section(`*Cannot route: ${escapeText(phraseOf(cause))}* (${count(group.length)})\n${namesList(group, qualified)}\n> ${escapeText(oneLine(example, 500))}\n${escapeText(fixOf(cause))}`),
    );
  }
  const commits = new Map(entries.flatMap((e) => (e.commit ? [[e.commit.sha, e.commit] as const] : [])));
  const [commit] = [...commits.values()];
  const notes = [commits.size === 1 && commit ? commitLine(commit) : "", "Each Rollout has its own Kubernetes Event."].filter(Boolean);
  blocks.push(context(notes));
  return { text: escapeText(oneLine(lines.join("; "), FALLBACK_TEXT_LIMIT)), blocks, ...(channel !== undefined ? { channel } : {}) };
}

/** Failures by cause, the most common first. */
function causeGroups(failures: readonly SummaryEntry[]): [string, SummaryEntry[]][] {
  const groups = new Map<string, SummaryEntry[]>();
  for (const entry of failures) {
    const cause = entry.cause ?? "ApplyFailed";
    const group = groups.get(cause);
    if (group) group.push(entry);
    else groups.set(cause, [entry]);
  }
  return [...groups.entries()].map(([cause, group]) => [cause, sortByName(group)] as [string, SummaryEntry[]]).sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
}

const BY_NAME = new Intl.Collator("en", { numeric: true });

function sortByName(entries: readonly SummaryEntry[]): SummaryEntry[] {
  return entries
    .map((entry) => ({ entry, name: nameOf(entry, true) }))
    .sort((a, b) => BY_NAME.compare(a.name, b.name))
    .map(({ entry }) => entry);
}

function nameOf(entry: SummaryEntry, qualified: boolean): string {
  return qualified ? `${entry.rollout.namespace}/${entry.rollout.name}` : entry.rollout.name;
}

/** "svc-0, svc-1, svc-2, svc-3, svc-4 and 1,340 more" */
function namesText(entries: readonly SummaryEntry[], qualified: boolean, format: (name: string) => string = (name) => name): string {
  const named = entries.slice(0, NAMED_ROLLOUTS).map((e) => format(nameOf(e, qualified)));
  const rest = entries.length - named.length;
  return rest > 0 ? `${named.join(", ")} and ${count(rest)} more` : named.join(", ");
}

function namesList(entries: readonly SummaryEntry[], qualified: boolean): string {
  return namesText(entries, qualified, code);
}

function phraseOf(cause: string): string {
  return CAUSES[cause]?.phrase ?? cause;
}

function fixOf(cause: string): string {
  return (CAUSES[cause] ?? CAUSES["ApplyFailed"])?.fix ?? "";
}

/** "1,790" */
function count(n: number): string {
  return n.toLocaleString("en-US");
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}
