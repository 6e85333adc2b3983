/** Where a field path such as `spec.steps[1].setWeight` sits in a parsed YAML document. */
import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, visit, type Document, type LineCounter, type YAMLError } from "yaml";

export type FieldPath = readonly (string | number)[];

export interface Position {
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
}

/**
 * What a problem points at: the value at the path, the key that ends the path (unknown fields),
 * or the map that should hold the path's last key (missing fields).
 */
export type Target = "value" | "key" | "parent";

/** `["spec", "steps", 1, "setWeight"]` -> `spec.steps[1].setWeight`; odd keys are quoted. */
export function renderPath(path: FieldPath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(segment)) text += text === "" ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** A YAML node's start offset, when the parser recorded one. */
function startOf(node: unknown): number | undefined {
  if (isScalar(node) || isCollection(node) || isAlias(node)) return node.range?.[0];
  return undefined;
}

function isEmptyScalar(node: unknown): boolean {
  return isScalar(node) && node.range !== undefined && node.range !== null && node.range[0] === node.range[1];
}

/**
 * Offset of the deepest node on `path` that exists in the document: the value at the full path,
 * else the nearest ancestor. With `key`, the key node of the path's last segment.
 */
function locate(document: Document, path: FieldPath, want: "value" | "key"): number | undefined {
  let node: unknown = document.contents;
  let offset = startOf(node);
  for (const [index, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(document);
    const pair = isMap(node) ? node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment)) : undefined;
    if (pair !== undefined) {
      const last = index === path.length - 1;
      if (last && want === "key") return startOf(pair.key);
      node = pair.value;
      // `setWeight:` with nothing after it: point at the key, not at the end of the line.
      offset = (isEmptyScalar(pair.value) ? undefined : startOf(pair.value)) ?? startOf(pair.key) ?? offset;
      continue;
    }
    if (isSeq(node) && typeof segment === "number" && segment < node.items.length) {
      node = node.items[segment];
      offset = startOf(node) ?? offset;
      continue;
    }
    break;
  }
  return offset;
}

/** The line and column a problem about `path` should point at. */
export function positionOf(document: Document, lineCounter: LineCounter, path: FieldPath, target: Target): Position {
  const offset =
    target === "key"
      ? (locate(document, path, "key") ?? locate(document, path.slice(0, -1), "value"))
      : target === "parent"
        ? locate(document, path.slice(0, -1), "value")
        : locate(document, path, "value");
  return positionAtOffset(lineCounter, offset ?? 0);
}

export function positionAtOffset(lineCounter: LineCounter, offset: number): Position {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** Counts the nodes of a document and its deepest nesting, without expanding aliases. */
export function measure(document: Document): { nodes: number; depth: number } {
  let nodes = 0;
  let depth = 0;
  const pending: { node: unknown; depth: number }[] = [{ node: document.contents, depth: 1 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { node } = next;
    if (node === null || node === undefined) continue;
    nodes += 1;
    depth = Math.max(depth, next.depth);
    if (isMap(node)) {
      for (const pair of node.items) pending.push({ node: pair.key, depth: next.depth + 1 }, { node: pair.value, depth: next.depth + 1 });
    } else if (isSeq(node)) {
      for (const item of node.items) pending.push({ node: item, depth: next.depth + 1 });
    }
  }
  return { nodes, depth };
}

/**
 * The deepest nesting of flow brackets in `text`, counted before parsing because a few thousand
 * `[` make the YAML parser overflow its stack or run out of memory. Brackets inside strings count
 * too: this errs towards refusing, and only hostile input nests hundreds deep.
 */
export function flowDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x5b || code === 0x7b) deepest = Math.max(deepest, ++depth);
    else if ((code === 0x5d || code === 0x7d) && depth > 0) depth--;
  }
  return deepest;
}

/**
 * Where a syntax error is best shown. The parser reports an unclosed quote or bracket where it
 * gave up (often lines later); the quote or bracket that was never closed is what to fix.
 */
export function syntaxErrorOffset(document: Document, error: YAMLError): number {
  const [offset] = error.pos;
  const unclosed = error.message.includes("quote") ? "quote" : error.message.startsWith("Flow map") ? "map" : error.message.startsWith("Flow sequence") ? "seq" : undefined;
  if (unclosed === undefined) return offset;
  let opening: number | undefined;
  const consider = (range: readonly number[] | null | undefined) => {
    const [from = 0, to = 0] = range ?? [];
    if (from < offset && to >= offset && (opening === undefined || from > opening)) opening = from;
  };
  visit(document, {
    Scalar(_key, node) {
      if (unclosed === "quote" && (node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE")) consider(node.range);
    },
    Map(_key, node) {
      if (unclosed === "map" && node.flow === true) consider(node.range);
    },
    Seq(_key, node) {
      if (unclosed === "seq" && node.flow === true) consider(node.range);
    },
  });
  return opening ?? offset;
}

/** The first alias whose anchor is not defined before it. */
export function unresolvedAliasOffset(document: Document): number | undefined {
  let offset: number | undefined;
  visit(document, {
    Alias(_key, node) {
      if (node.resolve(document) !== undefined) return undefined;
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}
