// Placeholder: being written (parser with file:line:column errors). Interface agreed below.
import type { Rollout } from "./model.js";
import type { RolloutDocument } from "./schema.js";

/** One problem in a file, positioned for editors and CI logs. */
export interface Problem {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
  /** Field path such as "spec.steps[1].setWeight"; "" for the whole document. */
  path: string;
  message: string;
  /** Name and namespace of the Rollout the problem belongs to, when they could be read. */
  rollout?: { name: string; namespace: string };
}

export interface ParsedRollout {
  file: string;
  line: number;
  column: number;
  document: RolloutDocument;
  rollout: Rollout;
}

export interface ParseResult {
  rollouts: ParsedRollout[];
  problems: Problem[];
}

export function parseRolloutFile(_file: string, _text: string): ParseResult {
  throw new Error("not implemented yet");
}
