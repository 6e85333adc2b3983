/**
 * The git commit that carried a change. Git produces it, the mirror records it on the Rollout
 * (tideway.io/commit*), and notifications and the dashboard show it: one type for the whole pipeline.
 */
import { COMMIT_ANNOTATION, COMMIT_AUTHOR_ANNOTATION, COMMIT_SUBJECT_ANNOTATION } from "./annotations.js";

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

/** The commit a Rollout object's spec came from, as the git sync recorded it in its annotations. */
export function commitFromAnnotations(annotations: Record<string, string> | undefined): Commit | undefined {
  const sha = annotations?.[COMMIT_ANNOTATION];
  if (sha === undefined) return undefined;
  const author = annotations?.[COMMIT_AUTHOR_ANNOTATION];
  const subject = annotations?.[COMMIT_SUBJECT_ANNOTATION];
  return { sha, ...(author !== undefined ? { author } : {}), ...(subject !== undefined ? { subject } : {}) };
}
