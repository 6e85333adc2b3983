/** The controller's own metrics, served on /metrics. */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { RELEASE_EVENT_KINDS } from "../rollout/schema.js";
import { OUTCOMES, PHASES, type RolloutStatus } from "../rollout/status.js";

/**
 * Why a status write was made, from what changed: "step" (a release started, moved a step or a
 * weight, paused, resumed or ended), "traffic" (its traffic confirmed or failing, a condition),
 * "check" (a check's result), "outbox" (only the announcements made since were cleared), "other".
 */
export const STATUS_WRITE_CAUSES = ["step", "traffic", "check", "outbox", "other"] as const;
export type StatusWriteCause = (typeof STATUS_WRITE_CAUSES)[number];

export class ControllerMetrics {
  readonly phase: Gauge;
  readonly canaryWeight: Gauge;
  readonly analysisOutcomes: Counter;
  readonly guardRuns: Counter;
  readonly reconcileSeconds: Histogram;
  readonly prometheusQuerySeconds: Histogram;
  readonly errors: Counter;
  readonly trafficWrites: Counter;
  readonly statusWrites: Counter;
  readonly statusWriteCauses: Counter;
  readonly releaseEvents: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.phase = new Gauge({ name: "tideway_rollout_phase", help: "1 for the phase each Rollout is in (only that phase has a series)", labelNames: ["namespace", "rollout", "phase"], registers });
    this.canaryWeight = new Gauge({ name: "tideway_rollout_canary_weight", help: "Percent of traffic the canary receives", labelNames: ["namespace", "rollout"], registers });
    this.analysisOutcomes = new Counter({ name: "tideway_analysis_checks_total", help: "Metric checks by outcome", labelNames: ["namespace", "rollout", "metric", "outcome"], registers });
    this.guardRuns = new Counter({
      name: "tideway_guard_runs_total",
      help: "Guard looks at a canary's error ratio, by outcome (measured or error)",
      labelNames: ["namespace", "rollout", "outcome"],
      registers,
    });
    this.reconcileSeconds = new Histogram({
      name: "tideway_reconcile_duration_seconds",
      help: "Time to handle one reconcile job",
      labelNames: ["kind"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.prometheusQuerySeconds = new Histogram({
      name: "tideway_prometheus_query_duration_seconds",
      help: "Time of one Prometheus query",
      labelNames: ["metric", "outcome"],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.errors = new Counter({ name: "tideway_errors_total", help: "Errors by where they happened", labelNames: ["where"], registers });
    this.trafficWrites = new Counter({ name: "tideway_virtualservice_writes_total", help: "VirtualService writes", labelNames: ["namespace", "rollout"], registers });
    this.statusWrites = new Counter({ name: "tideway_status_writes_total", help: "Rollout status writes", labelNames: ["namespace", "rollout"], registers });
    // No Rollout label: five series in all, for reading writes per step change at any scale.
    this.statusWriteCauses = new Counter({
      name: "tideway_status_write_causes_total",
      help: "Rollout status writes by what changed (step, traffic, check, outbox, other)",
      labelNames: ["cause"],
      registers,
    });
    this.releaseEvents = new Counter({ name: "tideway_release_events_total", help: "Release events by kind", labelNames: ["namespace", "rollout", "kind"], registers });
  }

  /**
   * The phase gauge has one series per Rollout, the phase it is in, at 1 (none while it has no
   * status); the others are removed. Six series per Rollout, five of them 0, took about 900 bytes
   * of heap per Rollout in prom-client's tables (bench/adoption.ts, 2,000 Rollouts).
   */
  observeStatus(namespace: string, rollout: string, status: RolloutStatus | undefined): void {
    for (const phase of PHASES) {
      if (status?.phase === phase) this.phase.set({ namespace, rollout, phase }, 1);
      else this.phase.remove({ namespace, rollout, phase });
    }
    this.canaryWeight.set({ namespace, rollout }, status?.canaryWeight ?? 0);
  }

  /** A deleted Rollout's series go (its analysis checks' too, per metric of its last spec). */
  forget(namespace: string, rollout: string, metrics: readonly string[] = []): void {
    for (const phase of PHASES) this.phase.remove({ namespace, rollout, phase });
    this.canaryWeight.remove({ namespace, rollout });
    this.trafficWrites.remove({ namespace, rollout });
    this.statusWrites.remove({ namespace, rollout });
    for (const kind of RELEASE_EVENT_KINDS) this.releaseEvents.remove({ namespace, rollout, kind });
    for (const outcome of ["measured", "error"]) this.guardRuns.remove({ namespace, rollout, outcome });
    for (const metric of metrics) for (const outcome of OUTCOMES) this.analysisOutcomes.remove({ namespace, rollout, metric, outcome });
  }
}
