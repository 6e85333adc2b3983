/**
 * What a git sync asks of the mirror (the Rollouts of one commit, to become Rollout objects) and
 * what the mirror reports back. The git side (src/git/sync.ts) and the cluster side
 * (src/kube/mirror.ts) both speak it; neither imports the other.
 */
import type { ParsedRollout } from "./parse.js";
import type { Problem } from "./problem.js";

export interface MirrorRequest {
  commit: string;
  commitAuthor?: string;
  commitSubject?: string;
  rollouts: ParsedRollout[];
  problems: Problem[];
  /** Every Rollout file in the tree now (a removed file's objects may be deleted). */
  files: ReadonlySet<string>;
  /** Apply only Rollouts from these files (the ones that changed); all when absent. */
  changedFiles?: ReadonlySet<string>;
}

export interface MirrorReport {
  applied: string[];
  deleted: string[];
  /** Objects kept although absent, because their file has errors. */
  retained: string[];
  /** Objects marked invalid, with their problem. */
  invalid: { key: string; problem: Problem }[];
  /**
   * Rollouts the API server refused for a reason of their own (their namespace does not exist,
   * RBAC forbids it, the object is invalid): reported like a bad file, tried again on later syncs,
   * and no reason to hold back the rest of the commit.
   */
  rejected: { key: string; file: string; problem: Problem }[];
  /** Failures that may pass (the API server unreachable, overloaded): the whole commit is tried again. */
  errors: string[];
}
