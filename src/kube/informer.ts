/**
 * Watches Rollout objects. client-node's informer stops on any error other than 410 Gone, so
 * this one restarts it with exponential backoff, for as long as it runs.
 *
 * The informer's cache keeps only each Rollout's name, namespace and resourceVersion (all the
 * controller asks of it): the reconciler reads the live object itself, and 1,000 whole objects
 * (spec, status, managedFields) would stay in memory for nothing.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { FILE_ANNOTATION, INVALID_ANNOTATION } from "../rollout/annotations.js";
import { laneOf, type Lane } from "../rollout/lane.js";
import type { RolloutRef } from "../rollout/model.js";
import type { MirroredObject } from "./mirror.js";
import { GROUP, PLURAL, RolloutClient, VERSION } from "./rollouts.js";

/**
 * What the cache keeps of an object: enough to name it, to tell its versions apart, its lane
 * (which work goes first), and for the git mirror the file it came from and its invalid mark.
 */
export type SlimObject = KubernetesObject & { lane?: Lane; file?: string; invalid?: string };

export function slimObject(object: {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; generation?: number; annotations?: Record<string, string> };
  status?: unknown;
}): SlimObject {
  const { name, namespace, resourceVersion, annotations } = object.metadata ?? {};
  const file = annotations?.[FILE_ANNOTATION];
  const invalid = annotations?.[INVALID_ANNOTATION];
  // One shape for every object (absent fields are undefined, not left out): objects built from
  // spreads each got a hidden class of their own and an out-of-object property array once this
  // code was optimized, 282 bytes per cached Rollout instead of about 83 (a heap snapshot at 10,000).
  return { metadata: { name, namespace, resourceVersion }, lane: laneOf(object), file, invalid };
}

/**
 * A watch that hands the informer slim objects; ERROR (a Status, e.g. 410 Gone) and BOOKMARK
 * events pass unchanged. It says when the API server has answered a watch with 200: client-node's
 * own "connect" comes before the list and the watch are even tried.
 */
class SlimWatch extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly onWatching: () => void,
    private readonly timing: { timeoutSeconds: number; graceMs: number },
  ) {
    super(kc);
  }

  /**
   * Each watch asks the API server to end it after `timeoutSeconds` (the informer then watches
   * again from where it was). One that has not ended `graceMs` later is on a dead connection
   * (client-node 1.4 sets no timeout of its own): it is reported as an error, so the watch is
   * restarted and /readyz says so, instead of waiting in silence for events that cannot come.
   */
  override async watch(...[path, queryParams, callback, done]: Parameters<Watch["watch"]>): ReturnType<Watch["watch"]> {
    const { timeoutSeconds, graceMs } = this.timing;
    let finished = false;
    const request: { controller?: AbortController } = {}; // set once client-node answers
    const finish = (error: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      done(error);
    };
    const deadline = setTimeout(
      () => {
        finish(new Error(`the Rollout watch did not end ${graceMs} ms after its ${timeoutSeconds} s timeout: connection presumed dead`));
        request.controller?.abort();
      },
      timeoutSeconds * 1000 + graceMs,
    );
    deadline.unref();
    const controller = await super.watch(
      path,
      { ...queryParams, timeoutSeconds },
      (phase: string, object: KubernetesObject) => {
        const slim = phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED" ? slimObject(object) : object;
        callback(phase, slim, { type: phase, object: slim });
      },
      finish,
    );
    // client-node resolves after a 200, and also after a failure it has already reported to `done`.
    request.controller = controller;
    if (finished) controller.abort();
    else this.onWatching();
    return controller;
  }
}

/** How long a (re)started watch must run without an error before the backoff is reset. */
const STABLE_MS = 10_000;

/**
 * The longest wait before a failed watch is tried again. 10 s, not client-go's 30 s: while the
 * Rollout watch is down /readyz fails and changes wait for the resync, so after an API server
 * restart the controller should be back within seconds; one list per 10 s during an outage is cheap.
 */
export const WATCH_MAX_BACKOFF_MS = 10_000;

export interface WatchOptions {
  /** `resourceVersion`: the version the change produced, when the API server said; `lane`: whether a release waits on it. */
  onChange: (ref: RolloutRef, kind: "add" | "update" | "delete", resourceVersion?: string, lane?: Lane) => void;
  onError?: (error: Error, restartInMs: number) => void;
  /** The list (when one was needed) and the watch succeeded, after the start or an error. */
  onConnect?: () => void;
  /** Only Rollouts with these labels, e.g. "tideway.io/source=git". */
  labelSelector?: string;
  /** Backoff bounds for restarts. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long the API server keeps each watch open (default 300 s), and how long after that a silent one is given up (default 30 s). */
  watchTimeoutSeconds?: number;
  watchGraceMs?: number;
}

export class RolloutWatch {
  private informer: ListWatch<KubernetesObject> | undefined;
  private stopped = false;
  private backoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private resetTimer: NodeJS.Timeout | undefined;
  /** True from a successful watch until the next error: what /readyz reports. */
  connected = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly options: WatchOptions,
  ) {
    this.backoffMs = options.minBackoffMs ?? 500;
  }

  async start(): Promise<void> {
    const client = new RolloutClient(this.kc);
    const path = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
    const watching = () => {
      if (this.connected) return;
      this.connected = true;
      this.options.onConnect?.();
    };
    const informer = new ListWatch<KubernetesObject>(
      path,
      new SlimWatch(this.kc, watching, { timeoutSeconds: this.options.watchTimeoutSeconds ?? 300, graceMs: this.options.watchGraceMs ?? 30_000 }),
      async () => {
        const { items, resourceVersion } = await client.listWithVersion(this.options.labelSelector);
        return { apiVersion: `${GROUP}/${VERSION}`, kind: "RolloutList", metadata: { resourceVersion }, items: items.map(slimObject) };
      },
      false,
      this.options.labelSelector,
    );
    const emit = (kind: "add" | "update" | "delete") => (object: SlimObject) => {
      const name = object.metadata?.name;
      const namespace = object.metadata?.namespace;
      if (name && namespace) this.options.onChange({ namespace, name }, kind, object.metadata?.resourceVersion, object.lane);
    };
    informer.on("add", emit("add"));
    informer.on("update", emit("update"));
    informer.on("delete", emit("delete"));
    informer.on("connect", () => {
      // client-node says "connect" before it lists and watches, so an attempt that fails at once
      // says it too: the backoff starts again from the minimum only after a quiet spell.
      if (this.resetTimer) clearTimeout(this.resetTimer);
      this.resetTimer = setTimeout(() => (this.backoffMs = this.options.minBackoffMs ?? 500), STABLE_MS);
      this.resetTimer.unref();
    });
    informer.on("error", (error: unknown) => {
      this.connected = false;
      if (this.resetTimer) clearTimeout(this.resetTimer);
      if (this.stopped) return;
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? WATCH_MAX_BACKOFF_MS);
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)), delay);
      this.timer = setTimeout(() => {
        if (!this.stopped) informer.start().catch(() => undefined);
      }, delay);
    });
    this.informer = informer;
    await informer.start();
  }

  /** Every Rollout the informer knows of now, with its lane as last seen. */
  list(): (RolloutRef & { lane: Lane })[] {
    return (this.informer?.list() ?? []).flatMap((o: SlimObject) =>
      o.metadata?.name && o.metadata.namespace ? [{ namespace: o.metadata.namespace, name: o.metadata.name, lane: o.lane ?? "bulk" }] : [],
    );
  }

  /** The objects as the git mirror needs them, or undefined while the watch is not connected (its cache may be behind). */
  mirrored(): MirroredObject[] | undefined {
    if (!this.connected || this.informer === undefined) return undefined;
    return this.informer.list().flatMap((o: SlimObject) => {
      const { name, namespace } = o.metadata ?? {};
      if (name === undefined || namespace === undefined) return [];
      return [{ namespace, name, ...(o.file !== undefined ? { file: o.file } : {}), ...(o.invalid !== undefined ? { invalid: o.invalid } : {}) }];
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resetTimer) clearTimeout(this.resetTimer);
    await this.informer?.stop();
  }
}
