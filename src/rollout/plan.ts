/** What a release of a Rollout will do, step by step, and the least time each step can take. */
import { formatDuration } from "./duration.js";
import { analysisIntervalMs, normalizeSteps, type HeaderRoute } from "./model.js";
import type { RolloutSpec } from "./schema.js";

export interface PlanLine {
  /** 1-based, as `kubectl get rollouts` shows it ("2/5"); undefined for the final check. */
  step: number | undefined;
  kind: "setWeight" | "setHeaderRoute" | "setMirrorRoute" | "pause" | "gate" | "finalCheck";
  /** What the step does, in words. */
  action: string;
  /** Percent of traffic to the canary once the step is done. */
  canaryWeight: number;
  /** Whether header-matched requests go to the canary once the step is done. */
  headerRoute: boolean;
  /** The least time the step takes; undefined when it waits for a person to promote. */
  minimumMs: number | undefined;
}

/**
 * The steps of a release as the engine runs them. With analysis, a step only advances after a
 * passing check, and the first check comes one interval after the step starts: a pause lasts at
 * least max(duration, interval), and when the steps do not end with a pause, one more check at
 * the final weight comes before promotion.
 */
export function planRelease(spec: RolloutSpec): PlanLine[] {
  const intervalMs = analysisIntervalMs(spec);
  const checking = intervalMs === undefined ? "" : `, checked every ${formatDuration(intervalMs)}`;
  let canaryWeight = 0;
  let headerRoute = false;
  const lines = normalizeSteps(spec).map((step, index): PlanLine => {
    const at = { step: index + 1 };
    switch (step.kind) {
      case "setWeight":
        canaryWeight = step.weight;
        return { ...at, kind: "setWeight", action: `send ${step.weight}% of traffic to the canary`, canaryWeight, headerRoute, minimumMs: 0 };
      case "setHeaderRoute":
        headerRoute = true;
        return { ...at, kind: "setHeaderRoute", action: `send requests with ${describeHeaders(step.route)} to the canary`, canaryWeight, headerRoute, minimumMs: 0 };
      case "setMirrorRoute":
        return {
          ...at,
          kind: "setMirrorRoute",
          action: `mirror ${step.mirror.percentage}% of stable's requests${step.mirror.headers ? ` with ${describeHeaders({ name: "", headers: step.mirror.headers })}` : ""} to the canary`,
          canaryWeight,
          headerRoute,
          minimumMs: 0,
        };
      case "pause":
        if (step.durationMs === undefined) {
          return { ...at, kind: "gate", action: `wait for a manual promote${checking}`, canaryWeight, headerRoute, minimumMs: undefined };
        }
        return { ...at, kind: "pause", action: `pause ${formatDuration(step.durationMs)}${checking}`, canaryWeight, headerRoute, minimumMs: Math.max(step.durationMs, intervalMs ?? 0) };
    }
  });
  const last = lines[lines.length - 1];
  if (intervalMs !== undefined && last !== undefined && last.kind !== "pause" && last.kind !== "gate") {
    lines.push({ step: undefined, kind: "finalCheck", action: "final check before promotion", canaryWeight, headerRoute, minimumMs: intervalMs });
  }
  return lines;
}

/** The steps that wait for a manual promote, 1-based. */
export function manualGates(lines: readonly PlanLine[]): number[] {
  return lines.flatMap((line) => (line.kind === "gate" && line.step !== undefined ? [line.step] : []));
}

/** The least time from the start of a release to its promotion, leaving out waits for a person. */
export function minimumTimeMs(lines: readonly PlanLine[]): number {
  return lines.reduce((total, line) => total + (line.minimumMs ?? 0), 0);
}

function describeHeaders(route: HeaderRoute): string {
  return Object.entries(route.headers)
    .map(([header, match]) => {
      if (match.exact !== undefined) return `${header}: ${JSON.stringify(match.exact)}`;
      if (match.prefix !== undefined) return `${header} starting with ${JSON.stringify(match.prefix)}`;
      return `${header} matching /${match.regex ?? ""}/`;
    })
    .join(" and ");
}
