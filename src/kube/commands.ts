/**
 * Giving a manual command on the live Rollout: the one annotation (`tideway.io/<command>`, with
 * `tideway.io/by`) that kubectl, the CLI and the Slack buttons all write, and the controller's
 * acknowledgement of it (recorded in status.commands, annotation removed).
 */
import { CLAIMED_ANNOTATION, COMMAND_BY_ANNOTATION, commandAnnotation } from "../rollout/annotations.js";
import { RolloutStatusSchema, type CommandName, type CommandRecord } from "../rollout/status.js";
import type { RolloutStore } from "./rollouts.js";

export interface CommandRequest {
  namespace: string;
  name: string;
  command: CommandName;
  value: string;
  /** Who is asking: recorded as the command's user. */
  by?: string;
}

/** A command written and not yet acknowledged: what to wait for. */
export interface GivenCommand {
  request: CommandRequest;
  /** Ids of the commands status recorded before this one was written: a new id is this one's. */
  before: ReadonlySet<string>;
}

/** Writes `tideway.io/<command>` (and `tideway.io/by`) on the live Rollout. */
export async function giveCommand(store: RolloutStore, request: CommandRequest): Promise<GivenCommand> {
  const { namespace, name, command, value } = request;
  const object = await store.get(namespace, name);
  const before = new Set((RolloutStatusSchema.safeParse(object.status).data?.commands ?? []).flatMap((c) => (c.id !== undefined ? [c.id] : [])));
  await store.patchMetadata(namespace, name, { annotations: { [commandAnnotation(command)]: value, ...(request.by !== undefined ? { [COMMAND_BY_ANNOTATION]: request.by } : {}) } });
  return { request, before };
}

/**
 * The controller's record of a given command once it has acted on it and removed the annotation;
 * undefined when that has not happened by `timeoutMs`.
 */
export async function awaitCommandResult(store: RolloutStore, given: GivenCommand, timeoutMs: number, sleep: (ms: number) => Promise<void>): Promise<CommandRecord | undefined> {
  const { namespace, name, command } = given.request;
  const annotation = commandAnnotation(command);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(100);
    const object = await store.get(namespace, name);
    const status = RolloutStatusSchema.safeParse(object.status).data;
    const recorded = status?.commands.findLast((c) => c.command === command && c.source === "annotation" && c.id !== undefined && !given.before.has(c.id));
    const annotations = object.metadata.annotations ?? {};
    if (annotations[annotation] === undefined && annotations[CLAIMED_ANNOTATION] === undefined && recorded) return recorded;
  }
  return undefined;
}
