/**
 * The Promote and Abort buttons of Slack messages, and what a press of one comes to. Pure: the
 * buttons are built from the event; a press is judged against the live Rollout's status and its
 * `notifications.slack.approvers`, into the command to give or the answer to the person.
 * https://api.slack.com/reference/block-kit/block-elements#button
 */
import { z } from "zod";
import type { ReleaseEvent } from "../rollout/engine.js";
import type { RolloutStatus } from "../rollout/status.js";
import { escapeText, type SlackBlock, type SlackButton } from "./slack-blocks.js";

/** The buttons' action ids: what a press names, and all this endpoint acts on. */
export const SLACK_ACTION_IDS = { promote: "tideway-promote", abort: "tideway-abort" } as const;
export type SlackActionName = keyof typeof SLACK_ACTION_IDS;

/** Messages of a release in flight: a running canary, a step, a wait, a pause (a manual gate among them). */
const BUTTON_KINDS: readonly ReleaseEvent["kind"][] = ["started", "step", "resumed", "waiting", "paused"];

/** The abort's reason: a button has no text field; `tideway abort --reason` gives one. */
export const SLACK_ABORT_REASON = "aborted from Slack";

/**
 * What a button was sent for, carried in its value: the Rollout, the release and its version, and
 * the step (a promote completes the current step, so one pressed on an older step's message is stale).
 */
export const ButtonValueSchema = z.strictObject({
  rollout: z.strictObject({ namespace: z.string().min(1).max(63), name: z.string().min(1).max(63) }),
  release: z.int().min(1),
  version: z.string().min(1).max(63),
  step: z.string().max(20).optional(),
});
export type ButtonValue = z.output<typeof ButtonValueSchema>;

/** The buttons of `event`'s message, or undefined when it is not about a release in flight. */
export function actionButtons(event: ReleaseEvent): SlackBlock | undefined {
  if (!BUTTON_KINDS.includes(event.kind) || event.releaseId === undefined || event.version === event.stableVersion) return undefined;
  const step = event.kind === "started" ? firstStep(event.details["steps"]) : event.details["step"];
  const value: ButtonValue = { rollout: event.rollout, release: event.releaseId, version: event.version, ...(typeof step === "string" ? { step } : {}) };
  const text = JSON.stringify(value);
  const atGate = event.kind === "paused" && event.details["reason"] === "gate";
  const target = `${event.rollout.name} ${event.version}`;
  const promote: SlackButton = {
    type: "button",
    action_id: SLACK_ACTION_IDS.promote,
    text: plain("Promote"),
    value: text,
    style: "primary",
    // Past a manual gate a promote is what the release waits for; anywhere else it skips the rest of a step and its checks.
    ...(atGate
      ? {}
      : {
          confirm: dialog(`Promote ${target}?`, `Completes step ${typeof step === "string" ? step : "now in progress"} at once, without waiting for the rest of its bake time or checks.`, "Promote"),
        }),
  };
  const abort: SlackButton = {
    type: "button",
    action_id: SLACK_ACTION_IDS.abort,
    text: plain("Abort"),
    value: text,
    style: "danger",
    confirm: { ...dialog(`Abort ${target}?`, `Sends 100% of traffic back to ${event.stableVersion} and marks ${event.version} aborted.`, "Abort"), style: "danger" },
  };
  return { type: "actions", block_id: `tideway-${event.releaseId}`, elements: [promote, abort] };
}

export interface SlackPresser {
  id: string;
  username?: string;
}

export type ActionVerdict =
  /** Write `tideway.io/<command>=<value>` with `tideway.io/by: <by>`. */
  | { give: { command: SlackActionName; value: string; by: string } }
  /** Change nothing; tell the person this. */
  | { refuse: string };

/**
 * What a press of `action` by `presser` on a button sent for `button` comes to, given the live
 * Rollout's status (undefined when the Rollout is gone) and its approvers.
 */
export function judgeAction(input: {
  action: SlackActionName;
  button: ButtonValue;
  presser: SlackPresser;
  approvers: readonly string[] | undefined;
  status: RolloutStatus | undefined;
  exists: boolean;
}): ActionVerdict {
  const { action, button, presser, approvers, status } = input;
  const { namespace, name } = button.rollout;
  if (!input.exists) return { refuse: `this release has moved on: Rollout ${namespace}/${name} no longer exists. Nothing was changed.` };
  if (approvers !== undefined && !mayApprove(presser, approvers)) {
    return { refuse: `${presserName(presser)} may not ${action} ${name} in ${namespace}: its notifications.slack.approvers does not name you. Nothing was changed.` };
  }
  const sentFor = `${name} ${button.version} (release #${button.release})`;
  const release = status?.release;
  if (!status || !release) {
    const now = status ? `${name} is ${status.phase} on ${status.stableVersion}${status.message ? ` (${status.message})` : ""}` : `${name} has no status yet`;
    return { refuse: `this release has moved on: ${sentFor} is no longer in flight; ${now}. Nothing was changed.` };
  }
  if (release.id !== button.release || release.version !== button.version) {
    return { refuse: `this release has moved on: ${name} is releasing ${release.version} (release #${release.id}) now, not ${sentFor}. Nothing was changed.` };
  }
  if (action === "promote" && button.step !== undefined && status.step !== button.step) {
    return { refuse: `this release has moved on: ${name} ${release.version} is at step ${status.step} now, not ${button.step}; promote from its latest message. Nothing was changed.` };
  }
  return { give: { command: action, value: action === "promote" ? "step" : SLACK_ABORT_REASON, by: slackUser(presser) } };
}

/** The person as `tideway.io/by` records them: "slack:@ana (U024BE7LH)". */
export function slackUser(presser: SlackPresser): string {
  return presser.username ? `slack:@${presser.username} (${presser.id})` : `slack:${presser.id}`;
}

/** "@ana", or the user id when Slack sent no name. */
export function presserName(presser: SlackPresser): string {
  return presser.username ? `@${presser.username}` : presser.id;
}

/** An approver entry names the presser by user id, or by user name with or without its "@". */
export function mayApprove(presser: SlackPresser, approvers: readonly string[]): boolean {
  return approvers.some((entry) => entry === presser.id || (presser.username !== undefined && entry.replace(/^@/, "") === presser.username));
}

/** The line the original message gets once the controller acted: "Promoted by @ana: completed step 2/4". */
export function outcomeLine(action: SlackActionName, presser: SlackPresser, result: string): string {
  return action === "promote" ? `Promoted by ${presserName(presser)}: ${result}` : `Abort requested by ${presserName(presser)}: ${SLACK_ABORT_REASON} (${result})`;
}

/** The original message's blocks with its buttons taken off (they have been used), and `line` under them. */
export function answeredBlocks(original: readonly unknown[] | undefined, line: string): unknown[] {
  const kept = (original ?? []).filter((block) => !(typeof block === "object" && block !== null && "type" in block && block.type === "actions"));
  return [...kept, { type: "context", elements: [{ type: "mrkdwn", text: escapeText(line) }] }];
}

function firstStep(steps: unknown): string | undefined {
  return typeof steps === "number" && steps > 0 ? `1/${steps}` : undefined;
}

function plain(text: string): { type: "plain_text"; text: string } {
  return { type: "plain_text", text };
}

function dialog(title: string, text: string, confirm: string): NonNullable<SlackButton["confirm"]> {
  // Slack's limits: a title of 100 characters, a text of 300.
  return { title: plain(title.slice(0, 100)), text: plain(text.slice(0, 300)), confirm: plain(confirm), deny: plain("Cancel") };
}
