/**
 * Why a version's pods will not come up by themselves, read from their container statuses: one
 * list of waiting reasons and one wording, shared by readiness (pods behind a Service) and
 * workloads (pods of a Deployment Tideway applied).
 */
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";

/** Waiting reasons of a container that mean it will not start without a change. */
export const FAILING_REASONS: ReadonlySet<string> = new Set(["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"]);

/** "CrashLoopBackOff: back-off 10s restarting failed container (last exit code 1, Error)", or undefined when the container is not failing. */
export function containerFailure(status: V1ContainerStatus): string | undefined {
  const waiting = status.state?.waiting;
  const reason = waiting?.reason;
  if (reason === undefined || !FAILING_REASONS.has(reason)) return undefined;
  const last = status.lastState?.terminated;
  const exit = last !== undefined ? ` (last exit code ${last.exitCode}${last.reason ? `, ${last.reason}` : ""})` : "";
  return `${reason}${waiting?.message ? `: ${brief(waiting.message)}` : ""}${exit}`;
}

/** "container reviews CrashLoopBackOff: ..." for the pod's first failing container (init containers first). */
export function podFailure(pod: V1Pod): string | undefined {
  for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const failure = containerFailure(status);
    if (failure !== undefined) return `container ${status.name} ${failure}`;
  }
  return undefined;
}

/** The kubelet's and the controller's messages can be long; the first 300 characters tell the story. */
export function brief(message: string): string {
  const line = message.replace(/\s+/g, " ").trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
