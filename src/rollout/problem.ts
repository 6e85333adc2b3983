/** A problem in a Rollout file, and the one way it is written for people: `file:line:column: field: message`. */

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

type Located = Pick<Problem, "file" | "line" | "column" | "path" | "message">;

const located = (problem: Located, label: string): string => `${problem.file}:${problem.line}:${problem.column}: ${label}${problem.path ? `${problem.path}: ` : ""}${problem.message}`;

/** `rollouts/reviews.yaml:12:7: spec.steps[1].setWeight: expected ..., found 150` */
export function formatProblem(problem: Located): string {
  return located(problem, "");
}

/** `rollouts/reviews.yaml:30:16: warning: spec.analysis.metrics[2].query: ...`: valid, but will not work as meant. */
export function formatWarning(warning: Located): string {
  return located(warning, "warning: ");
}
