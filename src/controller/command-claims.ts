/**
 * The claim protocol that applies a command exactly once across a crash: the command annotations
 * (and tideway.io/by) are moved into tideway.io/claimed with fresh ids in one guarded write, status
 * records the ids of the commands it acted on, and the claim is cleared after. A claim whose ids
 * status already records is not acted on again.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { isConflict } from "../kube/errors.js";
import type { RolloutObject, RolloutStore } from "../kube/rollouts.js";
import { CLAIMED_ANNOTATION, COMMAND_BY_ANNOTATION, commandAnnotation } from "../rollout/annotations.js";
import { ClaimedCommandSchema, COMMANDS, type ClaimedCommand, type CommandName } from "../rollout/status.js";

export interface Claim {
  /** The object after the claim was written. */
  object: RolloutObject;
  /** Every claimed command, those of an earlier claim that was not cleared included. */
  commands: ClaimedCommand[];
  /** The claim as written, to clear it only if nobody changed it meanwhile. */
  text: string | undefined;
}

/**
 * Moves the command annotations into tideway.io/claimed, each with a new id, in one write with a
 * resourceVersion precondition (a conflict retries the job). `recorded`: ids status already holds.
 */
export async function claimCommands(store: RolloutStore, object: RolloutObject, recorded: ReadonlySet<string>): Promise<Claim> {
  const annotations = object.metadata.annotations ?? {};
  // Those status already records are dropped from a new claim, so they cannot come back.
  const earlier = parseClaimed(annotations[CLAIMED_ANNOTATION]).filter((c) => !recorded.has(c.id));
  const fresh = commandsOf(object);
  if (fresh.length === 0) return { object, commands: earlier, text: annotations[CLAIMED_ANNOTATION] };
  const user = commandUser(annotations[COMMAND_BY_ANNOTATION]);
  const commands = [...earlier, ...fresh.map((c): ClaimedCommand => ({ id: randomUUID(), command: c.name, value: c.value, ...(user !== undefined ? { user } : {}) }))];
  const text = JSON.stringify(commands);
  const changes: Record<string, string | null> = { [CLAIMED_ANNOTATION]: text };
  for (const c of fresh) changes[c.annotation] = null;
  if (annotations[COMMAND_BY_ANNOTATION] !== undefined) changes[COMMAND_BY_ANNOTATION] = null;
  const claimed = await store.patchMetadata(object.metadata.namespace, object.metadata.name, { annotations: changes, resourceVersion: object.metadata.resourceVersion });
  return { object: claimed, commands, text };
}

/**
 * Removes tideway.io/claimed unless another claim changed it meanwhile (the next pass takes that
 * one). `reread`: the object had to be read again, so it may hold a change this pass did not act on.
 */
export async function clearClaim(store: RolloutStore, object: RolloutObject, text: string | undefined): Promise<{ object: RolloutObject; reread: boolean }> {
  let current = object;
  let reread = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (current.metadata.annotations?.[CLAIMED_ANNOTATION] !== text) return { object: current, reread };
    try {
      return {
        object: await store.patchMetadata(current.metadata.namespace, current.metadata.name, { annotations: { [CLAIMED_ANNOTATION]: null }, resourceVersion: current.metadata.resourceVersion }),
        reread,
      };
    } catch (error) {
      if (!isConflict(error)) throw error;
      current = await store.get(current.metadata.namespace, current.metadata.name);
      reread = true;
    }
  }
  return { object: current, reread };
}

function commandsOf(object: RolloutObject): { name: CommandName; value: string; annotation: string }[] {
  const annotations = object.metadata.annotations ?? {};
  return COMMANDS.flatMap((name) => {
    const annotation = commandAnnotation(name);
    const value = annotations[annotation];
    return value === undefined ? [] : [{ name, value, annotation }];
  });
}

/** The commands of tideway.io/claimed; an unreadable value (edited by hand) claims nothing. */
function parseClaimed(text: string | undefined): ClaimedCommand[] {
  if (text === undefined) return [];
  try {
    const parsed = z.array(ClaimedCommandSchema).safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

/** A name fit for status and messages: one line, printable, at most 100 characters. */
function commandUser(value: string | undefined): string | undefined {
  const cleaned =
    value === undefined
      ? undefined
      : [...value]
          .map((c) => (c < " " || c === "\u007f" ? " " : c))
          .join("")
          .trim()
          .slice(0, 100);
  return cleaned === undefined || cleaned === "" ? undefined : cleaned;
}
