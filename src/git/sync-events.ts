/**
 * The problems a git sync finds, as sync events with ids derived from the problem itself (see
 * rollout/sync-event.ts), and which of them stand after one sync.
 */
import { createHash } from "node:crypto";
import { shortSha, type Commit } from "../rollout/commit.js";
import { formatProblem, type Problem } from "../rollout/problem.js";
import { GIT_SOURCE_NAME, type StandingProblems, type SyncEvent } from "../rollout/sync-event.js";
import type { SyncOutcome } from "./sync.js";

/**
 * What a sync says about the problems in git: the bad files (and refused Rollouts) of a synced
 * commit, or the commit the signature check refused. A commit that was synced settles any
 * unverified one; a refused commit leaves the bad files as they were.
 */
export function standingProblems(outcome: SyncOutcome, controllerNamespace: string): StandingProblems {
  switch (outcome.result) {
    case "unchanged":
      return {};
    case "unverified":
      return { unverified: [unverifiedCommitEvent(outcome.commit, outcome.reason ?? "", controllerNamespace)] };
    case "synced":
    case "retried": {
      const problems = [...outcome.problems, ...(outcome.mirror?.rejected ?? []).map((r) => r.problem)];
      return { invalid: problems.map((problem) => invalidFileEvent(problem, outcome.commit, controllerNamespace)), unverified: [] };
    }
  }
}

/** A bad file: its file:line:column, the field and what is wrong, on the Rollout when it could be named. */
export function invalidFileEvent(problem: Problem, commit: Commit, controllerNamespace: string): SyncEvent {
  const message = formatProblem(problem);
  return {
    id: `invalid-${digest(message)}`,
    kind: "invalid",
    severity: "warning",
    message,
    rollout: problem.rollout ?? { namespace: controllerNamespace, name: GIT_SOURCE_NAME },
    commit,
    details: { file: problem.file, line: problem.line, column: problem.column, path: problem.path, message: problem.message },
  };
}

/** A commit refused by the signature check: nothing of it is applied. */
export function unverifiedCommitEvent(commit: Commit, reason: string, controllerNamespace: string): SyncEvent {
  return {
    id: `unverified-${commit.sha}`,
    kind: "unverified",
    severity: "warning",
    message: `commit ${shortSha(commit.sha)} not applied: ${reason}`,
    rollout: { namespace: controllerNamespace, name: GIT_SOURCE_NAME },
    commit,
    details: { reason },
  };
}

// The digest a bad file's notification had before sync events had ids, so an upgrade re-posts nothing.
function digest(message: string): string {
  return createHash("sha256")
    .update(JSON.stringify([null, "invalid", message]))
    .digest("hex")
    .slice(0, 16);
}
