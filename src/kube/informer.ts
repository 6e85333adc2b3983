/**
 * Watches Rollout objects. client-node's informer stops on any error other than 410 Gone, so
 * this one restarts it with exponential backoff, for as long as it runs.
 *
 * The informer's cache keeps only each Rollout's name, namespace and resourceVersion (all the
 * controller asks of it): the reconciler reads the live object itself, and 1,000 whole objects
 * (spec, status, managedFields) would stay in memory for nothing.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { GROUP, PLURAL, RolloutClient, VERSION } from "./rollouts.js";

/** What the cache keeps of an object: enough to name it and to tell its versions apart. */
export function slimObject(object: { metadata?: { name?: string; namespace?: string; resourceVersion?: string } }): KubernetesObject {
  const { name, namespace, resourceVersion } = object.metadata ?? {};
  return { metadata: { ...(name !== undefined ? { name } : {}), ...(namespace !== undefined ? { namespace } : {}), ...(resourceVersion !== undefined ? { resourceVersion } : {}) } };
}

/**
 * A watch that hands the informer slim objects; ERROR (a Status, e.g. 410 Gone) and BOOKMARK
 * events pass unchanged. It says when the API server has answered a watch with 200: client-node's
 * own "connect" comes before the list and the watch are even tried.
 */
class SlimWatch extends Watch {
  constructor(kc: KubeConfig, private readonly onWatching: () => void) {
    super(kc);
  }

  override async watch(...[path, queryParams, callback, done]: Parameters<Watch["watch"]>): ReturnType<Watch["watch"]> {
    let ended = false;
    const controller = await super.watch(path, queryParams, (phase: string, object: KubernetesObject) => {
      const slim = phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED" ? slimObject(object) : object;
      callback(phase, slim, { type: phase, object: slim });
    }, (error: unknown) => {
      ended = true;
      done(error);
    });
    // client-node resolves after a 200 and also after a failure it has already reported to `done`.
    if (!ended) this.onWatching();
    return controller;
  }
}

/** How long a (re)started watch must run without an error before the backoff is reset. */
const STABLE_MS = 10_000;

export interface RolloutRef {
  namespace: string;
  name: string;
}

export interface WatchOptions {
  /** `resourceVersion`: the version the change produced, when the API server said. */
  onChange: (ref: RolloutRef, kind: "add" | "update" | "delete", resourceVersion?: string) => void;
  onError?: (error: Error, restartInMs: number) => void;
  /** The list (when one was needed) and the watch succeeded, after the start or an error. */
  onConnect?: () => void;
  /** Only Rollouts with these labels, e.g. "tideway.io/source=git". */
  labelSelector?: string;
  /** Backoff bounds for restarts. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class RolloutWatch {
  private informer: ListWatch<KubernetesObject> | undefined;
  private stopped = false;
  private backoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private resetTimer: NodeJS.Timeout | undefined;
  /** True from a successful watch until the next error: what /readyz reports. */
  connected = false;

  constructor(private readonly kc: KubeConfig, private readonly options: WatchOptions) {
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
    const informer = new ListWatch<KubernetesObject>(path, new SlimWatch(this.kc, watching), async () => {
      const { items, resourceVersion } = await client.listWithVersion(this.options.labelSelector);
      return { apiVersion: `${GROUP}/${VERSION}`, kind: "RolloutList", metadata: { resourceVersion }, items: items.map(slimObject) };
    }, false, this.options.labelSelector);
    const emit = (kind: "add" | "update" | "delete") => (object: KubernetesObject) => {
      const name = object.metadata?.name;
      const namespace = object.metadata?.namespace;
      if (name && namespace) this.options.onChange({ namespace, name }, kind, object.metadata?.resourceVersion);
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
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 30_000);
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)), delay);
      this.timer = setTimeout(() => {
        if (!this.stopped) informer.start().catch(() => undefined);
      }, delay);
    });
    this.informer = informer;
    await informer.start();
  }

  /** Every Rollout the informer knows of now. */
  list(): RolloutRef[] {
    return (this.informer?.list() ?? []).flatMap((o) => (o.metadata?.name && o.metadata.namespace ? [{ namespace: o.metadata.namespace, name: o.metadata.name }] : []));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resetTimer) clearTimeout(this.resetTimer);
    await this.informer?.stop();
  }
}
