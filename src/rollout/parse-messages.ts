/**
 * Zod issues as messages a user can act on: the field, what was expected and what was found.
 * The schema's own messages win; `describeIssue` fills in where the schema says nothing.
 */
import { z } from "zod";
import type { FieldPath, Target } from "./parse-positions.js";
import { closest } from "./template.js";

/** One problem found by the schema, before it is given a file and a position. */
export interface SchemaProblem {
  /** Path of the field the message is about; for unknown fields, of the map holding them. */
  path: FieldPath;
  /** Path the position is looked up at, with what it points to. */
  at: FieldPath;
  target: Target;
  message: string;
}

export const STATUS_IN_GIT = "status is written by Tideway and may not be set in git";

/** Error map for `safeParse`: messages for the issues the schema has no message of its own for. */
export function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input === undefined) return missingField(issue.path);
      const schema = issue.inst;
      if (schema instanceof z.ZodNumber) return `expected ${describeNumber(schema)}`;
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    }
    case "too_small":
    case "too_big": {
      const bound = Number(issue.code === "too_small" ? issue.minimum : issue.maximum);
      const atLeast = issue.code === "too_small";
      if (issue.origin === "number" && issue.schema instanceof z.ZodNumber) return `expected ${describeNumber(issue.schema)}`;
      if (issue.origin === "string" && atLeast && bound === 1) return "expected a non-empty string";
      const unit = issue.origin === "string" ? " characters" : issue.origin === "array" ? (bound === 1 ? " item" : " items") : "";
      return `expected ${atLeast ? "at least" : "at most"} ${bound}${unit}`;
    }
    case "invalid_format":
      return issue.format === "regex" && typeof issue.pattern === "string" ? `expected a string matching ${issue.pattern}` : `expected a valid ${issue.format}`;
    case "invalid_value":
      if (issue.input === undefined) return missingField(issue.path);
      return issue.values.length === 1 ? `expected ${quote(issue.values[0])}` : `expected one of ${issue.values.map(quote).join(", ")}`;
    case "invalid_union": {
      const expected = issue.errors.flatMap((branch) => branch.filter(isTypeMismatchAtRoot).map((i) => TYPE_NAMES[i.expected] ?? i.expected));
      return expected.length > 0 ? `expected ${expected.join(" or ")}` : "expected one of the allowed forms";
    }
    default:
      return undefined;
  }
}

function missingField(path: readonly PropertyKey[] | undefined): string {
  return `missing required field "${String(path?.at(-1) ?? "")}"`;
}

/**
 * Turns the issues of one `safeParse` (with `reportInput`) into problems: one per unknown key,
 * unions reported through the branch the input was meant for, and the found value appended.
 */
export function explainIssues(issues: readonly z.core.$ZodIssue[], schema: z.ZodType, prefix: FieldPath = []): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const located = issues.map((issue) => ({ issue, path: [...prefix, ...toFieldPath(issue.path)] }));
  // An unknown key is the cause of the complaints about the map it sits in (a step with no kind)
  // and about the field it was probably meant to be ("missing required field" for a typo).
  const mapsWithUnknownKeys = new Set<string>();
  const meantFields = new Set<string>();
  // Refinements of a map also run when one of its fields is malformed; their complaints then
  // echo that field's problem (a metric named "SuccessRate" is "not a built-in metric"). Zod does
  // not say which refinement raised an issue, so another field's own refinement waits too.
  const mapsWithBadFields = new Set<string>();
  for (const { issue, path } of located) {
    if (issue.code !== "unrecognized_keys") {
      if (issue.code !== "custom" && typeof path.at(-1) === "string") mapsWithBadFields.add(JSON.stringify(path.slice(0, -1)));
      continue;
    }
    const allowed = allowedKeys(schema, path);
    mapsWithUnknownKeys.add(JSON.stringify(path));
    mapsWithBadFields.add(JSON.stringify(path));
    for (const key of issue.keys) {
      const hint = closest(key, allowed);
      if (hint !== undefined) meantFields.add(JSON.stringify([...path, hint]));
      const message =
        path.length === 0 && key === "status"
          ? STATUS_IN_GIT
          : hint !== undefined
            ? `unknown field "${key}" (did you mean "${hint}"?)`
            : `unknown field "${key}"; expected one of ${allowed.join(", ")}`;
      problems.push({ path, at: [...path, key], target: "key", message });
    }
  }
  // One complaint per field about its own value: "" is both too short and not a name.
  const fieldsWithProblems = new Set<string>();
  for (const { issue, path } of located) {
    if (issue.code === "unrecognized_keys") continue;
    const key = JSON.stringify(path);
    if (meantFields.has(key)) continue;
    if (issue.code !== "custom") {
      if (fieldsWithProblems.has(key)) continue;
      fieldsWithProblems.add(key);
    }
    if (issue.code === "custom" && (mapsWithUnknownKeys.has(key) || (typeof path.at(-1) === "string" && mapsWithBadFields.has(JSON.stringify(path.slice(0, -1)))))) continue;
    if (issue.code === "invalid_union") {
      const branch = intendedBranch(issue);
      if (branch !== undefined) {
        problems.push(...explainIssues(branch, schema, path));
        continue;
      }
    }
    const missing = issue.input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_value");
    // A missing field is reported on the map that lacks it, like an unknown one.
    problems.push({ path: missing ? path.slice(0, -1) : path, at: path, target: missing ? "parent" : "value", message: withFound(issue) });
  }
  return problems;
}

const TYPE_NAMES: Partial<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean",
  object: "a map",
  record: "a map",
  array: "a list",
  null: "null",
};

function describeNumber(schema: z.ZodNumber): string {
  const kind = schema.isInt ? "an integer" : "a number";
  const min = bounded(schema.minValue);
  const max = bounded(schema.maxValue);
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min !== undefined) return `${kind} of at least ${min}`;
  if (max !== undefined) return `${kind} of at most ${max}`;
  return kind;
}

/** z.int() carries the safe-integer range as bounds; those are not worth telling anyone. */
function bounded(value: number | null): number | undefined {
  return value === null || !Number.isFinite(value) || Math.abs(value) >= Number.MAX_SAFE_INTEGER ? undefined : value;
}

function withFound(issue: z.core.$ZodIssue): string {
  if (issue.message.includes("found") || issue.message.startsWith("missing required field")) return issue.message;
  // Refinements of a whole step or metric describe it themselves; a refined scalar is worth quoting.
  if (issue.code === "custom" && !["string", "number", "boolean"].includes(typeof issue.input)) return issue.message;
  return `${issue.message}, found ${found(issue)}`;
}

/** What the document had where the issue is: bare where the kind was right and only the value wrong. */
function found(issue: z.core.$ZodIssue): string {
  const input = issue.input;
  switch (issue.code) {
    case "too_small":
    case "too_big":
      if (Array.isArray(input)) return input.length === 0 ? "an empty list" : `${input.length} items`;
      if (typeof input === "string" && issue.code === "too_big") return `${input.length} characters`;
      return typeof input === "string" ? shortQuote(input) : String(input);
    case "invalid_format":
      return typeof input === "string" ? shortQuote(input) : describeValue(input);
    case "invalid_type":
      return typeof input === "number" && (issue.expected === "number" || issue.expected === "int") ? String(input) : describeValue(input);
    case "invalid_value":
    case "custom":
      return typeof input === "string" ? shortQuote(input) : describeValue(input);
    default:
      return describeValue(input);
  }
}

/** `a string ("50")`, `a number (2)`, `a map`, ... */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return `a string (${shortQuote(value)})`;
    case "number":
    case "boolean":
      return `a ${typeof value} (${String(value)})`;
    case "object":
      return "a map";
    case "undefined":
      return "nothing";
    default:
      return typeof value;
  }
}

function quote(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function shortQuote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

/** The union branch the input was written for: the only one whose outer type it has. */
function intendedBranch(issue: z.core.$ZodIssueInvalidUnion): z.core.$ZodIssue[] | undefined {
  const candidates = issue.errors.filter((branch) => !branch.some(isTypeMismatchAtRoot));
  return candidates.length === 1 ? candidates[0] : undefined;
}

function isTypeMismatchAtRoot(issue: z.core.$ZodIssue): issue is z.core.$ZodIssueInvalidType {
  return issue.code === "invalid_type" && issue.path.length === 0;
}

function toFieldPath(path: readonly PropertyKey[]): (string | number)[] {
  return path.map((segment) => (typeof segment === "number" ? segment : String(segment)));
}

/** The keys the schema allows in the map at `path`, for "did you mean". */
export function allowedKeys(schema: z.ZodType, path: FieldPath): string[] {
  const found = schemaAt(schema, path);
  return found instanceof z.ZodObject ? Object.keys(found.shape) : [];
}

function schemaAt(schema: z.ZodType, path: FieldPath): z.ZodType | undefined {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodUnion) {
    for (const option of inner.options) {
      const found = option instanceof z.ZodType ? schemaAt(option, path) : undefined;
      if (found instanceof z.ZodObject) return found;
    }
    return undefined;
  }
  const [head, ...rest] = path;
  if (head === undefined) return inner;
  let child: unknown;
  if (inner instanceof z.ZodObject && typeof head === "string") child = inner.shape[head];
  else if (inner instanceof z.ZodArray) child = inner.element;
  else if (inner instanceof z.ZodRecord) child = inner.valueType;
  return child instanceof z.ZodType ? schemaAt(child, rest) : undefined;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: unknown = schema;
  while (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodNullable) current = current.unwrap();
  return current instanceof z.ZodType ? current : schema;
}
