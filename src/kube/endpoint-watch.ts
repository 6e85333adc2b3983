/**
 * Hears EndpointSlice changes (a pod became ready, or lost it) so a release waiting for readiness,
 * or a canary that lost its pods, is looked at at once instead of at its next timer. It keeps no
 * cache: each event is reduced to its namespace and Service name and handed on, so memory does
 * not grow with the cluster. It watches only the namespaces it is told Rollouts live in.
 * A watch starts at the namespace's current resourceVersion and resumes from the last one it saw:
 * without one, the API server would open (and every renewal reopen) with an ADDED event for
 * every slice in the namespace, each waking every release there. A change that falls between a
 * reconcile's read and the watch's start is picked up by the release's next recheck.
 */
import { DiscoveryV1Api, Watch, type KubeConfig } from "@kubernetes/client-node";
import { WATCH_MAX_BACKOFF_MS } from "./informer.js";
import { SERVICE_NAME_LABEL } from "./readiness.js";

export interface EndpointWatchOptions {
  onChange: (namespace: string, service: string) => void;
  onError?: (error: Error, namespace: string, restartInMs: number) => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long the API server keeps each watch open before it is renewed (default 300 s). */
  timeoutSeconds?: number;
}

interface Running {
  abort?: AbortController;
  timer?: NodeJS.Timeout;
  backoffMs: number;
  /** Where the next watch resumes; undefined: at the namespace's current state. */
  resourceVersion?: string;
}

export class EndpointWatch {
  private readonly watch: Watch;
  private readonly discovery: DiscoveryV1Api;
  private readonly running = new Map<string, Running>();
  private stopped = false;

  constructor(
    kc: KubeConfig,
    private readonly options: EndpointWatchOptions,
  ) {
    this.watch = new Watch(kc);
    this.discovery = kc.makeApiClient(DiscoveryV1Api);
  }

  /** Watches `namespace` too (idempotent). */
  ensure(namespace: string): void {
    if (this.stopped || this.running.has(namespace)) return;
    const state: Running = { backoffMs: this.options.minBackoffMs ?? 500 };
    this.running.set(namespace, state);
    void this.start(namespace, state);
  }

  get namespaces(): string[] {
    return [...this.running.keys()];
  }

  private async start(namespace: string, state: Running): Promise<void> {
    if (this.stopped) return;
    let healthy: NodeJS.Timeout | undefined;
    let finished = false;
    // client-node may report one failure both to `done` and by rejecting: restart once.
    const restart = (error: unknown) => {
      if (finished) return;
      finished = true;
      if (healthy) clearTimeout(healthy);
      if (this.stopped || this.running.get(namespace) !== state) return;
      // A watch the API server ended after its timeout is renewed at once; an error backs off.
      const delay = error ? state.backoffMs : 0;
      if (error) {
        state.resourceVersion = undefined; // it may be too old by the time the watch restarts
        state.backoffMs = Math.min(state.backoffMs * 2, this.options.maxBackoffMs ?? WATCH_MAX_BACKOFF_MS);
        this.options.onError?.(error instanceof Error ? error : new Error(String(error)), namespace, delay);
      }
      state.timer = setTimeout(() => void this.start(namespace, state), delay);
      state.timer.unref();
    };
    try {
      // A list of at most one slice is the cheapest way to learn the namespace's resourceVersion.
      state.resourceVersion ??= (await this.discovery.listNamespacedEndpointSlice({ namespace, limit: 1 })).metadata?.resourceVersion;
      state.abort = await this.watch.watch(
        `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
        { timeoutSeconds: this.options.timeoutSeconds ?? 300, allowWatchBookmarks: true, resourceVersion: state.resourceVersion },
        (phase: string, object: { metadata?: { labels?: Record<string, string>; resourceVersion?: string } }) => {
          // ERROR: the resourceVersion is gone (410); the server ends the watch and the next one starts afresh.
          if (phase === "ERROR") state.resourceVersion = undefined;
          else if (object.metadata?.resourceVersion !== undefined) state.resourceVersion = object.metadata.resourceVersion;
          if (phase !== "ADDED" && phase !== "MODIFIED" && phase !== "DELETED") return;
          const service = object.metadata?.labels?.[SERVICE_NAME_LABEL];
          if (service !== undefined) this.options.onChange(namespace, service);
        },
        restart,
      );
      healthy = setTimeout(() => (state.backoffMs = this.options.minBackoffMs ?? 500), 10_000);
      healthy.unref();
    } catch (error) {
      restart(error ?? new Error("watch failed"));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const state of this.running.values()) {
      if (state.timer) clearTimeout(state.timer);
      state.abort?.abort();
    }
    this.running.clear();
  }
}
