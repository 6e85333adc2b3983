/**
 * The dashboard's buttons as commands: each is the annotation `tideway <command>` writes, its value
 * made by the CLI's own code (src/cli/control.ts) and written by the same giveCommand
 * (src/kube/commands.ts) as the CLI and the Slack buttons, so the controller cannot tell them apart.
 */
import { commandValue } from "../cli/control.js";
import type { CommandName } from "../rollout/status.js";
import { ACTIONS, type ActionName } from "./view.js";

export type ActionCommand = { ok: true; command: CommandName; value: string } | { ok: false; status: 400 | 404; error: string };

/** Longest reason accepted: the annotation's value, shown in status, Events and Slack. */
export const REASON_LIMIT = 500;

export function isAction(name: string): name is ActionName {
  return (ACTIONS as readonly string[]).includes(name);
}

/** The command a button gives; abort needs a reason (the dialog asks for one). */
export function actionCommand(action: string, reason: string | undefined): ActionCommand {
  if (!isAction(action)) return { ok: false, status: 404, error: `unknown action "${action}": expected one of ${ACTIONS.join(", ")}` };
  const why = reason?.trim() ?? "";
  if (why.length > REASON_LIMIT) return { ok: false, status: 400, error: `reason too long: at most ${REASON_LIMIT} characters` };
  switch (action) {
    case "promote":
      return { ok: true, command: "promote", value: commandValue("promote", {}) };
    case "promote-full":
      return { ok: true, command: "promote", value: commandValue("promote", { full: true }) };
    case "abort":
      if (why === "") return { ok: false, status: 400, error: "abort needs a reason" };
      return { ok: true, command: "abort", value: commandValue("abort", { reason: why }) };
    case "pause":
      return { ok: true, command: "pause", value: commandValue("pause", { reason: why }) };
    case "resume":
    case "retry":
      return { ok: true, command: action, value: commandValue(action, {}) };
  }
}
