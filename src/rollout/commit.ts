/**
 * The git commit that carried a change. Git produces it, the mirror records it on the Rollout
 * (tideway.io/commit*), and notifications show it: one type for the whole pipeline.
 */
export interface Commit {
  sha: string;
  author?: string;
  /** The commit message's first line. */
  subject?: string;
}

/** "1a2b3c4": the abbreviation people see in messages and Events. */
export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}
