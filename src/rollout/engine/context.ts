/** The working state of one engine call: a private copy of status, the effects so far, the clock. */
import { analysisIntervalMs, guardOf, normalizeSteps, type NormalizedStep, type Rollout } from "../model.js";
import type { Condition, ReleaseStatus, RolloutStatus } from "../status.js";
import { desiredTraffic } from "../traffic.js";
import type { Effect, EventKind, ReleaseEvent } from "./types.js";

export class Draft {
  readonly effects: Effect[] = [];
  readonly steps: NormalizedStep[];
  readonly intervalMs: number | undefined;
  readonly guard: ReturnType<typeof guardOf>;
  requeueAt: number | undefined;

  constructor(
    readonly rollout: Rollout,
    public status: RolloutStatus,
    readonly now: number,
  ) {
    this.steps = normalizeSteps(rollout.spec);
    this.intervalMs = analysisIntervalMs(rollout.spec);
    this.guard = guardOf(rollout.spec);
  }

  get iso(): string {
    return new Date(this.now).toISOString();
  }

  get release(): ReleaseStatus | undefined {
    return this.status.release;
  }

  get inFlight(): boolean {
    return this.status.release !== undefined;
  }

  /** Asks for the traffic that status now describes. */
  driveTraffic(): void {
    const traffic = desiredTraffic(this.rollout, this.status);
    const last = [...this.effects].reverse().find((e) => e.type === "setTraffic");
    if (last && JSON.stringify(last.traffic) === JSON.stringify(traffic)) return;
    this.effects.push({ type: "setTraffic", traffic });
  }

  notify(kind: EventKind, message: string, details: ReleaseEvent["details"] = {}, severity: ReleaseEvent["severity"] = "normal"): void {
    const release = this.status.release;
    this.status.eventCount = (this.status.eventCount ?? 0) + 1;
    this.effects.push({
      type: "notify",
      event: {
        id: String(this.status.eventCount),
        kind,
        severity,
        message,
        rollout: { name: this.rollout.name, namespace: this.rollout.namespace },
        version: release?.version ?? this.status.canaryVersion ?? this.rollout.spec.version,
        stableVersion: this.status.stableVersion,
        ...(release ? { releaseId: release.id } : {}),
        details,
      },
    });
  }

  wakeAt(at: number): void {
    this.requeueAt = this.requeueAt === undefined ? at : Math.min(this.requeueAt, at);
  }

  setCondition(type: string, status: Condition["status"], reason: string, message: string): void {
    this.status.conditions = withCondition(this.status.conditions, { type, status, reason, message }, this.iso);
  }

  stepLabel(stepIndex: number): string {
    const total = this.steps.length;
    return `${Math.min(stepIndex + 1, total)}/${total}`;
  }
}

/** `conditions` with `condition` set; its transition time moves only when its status changes. */
export function withCondition(conditions: readonly Condition[], condition: Omit<Condition, "lastTransitionTime">, iso: string): Condition[] {
  const existing = conditions.find((c) => c.type === condition.type);
  const lastTransitionTime = existing && existing.status === condition.status ? existing.lastTransitionTime : iso;
  return [...conditions.filter((c) => c.type !== condition.type), { ...condition, lastTransitionTime }].sort((a, b) => a.type.localeCompare(b.type));
}
