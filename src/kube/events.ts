/** Kubernetes Events: what `kubectl describe rollout` shows under Events. */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { createHash } from "node:crypto";
import { API_VERSION, KIND } from "../rollout/schema.js";
import { kubeError } from "./errors.js";

export interface EventTarget {
  namespace: string;
  name: string;
  uid?: string;
}

/** Kubernetes Events, as announcements use them: recorded once per key, never failing the caller. */
export interface EventSink {
  record(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string, key?: string): Promise<void>;
}

export class EventRecorder implements EventSink {
  private readonly api: CoreV1Api;
  private sequence = 0;

  constructor(
    kc: KubeConfig,
    private readonly component = "tideway",
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  /**
   * Records an Event on a Rollout; never throws (an Event is not worth failing a release for).
   * With a `key`, the Event's name is derived from it, so recording the same key again (a replayed
   * announcement, another replica) leaves the one Event there is.
   */
  async record(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string, key?: string): Promise<void> {
    const now = new Date();
    this.sequence += 1;
    const base = target.name.replace(/[^a-z0-9.-]/g, "-").slice(0, 200) || "tideway";
    const name = key === undefined ? `${base}.${now.getTime().toString(16)}${this.sequence}` : `${base}.${eventNameSuffix(key)}`;
    try {
      await this.api.createNamespacedEvent({
        namespace: target.namespace,
        body: {
          metadata: { name, namespace: target.namespace },
          involvedObject: { apiVersion: API_VERSION, kind: KIND, namespace: target.namespace, name: target.name, ...(target.uid ? { uid: target.uid } : {}) },
          reason,
          message: message.slice(0, 1024),
          type,
          source: { component: this.component },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          reportingComponent: this.component,
        },
      });
    } catch (error) {
      const failure = kubeError(error, `recording event ${reason} on ${target.namespace}/${target.name}`);
      if (key !== undefined && failure.code === 409) return; // recorded already
      this.onError?.(failure);
    }
  }

  onError?: (error: Error) => void;
}

/** A name part fit for an Event (lowercase letters, digits and "-"), unique per key. */
function eventNameSuffix(key: string): string {
  const readable = key
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/^-+/, "")
    .slice(0, 40);
  const digest = createHash("sha256").update(key).digest("hex").slice(0, 12);
  return readable === "" ? digest : `${readable}-${digest}`;
}
