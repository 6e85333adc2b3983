/**
 * One git sync: fetch, verify, parse what changed since the last sync, and mirror the Rollouts
 * into the cluster. Parse results are cached per file, so a commit that touches one file of a
 * thousand parses one.
 */
import type { MirrorReport, MirrorRequest } from "../rollout/mirror.js";
import { parseRolloutFile, refuseAcrossFiles, type ParseResult } from "../rollout/parse.js";
import type { Problem } from "../rollout/problem.js";
import type { Commit } from "../rollout/commit.js";
import type { GitSource } from "./source.js";
import { isRolloutFilePath, readRolloutTree } from "./tree.js";

export interface SyncOutcome {
  commit: Commit;
  /**
   * "unchanged": HEAD was already synced; "unverified": the signature check refused HEAD;
   * "retried": HEAD was synced, and the Rollouts the API server refused then were applied again.
   */
  result: "synced" | "unchanged" | "unverified" | "retried";
  reason?: string;
  parsedFiles: number;
  rollouts: number;
  problems: Problem[];
  mirror?: MirrorReport;
}

/** Where a sync's Rollouts go: the cluster's Rollout objects (src/kube/mirror.ts, wired by the controller). */
export interface MirrorTarget {
  apply(input: MirrorRequest): Promise<MirrorReport>;
}

/**
 * A parse result as the cache keeps it: its strings copied in place, and shared with the same
 * sync's other files. The parser's strings of 13 characters or more are V8 slices of the file's
 * text, so one kept value (an apiVersion, a long name or query) kept the whole file: 2,000 cached
 * Rollouts held their 2,000 file texts (0.54 MB in bench/adoption.ts, files of 270 bytes; more with
 * real files and their comments). And every file had its own copy of the values most files share
 * ("tideway.io/v1alpha1", "Rollout", "10s", a query): at 10,000 files, about 270 bytes each.
 * `pool` (one per sync, dropped after it) gives equal strings one copy. The objects are kept as
 * they are: a structuredClone copy also freed the texts, but its objects took as much more again
 * (properties out of object, numbers boxed). The arrays are cut to their length (a pushed-to array
 * keeps room for 16).
 */
function detached(result: ParseResult, pool: Map<string, string>): ParseResult {
  const seen = new Set<object>();
  const walk = (value: unknown): void => {
    if (typeof value !== "object" || value === null || seen.has(value)) return;
    seen.add(value);
    const proto = Object.getPrototypeOf(value) as unknown;
    if ((!Array.isArray(value) && proto !== Object.prototype && proto !== null) || Object.isFrozen(value)) return; // plain data only
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const field = record[key];
      if (typeof field === "string") record[key] = interned(pool, field);
      else walk(field);
    }
  };
  walk(result);
  return { ...result, rollouts: result.rollouts.slice(), problems: result.problems.slice() };
}

/** One copy of `text` per pool; a copy of its own (JSON.parse makes one), not a slice of a file. */
function interned(pool: Map<string, string>, text: string): string {
  const known = pool.get(text);
  if (known !== undefined) return known;
  const own = text.length >= 13 ? (JSON.parse(JSON.stringify(text)) as string) : text;
  pool.set(own, own);
  return own;
}

export class RolloutSync {
  private readonly files = new Map<string, ParseResult>();
  private lastCommit: string | undefined;

  constructor(
    private readonly source: GitSource,
    private readonly mirror: MirrorTarget,
  ) {}

  /** The commit the cache reflects. */
  get syncedCommit(): string | undefined {
    return this.lastCommit;
  }

  /**
   * Fetches and applies HEAD. `alreadySynced` is the commit applied last by any replica (from
   * Redis): when HEAD equals it, only our parse cache is brought up to date. `unapplied` are the
   * files of that commit whose Rollouts the API server refused (a namespace that did not exist
   * yet): they are applied again, and only they.
   */
  async sync(alreadySynced?: string, unapplied: readonly string[] = []): Promise<SyncOutcome> {
    const commit = await this.source.fetch();
    if (commit.sha === this.lastCommit) return this.retry(commit, unapplied);
    if (this.source.verifiesSignatures) {
      const reason = await this.source.verify(commit.sha);
      if (reason) return { commit, result: "unverified", reason, parsedFiles: 0, rollouts: 0, problems: [] };
    }
    const changes = await this.source.changes(this.lastCommit, commit.sha);
    let changedFiles: Set<string> | undefined;
    let parsedFiles = 0;
    const pool = new Map<string, string>();
    if (changes.kind === "all") {
      this.files.clear();
      const tree = await readRolloutTree(this.source.workTree, [this.source.pathspec()]);
      for (const file of tree.files) this.files.set(interned(pool, file.path), detached(parseRolloutFile(file.path, file.text), pool));
      for (const problem of tree.problems) this.files.set(problem.file, { rollouts: [], problems: [problem] });
      parsedFiles = tree.files.length;
    } else {
      changedFiles = new Set(changes.changed.filter((f) => isRolloutFilePath(f)));
      for (const removed of changes.removed) this.files.delete(removed);
      for (const changed of changedFiles) this.files.delete(changed);
      if (changedFiles.size > 0) {
        const tree = await readRolloutTree(this.source.workTree, [...changedFiles]);
        for (const file of tree.files) this.files.set(interned(pool, file.path), detached(parseRolloutFile(file.path, file.text), pool));
        for (const problem of tree.problems) this.files.set(problem.file, { rollouts: [], problems: [problem] });
        parsedFiles = tree.files.length;
      }
    }
    const { rollouts, problems } = this.combined();
    if (commit.sha === alreadySynced) {
      // Another replica applied this commit; our cache is now current, and there is nothing to write.
      this.lastCommit = commit.sha;
      return { ...(await this.retry(commit, unapplied)), parsedFiles };
    }
    const mirror = await this.mirror.apply({
      commit: commit.sha,
      commitAuthor: commit.author,
      commitSubject: commit.subject,
      rollouts,
      problems,
      files: new Set(this.files.keys()),
      ...(changedFiles ? { changedFiles } : {}),
    });
    if (mirror.errors.length === 0) this.lastCommit = commit.sha;
    return { commit, result: "synced", parsedFiles, rollouts: rollouts.length, problems, mirror };
  }

  /** HEAD is applied already; the files whose Rollouts were refused are tried again. */
  private async retry(commit: Commit, unapplied: readonly string[]): Promise<SyncOutcome> {
    const { rollouts, problems } = this.combined();
    const changedFiles = new Set(unapplied.filter((file) => this.files.has(file)));
    if (changedFiles.size === 0) return { commit, result: "unchanged", parsedFiles: 0, rollouts: rollouts.length, problems };
    const mirror = await this.mirror.apply({ commit: commit.sha, commitAuthor: commit.author, commitSubject: commit.subject, rollouts, problems, files: new Set(this.files.keys()), changedFiles });
    return { commit, result: "retried", parsedFiles: 0, rollouts: rollouts.length, problems, mirror };
  }

  private allProblems(): Problem[] {
    return [...this.files.values()].flatMap((r) => r.problems);
  }

  /**
   * All cached results (files in path order). A Rollout defined twice, or naming a route an
   * earlier one names, is reported at the later definition and refused like an invalid file.
   */
  private combined(): ParseResult {
    const ordered = [...this.files.keys()].sort();
    const { rollouts, problems } = refuseAcrossFiles(ordered.flatMap((file) => this.files.get(file)?.rollouts ?? []));
    return { rollouts, problems: [...this.allProblems(), ...problems] };
  }
}
