/**
 * A Promote or Abort button pressed in Slack: judged against the live Rollout, given as the same
 * annotation the CLI writes, and answered through the press's response_url: the message updated
 * with who did what once the controller has acted, or a word to the presser alone when nothing was done.
 */
import type { SlackButtonPress } from "../http/slack-requests.js";
import { awaitCommandResult, giveCommand, type GivenCommand } from "../kube/commands.js";
import { isNotFound } from "../kube/errors.js";
import type { RolloutObject, RolloutStore } from "../kube/rollouts.js";
import { answeredBlocks, ButtonValueSchema, judgeAction, outcomeLine, presserName, SLACK_ACTION_IDS, type ButtonValue, type SlackActionName } from "../notify/slack-actions.js";
import { postJson } from "../notify/post.js";
import { RolloutSpecSchema } from "../rollout/schema.js";
import { RolloutStatusSchema } from "../rollout/status.js";
import type { Logger } from "./log.js";

export interface SlackPressOptions {
  rollouts: RolloutStore;
  /**
   * Takes a button for `presser` (a double click, or two people at once, must not promote two
   * steps); the name of whoever took it first when it is taken already. Shared by every replica.
   */
  claimButton: (button: string, presser: string) => Promise<ButtonClaim>;
  log: Logger;
  /** How long to wait for the controller to act on the command before saying it has not yet. Default 15 s. */
  ackTimeoutMs?: number;
}

/** Taken (and `undo` gives it back, when the command could not be written), or taken already by someone. */
export type ButtonClaim = { taken: true; undo: () => Promise<void> } | { takenBy: string };

export class SlackPresses {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: SlackPressOptions) {}

  /** Acts on a verified press; returns once the command is written (or refused), and answers Slack after. */
  async handle(press: SlackButtonPress): Promise<void> {
    const action = actionOf(press.actionId);
    const button = ButtonValueSchema.safeParse(parseJson(press.value));
    const fields = { slackUser: press.user.id, action: action ?? "unknown" };
    if (!action || !button.success) {
      this.options.log.info(fields, "slack press refused: not a Tideway button");
      return this.answerLater(press, ephemeral(`Tideway does not know this button (${press.actionId.slice(0, 40)}). Nothing was changed.`));
    }
    const { namespace, name } = button.data.rollout;
    try {
      await this.act(press, action, button.data);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.options.log.warn({ ...fields, rollout: `${namespace}/${name}`, err: reason }, "slack press failed");
      this.answerLater(press, ephemeral(`Tideway could not ${action} ${name}: ${reason}. Try again, or use \`tideway ${action} ${name} -n ${namespace}\`.`));
    }
  }

  private async act(press: SlackButtonPress, action: SlackActionName, button: ButtonValue): Promise<void> {
    const fields = { slackUser: press.user.id, action };
    const { namespace, name } = button.rollout;
    const object = await this.read(namespace, name);
    const spec = object ? RolloutSpecSchema.safeParse(object.spec).data : undefined;
    const verdict = judgeAction({
      action,
      button,
      presser: press.user,
      approvers: spec?.notifications?.slack?.approvers,
      status: object ? RolloutStatusSchema.safeParse(object.status).data : undefined,
      exists: object !== undefined,
    });
    const rollout = `${namespace}/${name}`;
    if ("refuse" in verdict) {
      this.options.log.info({ ...fields, rollout, release: button.release, refused: verdict.refuse }, "slack press refused");
      return this.answerLater(press, ephemeral(verdict.refuse));
    }
    const claim = await this.options.claimButton(`${action}:${JSON.stringify(button)}`, presserName(press.user));
    if ("takenBy" in claim) {
      this.options.log.info({ ...fields, rollout, release: button.release, takenBy: claim.takenBy }, "slack press refused: button already pressed");
      return this.answerLater(
        press,
        ephemeral(`${claim.takenBy} already pressed ${action === "promote" ? "Promote" : "Abort"} on this message of ${name} ${button.version}. Nothing more was changed.`),
      );
    }
    let given: GivenCommand;
    try {
      given = await giveCommand(this.options.rollouts, { namespace, name, ...verdict.give });
    } catch (error) {
      await claim.undo();
      throw error;
    }
    this.options.log.info({ ...fields, rollout, release: button.release, by: verdict.give.by }, "slack press: command written");
    this.track(
      (async () => {
        const recorded = await awaitCommandResult(this.options.rollouts, given, this.options.ackTimeoutMs ?? 15_000, sleep);
        if (!recorded) {
          await this.answer(press, ephemeral(`${presserName(press.user)}'s ${action} of ${name} is written but not acted on yet; \`tideway status ${name} -n ${namespace}\` shows when it is.`));
        } else if (recorded.result.startsWith("ignored")) {
          await this.answer(press, ephemeral(`${action} of ${name} by ${presserName(press.user)} changed nothing: ${recorded.result}.`));
        } else {
          const line = outcomeLine(action, press.user, recorded.result);
          await this.answer(press, { replace_original: true, text: line, blocks: answeredBlocks(press.message?.blocks, line) });
        }
      })(),
    );
  }

  /** Waits for the answers still being sent (at shutdown). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private async read(namespace: string, name: string): Promise<RolloutObject | undefined> {
    try {
      return await this.options.rollouts.get(namespace, name);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private answerLater(press: SlackButtonPress, body: Record<string, unknown>): void {
    this.track(this.answer(press, body));
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.options.log.warn({ err: error instanceof Error ? error.message : String(error) }, "slack press not answered"));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Posts to the press's response_url; the URL is never logged (it lets anyone post to the channel for 30 minutes). */
  private async answer(press: SlackButtonPress, body: Record<string, unknown>): Promise<void> {
    const result = await postJson(press.responseUrl, body, { readErrorCode: true, timeoutMs: 10_000 });
    if (result.outcome !== "delivered") this.options.log.warn({ status: result.status, ...(result.reason !== undefined ? { reason: result.reason } : {}) }, "slack answer not delivered");
  }
}

/** A word to the presser alone; the message stays as it was. */
function ephemeral(text: string): Record<string, unknown> {
  return { response_type: "ephemeral", replace_original: false, text };
}

function actionOf(actionId: string): SlackActionName | undefined {
  return (Object.keys(SLACK_ACTION_IDS) as SlackActionName[]).find((name) => SLACK_ACTION_IDS[name] === actionId);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
