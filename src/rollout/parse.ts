/**
 * Rollout files from git: multi-document YAML in, validated Rollouts and file:line:column
 * problems out. Pure: the caller reads the files (src/git/tree.ts).
 */
import { isMap, LineCounter, parseAllDocuments, type Document } from "yaml";
import { DEFAULT_NAMESPACE, toRollout, type Rollout } from "./model.js";
import { describeIssue, explainIssues } from "./parse-messages.js";
import { flowDepth, measure, positionAtOffset, positionOf, renderPath, syntaxErrorOffset, unresolvedAliasOffset, type FieldPath, type Position } from "./parse-positions.js";
import type { Problem } from "./problem.js";
import { virtualServicesOf } from "./routing.js";
import { refuseSharedRoutes } from "./shared-routes.js";
import { API_VERSION, KIND, RolloutDocumentSchema, RolloutMetadataSchema, type RolloutDocument } from "./schema.js";

export interface ParsedRollout {
  file: string;
  line: number;
  column: number;
  document: RolloutDocument;
  rollout: Rollout;
  /** Where `metadata.name` is, for problems about the name itself (a duplicate). */
  namePosition?: Position;
  /** Where `metadata.namespace` is (or `metadata`, when it names none): for a namespace the cluster lacks. */
  namespacePosition?: Position;
  /** Where each VirtualService of `virtualServicesOf` is named, for a route another Rollout names. */
  virtualServicePositions?: Position[];
  /** Where a field is, for findings made after parsing; only with `ParseOptions.locate`. */
  locate?: (path: FieldPath) => Position;
}

export interface ParseResult {
  rollouts: ParsedRollout[];
  problems: Problem[];
}

/** Limits against huge or hostile YAML. */
export interface ParseOptions {
  /** Bytes (UTF-8) of one document; larger ones are refused unparsed. Default 256 KiB. */
  maxDocumentBytes?: number;
  /** Alias expansions while building a document's value ("billion laughs"). Default 100. */
  maxAliasCount?: number;
  /** YAML nodes in one Rollout document. Default 10,000. */
  maxNodes?: number;
  /** Nesting of maps and lists in one Rollout document. Default 64. */
  maxDepth?: number;
  /**
   * Give each Rollout a `locate` for its fields (`tideway validate`). Off by default: it keeps the
   * YAML tree of every Rollout in memory, which the controller's cache of parsed files must not.
   */
  locate?: boolean;
}

export const DEFAULT_PARSE_OPTIONS: Required<ParseOptions> = {
  maxDocumentBytes: 262_144,
  maxAliasCount: 100,
  maxNodes: 10_000,
  maxDepth: 64,
  locate: false,
};

/** apiVersions of Tideway's API group start with this. */
const GROUP_PREFIX = `${API_VERSION.slice(0, API_VERSION.indexOf("/"))}/`;

/** Flow brackets beyond this are refused before parsing: the parser itself fails on thousands. */
const MIN_FLOW_DEPTH_GUARD = 256;

export function parseRolloutFile(file: string, text: string, options: ParseOptions = {}): ParseResult {
  return parseDocuments(file, text, { ...DEFAULT_PARSE_OPTIONS, ...options });
}

/**
 * Parses every file, then refuses Rollouts defined more than once (see `refuseDuplicates`) and
 * Rollouts naming a route another one names (see `refuseSharedRoutes`).
 */
export function parseRolloutFiles(files: readonly { path: string; text: string }[], options: ParseOptions = {}): ParseResult {
  const limits = { ...DEFAULT_PARSE_OPTIONS, ...options };
  const parsed = files.map((file) => parseDocuments(file.path, file.text, limits));
  const accepted = refuseAcrossFiles(parsed.flatMap((result) => result.rollouts));
  return { rollouts: accepted.rollouts, problems: [...parsed.flatMap((result) => result.problems), ...accepted.problems] };
}

/** The checks that need every file at once, in the order given: duplicates, then shared routes. */
export function refuseAcrossFiles(rollouts: readonly ParsedRollout[]): ParseResult {
  const unique = refuseDuplicates(rollouts);
  const routed = refuseSharedRoutes(unique.rollouts);
  return { rollouts: routed.rollouts, problems: [...unique.problems, ...routed.problems] };
}

/**
 * Keeps the first definition of each Rollout (same name and namespace), in the order given, and
 * reports every later one at its name, naming where the first is.
 */
export function refuseDuplicates(rollouts: readonly ParsedRollout[]): ParseResult {
  const result: ParseResult = { rollouts: [], problems: [] };
  const firstDefinition = new Map<string, ParsedRollout>();
  for (const parsed of rollouts) {
    const { name, namespace } = parsed.rollout;
    const key = `${namespace}/${name}`;
    const first = firstDefinition.get(key);
    if (first === undefined) {
      firstDefinition.set(key, parsed);
      result.rollouts.push(parsed);
      continue;
    }
    result.problems.push({
      file: parsed.file,
      ...(parsed.namePosition ?? { line: parsed.line, column: parsed.column }),
      path: "metadata.name",
      message: `Rollout "${name}" in namespace "${namespace}" is already defined at ${first.file}:${(first.namePosition ?? first).line}`,
      rollout: { name, namespace },
    });
  }
  return result;
}

function parseDocuments(file: string, text: string, limits: Required<ParseOptions>): ParseResult {
  const rollouts: ParsedRollout[] = [];
  const problems: Problem[] = [];
  const { text: parseable, refused } = refuseBeforeParsing(text, limits);
  for (const refusal of refused) problems.push({ file, ...refusal, path: "" });

  const lineCounter = new LineCounter();
  for (const document of parseAllDocuments(parseable, { lineCounter, prettyErrors: false, uniqueKeys: true })) {
    const at = (offset: number) => positionAtOffset(lineCounter, offset);
    const error = document.errors[0];
    if (error !== undefined) {
      // Only the first syntax error: the ones after it are usually echoes of it.
      if (mayBeRollout(document, parseable)) problems.push({ file, ...at(syntaxErrorOffset(document, error)), path: "", message: error.message, ...identityFromTree(document) });
      continue;
    }
    if (!isRolloutDocument(document)) continue;

    const start = at(document.contents?.range?.[0] ?? 0);
    const size = measure(document);
    if (size.nodes > limits.maxNodes || size.depth > limits.maxDepth) {
      const message = size.nodes > limits.maxNodes ? `document has ${size.nodes} YAML nodes; the limit is ${limits.maxNodes}` : `document nests deeper than ${limits.maxDepth} levels`;
      problems.push({ file, ...start, path: "", message, ...identityFromTree(document) });
      continue;
    }

    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: limits.maxAliasCount });
    } catch (thrown) {
      const reason = thrown instanceof Error ? thrown.message : String(thrown);
      const bomb = reason.startsWith("Excessive alias count");
      const message = bomb ? `too many alias expansions; the limit is ${limits.maxAliasCount}` : reason;
      const position = bomb ? start : at(unresolvedAliasOffset(document) ?? 0);
      problems.push({ file, ...position, path: "", message, ...identityFromTree(document) });
      continue;
    }

    const result = RolloutDocumentSchema.safeParse(value, { error: describeIssue, reportInput: true });
    if (result.success) {
      const rollout = toRollout(result.data, DEFAULT_NAMESPACE);
      const namePosition = positionOf(document, lineCounter, ["metadata", "name"], "value");
      const namespacePosition = positionOf(document, lineCounter, ["metadata", "namespace"], "key");
      const virtualServicePositions = virtualServicesOf(rollout).map((ref) => positionOf(document, lineCounter, ref.field, "value"));
      const locate = limits.locate ? (path: FieldPath) => positionOf(document, lineCounter, path, "value") : undefined;
      rollouts.push({ file, ...start, document: result.data, rollout, namePosition, namespacePosition, virtualServicePositions, ...(locate ? { locate } : {}) });
      continue;
    }
    const identity = identityFromValue(value);
    const found = explainIssues(result.error.issues, RolloutDocumentSchema).map((problem) => ({
      file,
      ...positionOf(document, lineCounter, problem.at, problem.target),
      path: renderPath(problem.path),
      message: problem.message,
      ...identity,
    }));
    problems.push(...found);
  }
  return { rollouts, problems: problems.sort((a, b) => a.line - b.line || a.column - b.column) };
}

/**
 * Documents of `tideway.io` whose kind is Rollout in any letter case (so `kind: rollout` is an
 * error, not silence), and `kind: Rollout` without an apiVersion. Everything else, Argo's
 * `argoproj.io` Rollouts included, belongs to someone else and is skipped.
 */
function isRolloutDocument(document: Document): boolean {
  if (!isMap(document.contents)) return false;
  const apiVersion = document.contents.get("apiVersion");
  const kind = document.contents.get("kind");
  if (typeof apiVersion === "string" && apiVersion.startsWith(GROUP_PREFIX)) {
    return kind === undefined || (typeof kind === "string" && kind.toLowerCase() === KIND.toLowerCase());
  }
  return apiVersion === undefined && kind === KIND;
}

/** A document too broken to read its kind is reported when it mentions Tideway's API group. */
function mayBeRollout(document: Document, text: string): boolean {
  if (isRolloutDocument(document)) return true;
  const [start, , end] = document.range ?? [0, 0, text.length];
  return text.slice(start, end).includes(GROUP_PREFIX);
}

/** Name and namespace, when valid, so a problem can be shown on that Rollout's status. */
function identityFromValue(value: unknown): { rollout?: { name: string; namespace: string } } {
  if (typeof value !== "object" || value === null || !("metadata" in value)) return {};
  const metadata = value.metadata;
  if (typeof metadata !== "object" || metadata === null) return {};
  const name = RolloutMetadataSchema.shape.name.safeParse("name" in metadata ? metadata.name : undefined);
  const namespace = RolloutMetadataSchema.shape.namespace.safeParse("namespace" in metadata ? metadata.namespace : undefined);
  if (!name.success || !namespace.success) return {};
  return { rollout: { name: name.data, namespace: namespace.data ?? DEFAULT_NAMESPACE } };
}

function identityFromTree(document: Document): { rollout?: { name: string; namespace: string } } {
  if (!isMap(document.contents)) return {};
  return identityFromValue({ metadata: { name: document.getIn(["metadata", "name"]), namespace: document.getIn(["metadata", "namespace"]) } });
}

/**
 * Blanks out documents over the size limit, or nested too deep for the parser to survive,
 * keeping their line breaks so that later documents keep their line numbers. Document markers
 * (`---`, `...` at the start of a line) cannot occur inside YAML content, so splitting at them
 * before parsing is exact.
 */
function refuseBeforeParsing(text: string, limits: Required<ParseOptions>): { text: string; refused: (Position & { message: string })[] } {
  const refused: (Position & { message: string })[] = [];
  const starts = [0, ...Array.from(text.matchAll(/^(?:---|\.\.\.)(?=[ \t\r\n]|$)/gm), (m) => m.index).filter((i) => i > 0), text.length];
  let output = "";
  let line = 1;
  for (let i = 0; i + 1 < starts.length; i++) {
    const chunk = text.slice(starts[i], starts[i + 1]);
    const bytes = utf8Length(chunk);
    const tooDeep = flowDepth(chunk) > Math.max(limits.maxDepth, MIN_FLOW_DEPTH_GUARD);
    if (bytes > limits.maxDocumentBytes || tooDeep) {
      const message = bytes > limits.maxDocumentBytes ? `document is ${bytes} bytes; the limit is ${limits.maxDocumentBytes}` : `document nests deeper than ${limits.maxDepth} levels`;
      refused.push({ line, column: 1, message });
      output += (/^(?:---|\.\.\.)/.test(chunk) ? chunk.slice(0, 3) : "") + chunk.replace(/[^\n]+/g, "");
    } else {
      output += chunk;
    }
    line += chunk.split("\n").length - 1;
  }
  return { text: output, refused };
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A surrogate pair is 4 bytes: 2 for each half.
    bytes += code < 0x80 ? 1 : code < 0x800 || (code >= 0xd800 && code <= 0xdfff) ? 2 : 3;
  }
  return bytes;
}
