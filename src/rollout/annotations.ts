/**
 * Every name Tideway writes or reads in object metadata: annotations, the source label and the
 * finalizer. One place, so the mirror, the reconciler, the CLI and the traffic adapter agree.
 */
import type { CommandName } from "./status.js";

/** Tideway's annotations all start with this; in git only ABORT_ANNOTATION may. */
export const TIDEWAY_PREFIX = "tideway.io/";

/** The one tideway.io/ annotation a Rollout may carry in git: it holds that version aborted. */
export const ABORT_ANNOTATION = "tideway.io/abort";

/** One-shot commands on the live Rollout: `tideway.io/abort`, `tideway.io/promote`, ... */
export function commandAnnotation(command: CommandName): string {
  return `${TIDEWAY_PREFIX}${command}`;
}

/** Who gave the commands on a Rollout (the CLI writes it with each command); removed with them. */
export const COMMAND_BY_ANNOTATION = "tideway.io/by";
/**
 * Commands taken from their annotations and not yet known to be recorded in status: a JSON list
 * of ClaimedCommand. Tideway moves commands here (one write) before acting on them, and clears it
 * once status records their ids, so a crash in between neither loses a command nor applies it twice.
 */
export const CLAIMED_ANNOTATION = "tideway.io/claimed";

/** The git source whose mirror made a Rollout object (a label, for selecting them). */
export const SOURCE_LABEL = "tideway.io/source";
/** The commit a Rollout object was mirrored from. */
export const COMMIT_ANNOTATION = "tideway.io/commit";
/** Who made the commit and its first line: for notifications. */
export const COMMIT_AUTHOR_ANNOTATION = "tideway.io/commit-author";
export const COMMIT_SUBJECT_ANNOTATION = "tideway.io/commit-subject";
/** The file in git a Rollout object came from. */
export const FILE_ANNOTATION = "tideway.io/file";
/** Git's `tideway.io/abort`, renamed so the controller never mistakes it for a one-shot command. */
export const HELD_ABORT_ANNOTATION = "tideway.io/held-abort";
/** The parse error of this Rollout's file, while its last good spec stays in force. */
export const INVALID_ANNOTATION = "tideway.io/invalid";

/**
 * On a VirtualService: which Rollout manages each route, `{"<route>": "<namespace>/<rollout>"}`
 * (see src/traffic/route-owners.ts).
 */
export const ROUTE_OWNERS_ANNOTATION = "tideway.io/route-owners";

/** Holds a deleted Rollout until its traffic is back on stable. */
export const FINALIZER = "tideway.io/traffic";

/** Labels on every workload Tideway manages (spec.workload): which Rollout, which version. */
export const ROLLOUT_LABEL = "tideway.io/rollout";
export const VERSION_LABEL = "tideway.io/version";
