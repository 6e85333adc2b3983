/**
 * A release event as a Slack incoming-webhook post: a one-line `text` for notifications and
 * Block Kit `blocks` for the channel. Pure: built only from the event and its context. A problem
 * of the git sync has its own shape (slack-sync-message.ts).
 */
import type { Commit } from "../rollout/commit.js";
import type { MetricResult, ReleaseEvent } from "../rollout/engine.js";
import type { Rollout } from "../rollout/model.js";
import { isSyncEvent } from "../rollout/sync-event.js";
import type { Notice } from "./notice.js";
import { actionButtons } from "./slack-actions.js";
import { code, commitLine, context, escapeText, fields, FALLBACK_TEXT_LIMIT, header, oneLine, progressBar, section, type SlackBlock, type SlackMessage } from "./slack-blocks.js";
import { syncProblemMessage } from "./slack-sync-message.js";

export interface NotificationContext {
  rollout?: Rollout;
  /** The git commit that carried the change, when the controller knows it. */
  commit?: Commit;
}

export type { SlackMessage } from "./slack-blocks.js";

const PRESENTATION: Record<ReleaseEvent["kind"], { icon: string; title: string }> = {
  adopted: { icon: ":seedling:", title: "adopted as stable" },
  started: { icon: ":rocket:", title: "canary started" },
  step: { icon: ":arrow_forward:", title: "next step" },
  "check-failed": { icon: ":x:", title: "check failed" },
  "check-inconclusive": { icon: ":grey_question:", title: "check inconclusive" },
  "check-error": { icon: ":warning:", title: "analysis error" },
  paused: { icon: ":double_vertical_bar:", title: "paused" },
  resumed: { icon: ":arrow_forward:", title: "resumed" },
  promoted: { icon: ":white_check_mark:", title: "promoted" },
  "rolled-back": { icon: ":rewind:", title: "rolled back" },
  aborted: { icon: ":octagonal_sign:", title: "aborted" },
  superseded: { icon: ":fast_forward:", title: "superseded" },
  reverted: { icon: ":leftwards_arrow_with_hook:", title: "reverted" },
  removed: { icon: ":wastebasket:", title: "removed from git" },
  retried: { icon: ":repeat:", title: "retry requested" },
  held: { icon: ":lock:", title: "held aborted in git" },
  "command-ignored": { icon: ":information_source:", title: "command ignored" },
  "traffic-failed": { icon: ":rotating_light:", title: "traffic not applied" },
  refused: { icon: ":no_entry_sign:", title: "refused: route managed by another Rollout" },
  waiting: { icon: ":hourglass_flowing_sand:", title: "waiting for ready pods" },
  "stable-unready": { icon: ":rotating_light:", title: "stable has no ready pods" },
};

const OUTCOME_ICONS: Record<MetricResult["outcome"], string> = {
  pass: ":white_check_mark:",
  fail: ":x:",
  inconclusive: ":grey_question:",
  error: ":warning:",
};

/** `buttons`: Promote and Abort on the messages of a release in flight (the controller has a Slack app's signing secret). */
export function slackMessage(notice: Notice, notificationContext: NotificationContext = {}, options: { buttons?: boolean } = {}): SlackMessage {
  if (isSyncEvent(notice)) return syncProblemMessage(notice);
  const event = notice;
  const { rollout, commit } = notificationContext;
  const { icon, title } = PRESENTATION[event.kind];
  const blocks: SlackBlock[] = [header(`${icon} ${event.rollout.name} ${event.version} ${title}`), section(escapeText(event.message), releaseFields(event)), ...detailBlocks(event, rollout)];
  if (commit) blocks.push(context([commitLine(commit)]));
  const buttons = options.buttons ? actionButtons(event) : undefined;
  if (buttons) blocks.push(buttons);
  const channel = rollout?.spec.notifications?.slack?.channel;
  return { text: escapeText(oneLine(event.message, FALLBACK_TEXT_LIMIT)), blocks, ...(channel !== undefined ? { channel } : {}) };
}

function releaseFields(event: ReleaseEvent): string[] {
  const { name, namespace } = event.rollout;
  const out = [`*Rollout*\n${code(name)} in ${code(namespace)}`];
  // A Refused Rollout may have adopted nothing: there is no stable version to show.
  if (event.kind === "refused") return [...out, `*Version in git*\n${code(event.version)}`];
  out.push(event.version === event.stableVersion ? `*Stable*\n${code(event.stableVersion)}` : `*Stable → canary*\n${code(event.stableVersion)} → ${code(event.version)}`);
  if (event.releaseId !== undefined) out.push(`*Release*\n#${event.releaseId}`);
  return out;
}

function detailBlocks(event: ReleaseEvent, rollout: Rollout | undefined): SlackBlock[] {
  const details = event.details;
  const blocks: SlackBlock[] = [];
  const progress = progressFields(details);
  if (progress.length > 0) blocks.push(fields(progress));
  switch (event.kind) {
    case "started": {
      const steps = numberDetail(details, "steps");
      if (steps !== undefined) blocks.push(section(`${steps} step${steps === 1 ? "" : "s"}; traffic stays 100% on ${code(event.stableVersion)} until the first weight step.`));
      break;
    }
    case "check-failed":
    case "check-inconclusive":
    case "check-error": {
      const results = resultsDetail(details);
      if (results.length > 0) blocks.push(section(results.map((r) => metricLine(r, rollout)).join("\n")));
      break;
    }
    case "paused":
      blocks.push(...pausedBlocks(event, stringDetail(details, "reason")));
      break;
    case "rolled-back":
    case "aborted":
      blocks.push(...failedBlocks(event));
      break;
    case "refused": {
      const owner = stringDetail(details, "owner");
      if (owner !== undefined) blocks.push(section(`*Managed by*\nRollout ${code(owner)}. This one changes no traffic until that Rollout gives the route up.`));
      break;
    }
    case "waiting": {
      const waiting = stringDetail(details, "waitingFor");
      if (waiting !== undefined) blocks.push(section(`*Waiting for*\n${escapeText(waiting)}. The step's traffic moves once it is ready; the progress deadline bounds the wait.`));
      break;
    }
    case "command-ignored": {
      const command = stringDetail(details, "command");
      if (command !== undefined) blocks.push(section(`*Command*\n${code(command)}`));
      break;
    }
    default: {
      const reason = stringDetail(details, "reason");
      if (reason !== undefined) blocks.push(section(`*Reason*\n${escapeText(reason)}`));
    }
  }
  return blocks;
}

function progressFields(details: ReleaseEvent["details"]): string[] {
  const out: string[] = [];
  const step = stringDetail(details, "step");
  if (step !== undefined) out.push(`*Progress*\n${escapeText(progressBar(step) ?? step)}`);
  const weight = numberDetail(details, "weight");
  if (weight !== undefined) out.push(`*Canary weight*\n${weight}%`);
  const route = stringDetail(details, "headerRoute");
  if (route !== undefined) out.push(`*Header route*\n${code(route)} → canary`);
  return out;
}

/** ":x: *success-rate*: `0.91` (min 0.99): 0.91 < 0.99" */
function metricLine(result: MetricResult, rollout: Rollout | undefined): string {
  const value = result.value === null ? "no data" : code(formatNumber(result.value));
  const metric = rollout?.spec.analysis?.metrics.find((m) => m.name === result.name);
  const bounds = [metric?.min !== undefined ? `min ${metric.min}` : "", metric?.max !== undefined ? `max ${metric.max}` : ""].filter(Boolean).join(", ");
  const threshold = bounds ? ` (${bounds})` : "";
  const message = result.message ? `: ${escapeText(result.message)}` : "";
  return `${OUTCOME_ICONS[result.outcome]} *${escapeText(result.name)}*: ${value}${threshold}${message}`;
}

function pausedBlocks(event: ReleaseEvent, reason: string | undefined): SlackBlock[] {
  const { name, namespace } = event.rollout;
  const target = `${name} -n ${namespace}`;
  const atGate = reason === "gate";
  const why = atGate
    ? "Waiting at a manual gate for a promote."
    : reason === "manual"
      ? "Paused by hand."
      : reason === "inconclusive"
        ? "Paused: too many inconclusive checks in a row."
        : reason === "error"
          ? "Paused: too many analysis errors in a row."
          : reason === "deadline"
            ? "Paused: the progress deadline passed."
            : "Paused.";
  const proceed = atGate
    ? [`kubectl annotate rollout ${target} tideway.io/promote=step`, `tideway promote ${target}`]
    : [`kubectl annotate rollout ${target} tideway.io/resume=true`, `tideway resume ${target}`];
  const stop = [`kubectl annotate rollout ${target} tideway.io/abort="stopped by hand"`, `tideway abort ${target}`];
  return [section(why), section(`*To continue*\n${codeBlock(proceed)}`), section(`*To stop* (100% back to ${code(event.stableVersion)})\n${codeBlock(stop)}`)];
}

function failedBlocks(event: ReleaseEvent): SlackBlock[] {
  const details = event.details;
  const facts: string[] = [];
  const reason = stringDetail(details, "reason");
  if (reason !== undefined) facts.push(`*Reason*\n${escapeText(reason)}`);
  const by = stringDetail(details, "by");
  if (by !== undefined) facts.push(`*By*\n${escapeText(by)}`);
  const failed = numberDetail(details, "failedChecks");
  const limit = numberDetail(details, "failureLimit");
  if (failed !== undefined) facts.push(`*Failed checks*\n${failed}${limit !== undefined ? ` (limit ${limit})` : ""}`);
  facts.push(`*Traffic*\n100% to ${code(event.stableVersion)}`);
  const target = `${event.rollout.name} -n ${event.rollout.namespace}`;
  return [fields(facts), section(`*To try ${code(event.version)} again*\n${codeBlock([`kubectl annotate rollout ${target} tideway.io/retry=true`, `tideway retry ${target}`])}`)];
}

function codeBlock(lines: string[]): string {
  return `\`\`\`${lines.map(escapeText).join("\n")}\`\`\``;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

function stringDetail(details: ReleaseEvent["details"], key: string): string | undefined {
  const value = details[key];
  return typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : undefined;
}

function numberDetail(details: ReleaseEvent["details"], key: string): number | undefined {
  const value = details[key];
  return typeof value === "number" ? value : undefined;
}

function resultsDetail(details: ReleaseEvent["details"]): MetricResult[] {
  const value = details["results"];
  return Array.isArray(value) ? value : [];
}
