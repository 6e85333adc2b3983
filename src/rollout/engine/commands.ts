/** Manual control: abort, promote (step or full), pause, resume, retry. */
import { COMMAND_LIMIT } from "../status.js";
import type { Draft } from "./context.js";
import { advance, failRelease, nextStep, pauseRelease, promote, resumeRelease, startRelease } from "./progress.js";
import { readyFor } from "./readiness.js";
import type { Observation } from "./types.js";

type CommandObservation = Extract<Observation, { type: "command" }>;

/** Applies a command and records it (with what came of it) in status.commands. */
export function applyCommand(draft: Draft, command: CommandObservation): void {
  recordCommand(draft, command, execute(draft, command));
}

/** Records a command with what came of it; one that was ignored is announced, with why. */
export function recordCommand(draft: Draft, command: CommandObservation, result: string): void {
  draft.status.commands = [
    ...draft.status.commands,
    {
      command: command.command,
      value: command.value,
      source: command.source,
      ...(command.user !== undefined ? { user: command.user } : {}),
      at: draft.iso,
      result,
      ...(command.id !== undefined ? { id: command.id } : {}),
    },
  ].slice(-COMMAND_LIMIT);
  if (result.startsWith("ignored")) {
    draft.notify("command-ignored", `${draft.rollout.name}: ${command.command} ${result}`, { command: command.command });
  }
}

function by(command: CommandObservation): string {
  return command.user ? ` by ${command.user}` : "";
}

function execute(draft: Draft, command: CommandObservation): string {
  const release = draft.release;
  const phase = draft.status.phase;
  switch (command.command) {
    case "abort": {
      if (!release) return "ignored: no release in flight";
      const reason = command.value.trim() || "aborted by hand";
      failRelease(draft, "aborted", `${reason}${by(command)}`, { by: command.user ?? command.source });
      return `aborted ${release.version}`;
    }
    case "promote": {
      if (!release) return "ignored: no release in flight";
      const mode = command.value.trim() || "step";
      if (mode !== "step" && mode !== "full") return `ignored: expected "step" or "full", found "${mode}"`;
      if (mode === "full") {
        if (!readyFor(draft, release, 100)) return `ignored: ${release.version} is not ready for all traffic (${release.waitingFor ?? "not ready"})`;
        promote(draft, `promoted in full${by(command)}`);
        return `promoted ${release.version} in full`;
      }
      const label = draft.stepLabel(release.stepIndex);
      if (release.stepIndex >= draft.steps.length) {
        if (!readyFor(draft, release, 100)) return `ignored: ${release.version} is not ready for all traffic (${release.waitingFor ?? "not ready"})`;
        promote(draft, `final check skipped${by(command)}`);
        return `promoted ${release.version}`;
      }
      nextStep(draft, release);
      advance(draft);
      return `completed step ${label}`;
    }
    case "pause":
      if (!release) return "ignored: no release in flight";
      if (phase === "Paused") return "ignored: already paused";
      pauseRelease(draft, "manual", `paused by hand${by(command)}${command.value.trim() ? `: ${command.value.trim()}` : ""}`);
      return `paused at step ${draft.stepLabel(release.stepIndex)}`;
    case "resume": {
      if (!release || phase !== "Paused") return "ignored: nothing is paused";
      if (release.pauseReason === "gate") {
        const label = draft.stepLabel(release.stepIndex);
        nextStep(draft, release);
        advance(draft);
        return `completed step ${label}`;
      }
      resumeRelease(draft);
      advance(draft);
      return "resumed";
    }
    case "retry": {
      if (release) return "ignored: a release is in flight";
      const version = draft.rollout.spec.version;
      if ((phase !== "RolledBack" && phase !== "Aborted") || draft.status.canaryVersion !== version) {
        return "ignored: nothing to retry";
      }
      if (draft.rollout.heldAbort !== undefined) return `ignored: ${version} is held aborted in git (${draft.rollout.heldAbort})`;
      draft.notify("retried", `${draft.rollout.name} ${version}: retry requested${by(command)}`);
      startRelease(draft, version);
      return `retrying ${version}`;
    }
  }
}
