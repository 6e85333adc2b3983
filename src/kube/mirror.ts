/**
 * The mirror: every valid Rollout in git becomes a Rollout object, applied with server-side
 * apply as field manager `tideway-git`, so fields others own (a kubectl annotation, status)
 * are left alone. Objects whose Rollout left git are deleted; only objects this source made.
 *
 * Which objects exist comes from the Rollout watch's cache when it is connected (the controller
 * watches the same objects anyway), so a commit of one file costs one apply, not a list of every
 * Rollout (0.7 to 1.5 s at 10,000). Without a connected watch the objects' metadata is listed.
 * The mirror's own writes of the last seconds count as seen, in case the watch is behind them.
 */
import type { MirrorReport, MirrorRequest } from "../rollout/mirror.js";
import type { ParsedRollout } from "../rollout/parse.js";
import { formatProblem, type Problem } from "../rollout/problem.js";
import {
  ABORT_ANNOTATION,
  COMMIT_ANNOTATION,
  COMMIT_AUTHOR_ANNOTATION,
  COMMIT_SUBJECT_ANNOTATION,
  FILE_ANNOTATION,
  HELD_ABORT_ANNOTATION,
  INVALID_ANNOTATION,
  SOURCE_LABEL,
} from "../rollout/annotations.js";
import { isNotFound, kubeError } from "./errors.js";
import type { RolloutClient } from "./rollouts.js";

export const FIELD_MANAGER = "tideway-git";

/** How many writes the mirror has in flight at once. */
export const MIRROR_CONCURRENCY = 16;

/** How long the mirror trusts its own writes over the watch's cache. */
const OWN_WRITES_MS = 30_000;

/** What the mirror needs to know of an object of its source that exists. */
export interface MirroredObject {
  namespace: string;
  name: string;
  /** FILE_ANNOTATION: the file it came from. */
  file?: string;
  /** INVALID_ANNOTATION: the problem it is marked with. */
  invalid?: string;
}

/** The source's objects as the Rollout watch has them, or undefined while it cannot say (not connected). */
export type WatchedObjects = () => readonly MirroredObject[] | undefined;

export interface MirrorOptions {
  /** The git source whose objects these are (SOURCE_LABEL). */
  source: string;
  /** Without it (or while it says undefined) every sync lists the objects' metadata. */
  watched?: WatchedObjects;
  concurrency?: number;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class RolloutMirror {
  /** Objects this mirror wrote lately, as it left them (undefined: deleted), and when. */
  private readonly ownWrites = new Map<string, { object: MirroredObject | undefined; at: number }>();
  private readonly concurrency: number;
  /** Drops the writes older than OWN_WRITES_MS once no sync came to (else 2,000 stayed: 0.4 MB). */
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: RolloutClient,
    private readonly options: MirrorOptions,
  ) {
    this.concurrency = options.concurrency ?? MIRROR_CONCURRENCY;
  }

  async apply(input: MirrorRequest): Promise<MirrorReport> {
    const { client, concurrency } = this;
    const report: MirrorReport = { applied: [], deleted: [], retained: [], invalid: [], rejected: [], errors: [] };
    const live = await this.liveObjects();
    const wanted = new Set<string>();
    const wrote = (id: string, object: MirroredObject | undefined) => this.ownWrites.set(id, { object, at: Date.now() });

    const writes: (() => Promise<void>)[] = [];
    for (const parsed of input.rollouts) {
      const { rollout, document } = parsed;
      const id = key(rollout.namespace, rollout.name);
      wanted.add(id);
      const existing = live.get(id);
      const unchanged = input.changedFiles !== undefined && !input.changedFiles.has(parsed.file) && existing !== undefined;
      if (unchanged && existing.invalid === undefined) continue;
      const annotations: Record<string, string> = { ...(document.metadata.annotations ?? {}) };
      delete annotations[ABORT_ANNOTATION];
      if (rollout.heldAbort !== undefined) annotations[HELD_ABORT_ANNOTATION] = rollout.heldAbort;
      annotations[COMMIT_ANNOTATION] = input.commit;
      if (input.commitAuthor !== undefined) annotations[COMMIT_AUTHOR_ANNOTATION] = input.commitAuthor.slice(0, 200);
      if (input.commitSubject !== undefined) annotations[COMMIT_SUBJECT_ANNOTATION] = input.commitSubject.slice(0, 200);
      annotations[FILE_ANNOTATION] = parsed.file;
      writes.push(async () => {
        try {
          const applied = await client.applyReadingMetadata(
            {
              metadata: { name: rollout.name, namespace: rollout.namespace, labels: { ...(document.metadata.labels ?? {}), [SOURCE_LABEL]: this.options.source }, annotations },
              spec: document.spec,
            },
            FIELD_MANAGER,
          );
          report.applied.push(id);
          // The mark is another field manager's: the apply leaves it, so it is taken off here.
          if (applied.annotations[INVALID_ANNOTATION] !== undefined) {
            await client.patchMetadata(rollout.namespace, rollout.name, { annotations: { [INVALID_ANNOTATION]: null } });
          }
          wrote(id, { namespace: rollout.namespace, name: rollout.name, file: parsed.file });
        } catch (error) {
          const problem = refusal(parsed, error);
          if (problem === undefined) report.errors.push(error instanceof Error ? error.message : String(error));
          else report.rejected.push({ key: id, file: parsed.file, problem });
        }
      });
    }
    await inParallel(writes, concurrency);

    // Files with problems: their objects are kept as they are, and marked with the error.
    const troubledFiles = new Set(input.problems.map((p) => p.file));
    const marks: (() => Promise<void>)[] = [];
    for (const problem of input.problems) {
      if (!problem.rollout) continue;
      const id = key(problem.rollout.namespace, problem.rollout.name);
      const object = live.get(id);
      if (!object || wanted.has(id)) continue;
      wanted.add(id);
      report.invalid.push({ key: id, problem });
      const message = formatProblem(problem);
      if (object.invalid === message) continue;
      marks.push(async () => {
        try {
          await client.patchMetadata(object.namespace, object.name, { annotations: { [INVALID_ANNOTATION]: message } });
          wrote(id, { ...object, invalid: message });
        } catch (error) {
          if (isNotFound(error)) wrote(id, undefined);
          else report.errors.push(error instanceof Error ? error.message : String(error));
        }
      });
    }
    await inParallel(marks, concurrency);

    const deletions: (() => Promise<void>)[] = [];
    for (const [id, object] of live) {
      if (wanted.has(id)) continue;
      if (object.file !== undefined && input.files.has(object.file) && troubledFiles.has(object.file)) {
        report.retained.push(id); // its file is broken: maybe the Rollout is still there; keep it
        continue;
      }
      deletions.push(async () => {
        try {
          await client.delete(object.namespace, object.name);
          report.deleted.push(id);
        } catch (error) {
          if (!isNotFound(error)) return void report.errors.push(error instanceof Error ? error.message : String(error));
        }
        wrote(id, undefined);
      });
    }
    await inParallel(deletions, concurrency);
    this.pruneLater();
    return inOrder(report, [...wanted, ...live.keys()]);
  }

  private pruneLater(): void {
    if (this.pruneTimer !== undefined || this.ownWrites.size === 0) return;
    this.pruneTimer = setTimeout(() => {
      this.pruneTimer = undefined;
      const since = Date.now() - OWN_WRITES_MS;
      for (const [id, { at }] of this.ownWrites) if (at < since) this.ownWrites.delete(id);
      this.pruneLater();
    }, OWN_WRITES_MS + 1_000);
    this.pruneTimer.unref();
  }

  /** The source's objects now: the watch's cache with this mirror's recent writes over it, or a list. */
  private async liveObjects(): Promise<Map<string, MirroredObject>> {
    const watched = this.options.watched?.();
    if (watched === undefined) {
      const listed = await this.client.listMetadata(`${SOURCE_LABEL}=${this.options.source}`);
      this.ownWrites.clear(); // the list is newer than every write before it
      return new Map(listed.map((o) => [key(o.namespace, o.name), mirrored(o)]));
    }
    const live = new Map(watched.map((o) => [key(o.namespace, o.name), o]));
    const since = Date.now() - OWN_WRITES_MS;
    for (const [id, { object, at }] of this.ownWrites) {
      if (at < since) this.ownWrites.delete(id);
      else if (object === undefined) live.delete(id);
      else live.set(id, object);
    }
    return live;
  }
}

function mirrored(object: { namespace: string; name: string; annotations: Record<string, string> }): MirroredObject {
  const file = object.annotations[FILE_ANNOTATION];
  const invalid = object.annotations[INVALID_ANNOTATION];
  return { namespace: object.namespace, name: object.name, ...(file !== undefined ? { file } : {}), ...(invalid !== undefined ? { invalid } : {}) };
}

/**
 * Runs `tasks`, at most `limit` at a time. The API server answers one apply in a few
 * milliseconds of its own work and most of a round trip of waiting: one at a time, a commit of
 * 2,000 Rollouts took five minutes, and held the sync lock (and every later commit) all along.
 */
async function inParallel(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) await tasks[next++]?.();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
}

/** The report in the order the objects were considered (files in path order), whatever order the writes finished in. */
function inOrder(report: MirrorReport, order: readonly string[]): MirrorReport {
  const position = new Map(order.map((id, index) => [id, index]));
  const at = (id: string) => position.get(id) ?? Infinity;
  const byId = (a: string, b: string) => at(a) - at(b);
  const byKey = (a: { key: string }, b: { key: string }) => at(a.key) - at(b.key);
  return { ...report, applied: report.applied.sort(byId), deleted: report.deleted.sort(byId), invalid: report.invalid.sort(byKey), rejected: report.rejected.sort(byKey) };
}

/**
 * The API server's refusal of one Rollout as a problem of its file, or undefined for a failure
 * that may pass by itself (5xx, timeouts, conflicts, throttling).
 */
function refusal(parsed: ParsedRollout, error: unknown): Problem | undefined {
  const failure = kubeError(error, "applying Rollout");
  const { rollout } = parsed;
  const at = { file: parsed.file, line: parsed.line, column: parsed.column };
  if (failure.code === 404) {
    const position = parsed.namespacePosition ?? at;
    return {
      ...at,
      ...position,
      path: "metadata.namespace",
      message: `namespace "${rollout.namespace}" does not exist in the cluster: create it, or name another; the Rollout is applied once it exists`,
    };
  }
  if (failure.code === 403) {
    return {
      ...at,
      path: "metadata.namespace",
      message: `Tideway may not write Rollouts in namespace "${rollout.namespace}" (forbidden): grant its ServiceAccount access there (the chart's RBAC), or name another namespace`,
    };
  }
  if (failure.code === 400 || failure.code === 422) {
    return {
      ...at,
      path: "",
      message: `the API server refused the Rollout: ${failure.message.replace(/^applying Rollout [^:]*: /, "")}`,
      rollout: { namespace: rollout.namespace, name: rollout.name },
    };
  }
  return undefined;
}
