/**
 * The watches that feed the board: Rollouts (whole objects: the page shows their status) and the
 * Events about them, in one namespace or all. client-node's informer stops at an error other than
 * 410 Gone, so each is started again with backoff; meanwhile the page says what is wrong.
 */
import { CoreV1Api, CustomObjectsApi, ListWatch, Watch, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { kubeError } from "../kube/errors.js";
import { GROUP, parseRolloutObject, PLURAL, VERSION } from "../kube/rollouts.js";
import { API_VERSION, KIND } from "../rollout/schema.js";
import type { Board } from "./board.js";

interface Listed {
  items: KubernetesObject[];
  resourceVersion: string;
}

interface FeedSpec {
  /** How the page names this watch when it fails ("Rollouts", "Events"). */
  what: string;
  path: string;
  fieldSelector?: string;
  list: () => Promise<Listed>;
  put: (object: KubernetesObject) => void;
  remove: (object: KubernetesObject) => void;
}

export interface DashboardFeedOptions {
  /** Only this namespace; all namespaces when undefined. */
  namespace?: string;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class DashboardFeed {
  private readonly informers: ListWatch<KubernetesObject>[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly board: Board,
    private readonly options: DashboardFeedOptions = {},
  ) {}

  /** Resolves once both watches have listed (or failed once: they go on trying, and the page says why). */
  async start(): Promise<void> {
    const { namespace } = this.options;
    const objects = this.kc.makeApiClient(CustomObjectsApi);
    const core = this.kc.makeApiClient(CoreV1Api);
    const within = namespace === undefined ? "" : `/namespaces/${namespace}`;
    const fieldSelector = `involvedObject.kind=${KIND},involvedObject.apiVersion=${API_VERSION}`;
    const rollouts: FeedSpec = {
      what: "Rollouts",
      path: `/apis/${GROUP}/${VERSION}${within}/${PLURAL}`,
      list: async () => {
        const raw = (
          namespace === undefined
            ? await objects.listCustomObjectForAllNamespaces({ group: GROUP, version: VERSION, plural: PLURAL })
            : await objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace })
        ) as { metadata?: { resourceVersion?: string }; items?: KubernetesObject[] };
        return { items: raw.items ?? [], resourceVersion: raw.metadata?.resourceVersion ?? "" };
      },
      put: (object) => {
        try {
          this.board.putRollout(parseRolloutObject(object));
        } catch {
          // not a Rollout object this version understands: nothing to show
        }
      },
      remove: (object) => {
        if (object.metadata?.namespace && object.metadata.name) this.board.removeRollout(object.metadata.namespace, object.metadata.name);
      },
    };
    const events: FeedSpec = {
      what: "Events",
      path: `/api/v1${within}/events`,
      fieldSelector,
      list: async () => {
        const list = namespace === undefined ? await core.listEventForAllNamespaces({ fieldSelector }) : await core.listNamespacedEvent({ namespace, fieldSelector });
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
      },
      put: (object) => this.board.putEvent(object),
      remove: (object) => this.board.putEvent(object, true),
    };
    await Promise.all([this.run(rollouts), this.run(events)]);
  }

  private async run(spec: FeedSpec): Promise<void> {
    let backoffMs = this.options.minBackoffMs ?? 500;
    const informer = new ListWatch<KubernetesObject>(
      spec.path,
      new Watch(this.kc),
      async () => {
        try {
          const { items, resourceVersion } = await spec.list();
          this.board.setProblem(spec.what, undefined);
          backoffMs = this.options.minBackoffMs ?? 500;
          return { metadata: { resourceVersion }, items };
        } catch (error) {
          throw kubeError(error, `listing ${spec.what}`);
        }
      },
      false,
      undefined,
      spec.fieldSelector,
    );
    informer.on("add", spec.put);
    informer.on("update", spec.put);
    informer.on("delete", spec.remove);
    informer.on("error", (error: unknown) => {
      if (this.stopped) return;
      const delay = backoffMs;
      backoffMs = Math.min(backoffMs * 2, this.options.maxBackoffMs ?? 30_000);
      const message = error instanceof Error ? error.message : String(error);
      // Without rights over every namespace, a user can still watch their own.
      const hint = this.options.namespace === undefined && kubeError(error, "").code === 403 ? "; start the dashboard with -n <namespace> to watch one namespace" : "";
      this.board.setProblem(spec.what, `${message}${hint} (watching ${spec.what} again in ${Math.round(delay / 1000)}s)`);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!this.stopped) informer.start().catch(() => undefined);
      }, delay);
      this.timers.add(timer);
    });
    this.informers.push(informer);
    await informer.start().catch(() => undefined); // reported through "error", and retried
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
