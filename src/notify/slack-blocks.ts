/**
 * The few Block Kit shapes Tideway posts, and the escaping and limits Slack imposes on them.
 * https://api.slack.com/reference/block-kit/blocks
 */
import type { Commit } from "../rollout/commit.js";

export interface MarkdownText {
  type: "mrkdwn";
  text: string;
}

export type SlackBlock =
  | { type: "header"; text: { type: "plain_text"; text: string; emoji: true } }
  | { type: "section"; text: MarkdownText; fields?: MarkdownText[] }
  | { type: "section"; fields: MarkdownText[] }
  | { type: "context"; elements: MarkdownText[] }
  | { type: "divider" }
  | { type: "actions"; block_id: string; elements: SlackButton[] };

export interface PlainText {
  type: "plain_text";
  text: string;
}

/** A Block Kit button; its `value` comes back in the interaction payload when someone presses it. */
export interface SlackButton {
  type: "button";
  action_id: string;
  text: PlainText;
  value: string;
  style?: "primary" | "danger";
  /** A dialog Slack shows before it sends the press. */
  confirm?: { title: PlainText; text: PlainText; confirm: PlainText; deny: PlainText; style?: "primary" | "danger" };
}

/** One incoming-webhook post. */
export interface SlackMessage {
  /** The plain line shown in notifications: one line, at most FALLBACK_TEXT_LIMIT characters. */
  text: string;
  blocks: SlackBlock[];
  channel?: string;
}

export const FALLBACK_TEXT_LIMIT = 300;

// Slack rejects the whole post (400 invalid_blocks) when one of these is exceeded.
const HEADER_LIMIT = 150;
const SECTION_LIMIT = 3000;
const FIELD_LIMIT = 2000;
const MAX_FIELDS = 10;

/** Text from git, users or Prometheus cannot ping @channel or forge links: `<`, `>` and `&` are escaped. */
export function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Inline code that survives backticks in the text itself. */
export function code(text: string): string {
  return `\`${escapeText(text).replace(/`/g, "'")}\``;
}

export function oneLine(text: string, limit: number): string {
  return truncate(text.replace(/\s*[\r\n]+\s*/g, " ").trim(), limit);
}

export function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

const markdown = (text: string, limit: number): MarkdownText => ({ type: "mrkdwn", text: truncate(text, limit) });

export function header(text: string): SlackBlock {
  return { type: "header", text: { type: "plain_text", text: oneLine(text, HEADER_LIMIT), emoji: true } };
}

export function section(text: string, fields: string[] = []): SlackBlock {
  const block: SlackBlock = { type: "section", text: markdown(text, SECTION_LIMIT) };
  return fields.length > 0 ? { ...block, fields: fields.slice(0, MAX_FIELDS).map((f) => markdown(f, FIELD_LIMIT)) } : block;
}

export function fields(texts: string[]): SlackBlock {
  return { type: "section", fields: texts.slice(0, MAX_FIELDS).map((f) => markdown(f, FIELD_LIMIT)) };
}

export function context(texts: string[]): SlackBlock {
  return { type: "context", elements: texts.slice(0, MAX_FIELDS).map((t) => markdown(t, FIELD_LIMIT)) };
}

/** "▰▰▱▱▱ 2/5" from a step label "2/5"; undefined for anything else. */
export function progressBar(stepLabel: string): string | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(stepLabel);
  if (!match) return undefined;
  const current = Number(match[1]);
  const total = Number(match[2]);
  if (total < 1 || current > total) return undefined;
  // One segment per step up to 10; longer releases are drawn to scale.
  const segments = Math.min(total, 10);
  const filled = Math.round((current / total) * segments);
  return `${"▰".repeat(filled)}${"▱".repeat(segments - filled)} ${current}/${total}`;
}

/** "commit `1a2b3c4` by Ann · Bump reviews to v2" */
export function commitLine(commit: Commit): string {
  const parts = [`commit ${code(commit.sha.slice(0, 7))}`];
  if (commit.author) parts[0] += ` by ${escapeText(oneLine(commit.author, 80))}`;
  const subject = commit.subject?.split("\n")[0]?.trim();
  if (subject) parts.push(escapeText(truncate(subject, 120)));
  return parts.join(" · ");
}
