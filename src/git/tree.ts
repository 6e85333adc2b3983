/**
 * The Rollout files of a checked-out tree: every `*.yaml`/`*.yml` under the given paths, read
 * with the care a file from someone else's commit deserves: nothing outside the repository is
 * followed, nothing huge is read, and nothing that is not a regular file is opened.
 */
import { constants } from "node:fs";
import { lstat, open, readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import type { Problem } from "../rollout/problem.js";

export interface RolloutFile {
  /** Relative to the tree's root, with "/" separators. */
  path: string;
  text: string;
}

export interface RolloutTree {
  files: RolloutFile[];
  /** Files that could not be read, each at line 1, column 1. */
  problems: Problem[];
}

export interface ReadTreeOptions {
  /** Larger files are refused without being read. Default 1 MiB. */
  maxFileBytes?: number;
}

export const MAX_FILE_BYTES = 1_048_576;

const YAML_FILE = /\.ya?ml$/i;
const SKIPPED_DIRECTORIES = new Set(["node_modules"]);

/**
 * Whether a walk of the tree reads the file at `relativePath` ("/"-separated): a YAML file outside
 * dot-directories and node_modules. For callers that list changed files themselves.
 */
export function isRolloutFilePath(relativePath: string): boolean {
  const segments = relativePath.split("/");
  const directories = segments.slice(0, -1);
  return YAML_FILE.test(relativePath) && !directories.some((name) => name.startsWith(".") || SKIPPED_DIRECTORIES.has(name));
}

/**
 * Reads the Rollout files under `paths` (files or directories, relative to `root`; default the
 * whole tree). A path given explicitly is read whatever its name; a directory is walked for
 * YAML files, skipping dot-directories and node_modules. Symlinks are followed only to files
 * inside `root`; directory symlinks inside it are not walked (what they point to is).
 */
export async function readRolloutTree(root: string, paths: readonly string[] = ["."], options: ReadTreeOptions = {}): Promise<RolloutTree> {
  const walk = new TreeWalk(path.resolve(root), await realpath(root).catch(() => path.resolve(root)), options.maxFileBytes ?? MAX_FILE_BYTES);
  for (const given of paths) {
    const absolute = path.resolve(walk.root, given);
    const relative = walk.relative(absolute);
    if (relative === undefined) walk.problem(given, "path is outside the repository");
    else await walk.visit(absolute, relative, true);
  }
  return { files: walk.files, problems: walk.problems };
}

class TreeWalk {
  readonly files: RolloutFile[] = [];
  readonly problems: Problem[] = [];
  /** Real paths already read, so overlapping paths or links do not read a file twice. */
  private readonly seen = new Set<string>();

  constructor(
    readonly root: string,
    private readonly realRoot: string,
    private readonly maxFileBytes: number,
  ) {}

  /** `absolute` relative to the root, or undefined when it is outside. */
  relative(absolute: string, base = this.root): string | undefined {
    const relative = path.relative(base, absolute);
    if (relative === "") return ".";
    if (relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) return undefined;
    return relative.split(path.sep).join("/");
  }

  problem(file: string, message: string): void {
    this.problems.push({ file, line: 1, column: 1, path: "", message });
  }

  async visit(absolute: string, relative: string, explicit: boolean): Promise<void> {
    const entry = await lstat(absolute).catch(() => undefined);
    if (entry === undefined) {
      if (explicit) this.problem(relative, "no such file or directory");
      return;
    }
    if (entry.isSymbolicLink()) return this.visitLink(absolute, relative, explicit);
    if (entry.isDirectory()) {
      const name = path.basename(absolute);
      if (!explicit && (name.startsWith(".") || SKIPPED_DIRECTORIES.has(name))) return;
      const names = (await readdir(absolute)).sort();
      for (const child of names) await this.visit(path.join(absolute, child), relative === "." ? child : `${relative}/${child}`, false);
      return;
    }
    if (!explicit && !YAML_FILE.test(absolute)) return;
    if (!entry.isFile()) {
      if (explicit) this.problem(relative, "not a regular file");
      return;
    }
    await this.read(absolute, relative);
  }

  private async visitLink(absolute: string, relative: string, explicit: boolean): Promise<void> {
    const target = await realpath(absolute).catch(() => undefined);
    const wanted = explicit || YAML_FILE.test(absolute);
    if (target === undefined) {
      if (wanted) this.problem(relative, "symlink points to nothing");
      return;
    }
    const targetEntry = await stat(target);
    if (this.relative(target, this.realRoot) === undefined) {
      // Never read: a commit must not be able to make the controller read its host's files.
      if (wanted || targetEntry.isDirectory()) this.problem(relative, "symlink points outside the repository");
      return;
    }
    if (targetEntry.isDirectory()) {
      if (explicit) await this.visit(target, relative, true);
      return;
    }
    if (!wanted) return;
    if (!targetEntry.isFile()) return this.problem(relative, "not a regular file");
    await this.read(target, relative);
  }

  private async read(absolute: string, relative: string): Promise<void> {
    const real = await realpath(absolute);
    if (this.seen.has(real)) return;
    this.seen.add(real);
    // O_NOFOLLOW: the file was checked as a regular file; a symlink swapped in since is refused.
    const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const { size } = await handle.stat();
      if (size > this.maxFileBytes) return this.problem(relative, `file is ${size} bytes; the limit is ${this.maxFileBytes}`);
      // Read at most one byte past the limit, in case the file grew since it was measured.
      const buffer = new Uint8Array(Math.min(size, this.maxFileBytes) + 1);
      let length = 0;
      while (length < buffer.length) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      if (length > this.maxFileBytes) return this.problem(relative, `file is over ${this.maxFileBytes} bytes; the limit is ${this.maxFileBytes}`);
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(buffer.subarray(0, length));
      } catch {
        return this.problem(relative, "file is not valid UTF-8 text");
      }
      this.files.push({ path: relative, text });
    } finally {
      await handle.close();
    }
  }
}
