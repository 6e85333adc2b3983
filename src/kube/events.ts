/** Kubernetes Events: what `kubectl describe rollout` shows under Events. */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { kubeError } from "./errors.js";

export interface EventTarget {
  namespace: string;
  name: string;
  uid?: string;
}

export class EventRecorder {
  private readonly api: CoreV1Api;
  private sequence = 0;

  constructor(kc: KubeConfig, private readonly component = "tideway") {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  /** Records an Event on a Rollout; never throws (an Event is not worth failing a release for). */
  async record(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const now = new Date();
    this.sequence += 1;
    const name = `${target.name.replace(/[^a-z0-9.-]/g, "-").slice(0, 200) || "tideway"}.${now.getTime().toString(16)}${this.sequence}`;
    try {
      await this.api.createNamespacedEvent({
        namespace: target.namespace,
        body: {
          metadata: { name, namespace: target.namespace },
          involvedObject: { apiVersion: "tideway.io/v1alpha1", kind: "Rollout", namespace: target.namespace, name: target.name, ...(target.uid ? { uid: target.uid } : {}) },
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
      this.onError?.(kubeError(error, `recording event ${reason} on ${target.namespace}/${target.name}`));
    }
  }

  onError?: (error: Error) => void;
}
