/** Moving a release through its steps, and ending it. */
import { formatDuration } from "../duration.js";
import { emptyCounts, HISTORY_LIMIT, type ReleaseOutcome, type ReleaseStatus } from "../status.js";
import type { Draft } from "./context.js";
import { readyFor, warnIfStableUnready } from "./readiness.js";
import { applyCanary, retire } from "./workload.js";

/** Starts a release of `version` from step 0; traffic first returns to 100% stable. */
export function startRelease(draft: Draft, version: string): void {
  const status = draft.status;
  status.releaseCount += 1;
  status.phase = "Progressing";
  status.canaryVersion = version;
  status.release = {
    id: status.releaseCount,
    version,
    startedAt: draft.iso,
    progressAt: draft.iso,
    stepIndex: 0,
    canaryWeight: 0,
    headerRoute: false,
    trafficApplied: false,
    stepChecks: emptyCounts(),
    checks: emptyCounts(),
    inconclusiveStreak: 0,
    errorStreak: 0,
    metrics: (draft.rollout.spec.analysis?.metrics ?? []).map((m) => ({ name: m.name, counts: emptyCounts() })),
  };
  draft.setCondition("Progressing", "True", "ReleaseStarted", `releasing ${version}`);
  const first = draft.steps.find((s) => s.kind === "setWeight");
  applyCanary(draft, status.release, first?.kind === "setWeight" ? Math.max(first.weight, 1) : 100);
  draft.notify("started", `${draft.rollout.name} ${version}: canary started (stable ${status.stableVersion})`, { steps: draft.steps.length });
  draft.driveTraffic();
}

/**
 * Runs steps for as long as they can complete now. Stops when it waits for traffic to be
 * confirmed, for time to pass, for a passing check, or for a person.
 */
export function advance(draft: Draft): void {
  for (let guard = 0; guard <= draft.steps.length + 1; guard++) {
    const release = draft.release;
    if (!release || draft.status.phase !== "Progressing" || !release.trafficApplied) break;
    if (release.stepStartedAt === undefined) beginStep(draft, release);
    const step = draft.steps[release.stepIndex];
    if (!step) {
      if (hasEvidence(draft, release) && readyFor(draft, release, 100)) promote(draft, "all steps passed");
      break;
    }
    if (step.kind === "setWeight") {
      if (release.canaryWeight !== step.weight) {
        // More weight waits for the canary's readiness; less never does.
        if (step.weight > release.canaryWeight && !readyFor(draft, release, step.weight)) break;
        changeTraffic(draft, release, () => (release.canaryWeight = step.weight));
        draft.notify("step", `${draft.rollout.name} ${release.version}: step ${draft.stepLabel(release.stepIndex)}, ${step.weight}% to canary`, {
          step: draft.stepLabel(release.stepIndex),
          weight: step.weight,
        });
        break;
      }
    } else if (step.kind === "setHeaderRoute") {
      if (!release.headerRoute) {
        if (!readyFor(draft, release, 0)) break;
        changeTraffic(draft, release, () => (release.headerRoute = true));
        draft.notify("step", `${draft.rollout.name} ${release.version}: step ${draft.stepLabel(release.stepIndex)}, header route ${step.route.name} to canary`, {
          step: draft.stepLabel(release.stepIndex),
          weight: release.canaryWeight,
          headerRoute: step.route.name,
        });
        break;
      }
    } else if (step.kind === "setMirrorRoute") {
      if (release.mirrorRoute !== true) {
        // Mirrored requests reach the canary's pods, though no user sees their answers.
        if (!readyFor(draft, release, 0)) break;
        changeTraffic(draft, release, () => (release.mirrorRoute = true));
        draft.notify("step", `${draft.rollout.name} ${release.version}: step ${draft.stepLabel(release.stepIndex)}, ${step.mirror.percentage}% of stable's requests mirrored to canary`, {
          step: draft.stepLabel(release.stepIndex),
          weight: release.canaryWeight,
        });
        break;
      }
    } else if (step.durationMs === undefined) {
      pauseRelease(draft, "gate", `waiting at step ${draft.stepLabel(release.stepIndex)} for a promote`);
      break;
    } else {
      const endsAt = Date.parse(release.stepStartedAt ?? draft.iso) + step.durationMs;
      if (draft.now < endsAt) {
        draft.wakeAt(endsAt);
        break;
      }
      if (!hasEvidence(draft, release)) break;
    }
    nextStep(draft, release);
  }
  summarize(draft);
}

function beginStep(draft: Draft, release: ReleaseStatus): void {
  release.stepStartedAt = draft.iso;
  const step = draft.steps[release.stepIndex];
  const analysed = step === undefined || step.kind === "pause";
  if (analysed && draft.intervalMs !== undefined) scheduleAnalysis(draft, release, draft.now + draft.intervalMs);
}

/** Asks for an analysis run at `at`; the result must name the same time to count. */
export function scheduleAnalysis(draft: Draft, release: ReleaseStatus, at: number): void {
  release.nextAnalysisAt = new Date(at).toISOString();
  draft.effects.push({
    type: "runAnalysis",
    at,
    releaseId: release.id,
    stepIndex: release.stepIndex,
    version: release.version,
    stableVersion: draft.status.stableVersion,
  });
}

/** No check configured, or at least one passing check in this step. */
function hasEvidence(draft: Draft, release: ReleaseStatus): boolean {
  return draft.intervalMs === undefined || release.stepChecks.passed > 0;
}

function changeTraffic(draft: Draft, release: ReleaseStatus, change: () => void): void {
  change();
  release.trafficApplied = false;
  draft.driveTraffic();
}

/** Completes the current step and moves to the next one (or to the final check). */
export function nextStep(draft: Draft, release: ReleaseStatus): void {
  const completed = draft.steps[release.stepIndex];
  release.stepIndex = Math.min(release.stepIndex + 1, draft.steps.length);
  delete release.stepStartedAt;
  delete release.nextAnalysisAt;
  delete release.pausedAt;
  delete release.pauseReason;
  delete release.waitingFor;
  release.progressAt = draft.iso;
  // A pause that ends the steps already checked the final weight: its passes count for promotion.
  const finalAfterPause = release.stepIndex === draft.steps.length && completed?.kind === "pause";
  if (!finalAfterPause) release.stepChecks = emptyCounts();
  draft.status.phase = "Progressing";
}

export function pauseRelease(draft: Draft, reason: NonNullable<ReleaseStatus["pauseReason"]>, message: string): void {
  const release = draft.release;
  if (!release) return;
  draft.status.phase = "Paused";
  release.pausedAt ??= draft.iso;
  release.pauseReason = reason;
  draft.notify(
    "paused",
    `${draft.rollout.name} ${release.version}: paused, ${message}`,
    { reason, step: draft.stepLabel(release.stepIndex) },
    reason === "gate" || reason === "manual" ? "normal" : "warning",
  );
  summarize(draft);
}

/** Resumes a paused release; a pause step's clock does not count the time spent paused. */
export function resumeRelease(draft: Draft): void {
  const release = draft.release;
  if (!release || draft.status.phase !== "Paused") return;
  if (release.pausedAt !== undefined && release.stepStartedAt !== undefined) {
    const pausedFor = draft.now - Date.parse(release.pausedAt);
    release.stepStartedAt = new Date(Date.parse(release.stepStartedAt) + pausedFor).toISOString();
  }
  delete release.pausedAt;
  delete release.pauseReason;
  release.progressAt = draft.iso;
  release.inconclusiveStreak = 0;
  release.errorStreak = 0;
  draft.status.phase = "Progressing";
  draft.notify("resumed", `${draft.rollout.name} ${release.version}: resumed at step ${draft.stepLabel(release.stepIndex)}`, { step: draft.stepLabel(release.stepIndex) });
}

/** 100% to the canary, which becomes stable. */
export function promote(draft: Draft, reason: string): void {
  const release = draft.release;
  if (!release) return;
  const previous = draft.status.stableVersion;
  endRelease(draft, release, "promoted", reason);
  draft.status.stableVersion = release.version;
  retire(draft, previous, true);
  draft.status.phase = "Healthy";
  delete draft.status.canaryVersion;
  draft.setCondition("Progressing", "False", "Promoted", `${release.version} promoted`);
  draft.notify("promoted", `${draft.rollout.name} ${release.version} promoted: 100% of traffic, now stable (was ${previous})`, { reason });
  draft.driveTraffic();
  summarize(draft);
}

/** 100% back to stable; the release is marked failed and not retried until asked or the version changes. */
export function failRelease(draft: Draft, outcome: "rolled-back" | "aborted", reason: string, details: Record<string, string | number> = {}): void {
  const release = draft.release;
  if (!release) return;
  endRelease(draft, release, outcome, reason);
  retire(draft, release.version, false); // kept at 0 pods: a retry is fast
  draft.status.phase = outcome === "aborted" ? "Aborted" : "RolledBack";
  draft.status.canaryVersion = release.version;
  draft.setCondition("Progressing", "False", outcome === "aborted" ? "Aborted" : "RolledBack", reason);
  const verb = outcome === "aborted" ? "aborted" : "rolled back";
  draft.notify(outcome, `${draft.rollout.name} ${release.version} ${verb}: ${reason}; 100% to ${draft.status.stableVersion}`, { reason, ...details }, "warning");
  warnIfStableUnready(draft);
  draft.driveTraffic();
  summarize(draft);
}

/** Ends the release in flight for a reason that is neither success nor failure (superseded, reverted, removed). */
export function dropRelease(draft: Draft, outcome: "superseded" | "reverted" | "removed", reason: string): void {
  const release = draft.release;
  if (!release) return;
  endRelease(draft, release, outcome, reason);
  if (outcome !== "removed") retire(draft, release.version, true);
  draft.status.phase = "Healthy";
  delete draft.status.canaryVersion;
  draft.setCondition("Progressing", "False", outcome === "superseded" ? "Superseded" : outcome === "reverted" ? "Reverted" : "Removed", reason);
  draft.notify(outcome, `${draft.rollout.name} ${release.version} ${outcome}: ${reason}; 100% to ${draft.status.stableVersion}`, { reason });
  draft.driveTraffic();
  summarize(draft);
}

function endRelease(draft: Draft, release: ReleaseStatus, outcome: ReleaseOutcome, reason: string): void {
  const checks = release.metrics.flatMap((m) => (m.lastMessage === undefined ? [] : [{ name: m.name, ...(m.lastOutcome ? { outcome: m.lastOutcome } : {}), message: m.lastMessage }]));
  draft.status.history = [
    ...draft.status.history,
    {
      id: release.id,
      version: release.version,
      fromVersion: draft.status.stableVersion,
      outcome,
      reason,
      startedAt: release.startedAt,
      finishedAt: draft.iso,
      ...(checks.length > 0 ? { checks } : {}),
    },
  ].slice(-HISTORY_LIMIT);
  delete draft.status.release;
}

/** Keeps the display fields (weight, step, message) in line with the release. */
export function summarize(draft: Draft): void {
  const status = draft.status;
  const release = status.release;
  if (!release) {
    status.canaryWeight = 0;
    status.step = "";
    // Only what is true: "100% of traffic" once the VirtualService says so, not while it refuses.
    const notApplied = trafficFailure(draft);
    const traffic = notApplied === undefined ? "" : `; traffic not applied (retrying): ${notApplied}`;
    if (status.phase === "Healthy") status.message = notApplied === undefined ? `${status.stableVersion} is stable: 100% of traffic` : `${status.stableVersion} is stable${traffic}`;
    else
      status.message = `${status.canaryVersion ?? ""} ${status.phase === "Aborted" ? "aborted" : "rolled back"}: ${lastReason(draft)}; ${notApplied === undefined ? `100% to ${status.stableVersion}` : `sending 100% to ${status.stableVersion}${traffic}`}`;
    return;
  }
  status.canaryWeight = release.canaryWeight;
  status.step = draft.stepLabel(release.stepIndex);
  status.message = describeRelease(draft, release);
}

function lastReason(draft: Draft): string {
  return draft.status.history.at(-1)?.reason ?? "";
}

/** Why traffic is not applied, while the TrafficApplied condition says it is not. */
function trafficFailure(draft: Draft): string | undefined {
  const condition = draft.status.conditions.find((c) => c.type === "TrafficApplied");
  return condition?.status === "False" ? condition.message : undefined;
}

/** The last analysis run, when it did not pass: "; last check error: success-rate no answer ...". */
function lastCheck(release: ReleaseStatus): string {
  const checked = release.metrics.filter((m) => m.lastCheckedAt !== undefined);
  const latest = checked.reduce((at, m) => (m.lastCheckedAt !== undefined && m.lastCheckedAt > at ? m.lastCheckedAt : at), "");
  const last = checked.filter((m) => m.lastCheckedAt === latest && m.lastOutcome !== "pass");
  if (last.length === 0) return "";
  return `; last check ${last.map((m) => `${m.name} ${m.lastOutcome ?? ""}: ${m.lastMessage ?? ""}`).join(", ")}`;
}

function describeRelease(draft: Draft, release: ReleaseStatus): string {
  const head = `${release.version} at ${release.canaryWeight}%`;
  if (!release.trafficApplied) {
    const notApplied = trafficFailure(draft);
    return notApplied === undefined ? `${head}: applying traffic` : `${head}: traffic not applied (retrying): ${notApplied}`;
  }
  if (draft.status.phase === "Paused") {
    const why = {
      manual: "paused by hand",
      gate: "waiting for a promote",
      inconclusive: "paused: too many inconclusive checks",
      error: "paused: too many analysis errors",
      deadline: `paused: ${draft.status.conditions.find((c) => c.type === "Progressing")?.message ?? "progress deadline passed"}`,
    };
    const limit = release.pauseReason === "inconclusive" || release.pauseReason === "error" ? lastCheck(release) : "";
    return `${head}, step ${draft.stepLabel(release.stepIndex)}: ${why[release.pauseReason ?? "manual"]}${limit}`;
  }
  if (release.waitingFor !== undefined) return `${head}, step ${draft.stepLabel(release.stepIndex)}: waiting for ${release.waitingFor}`;
  const step = draft.steps[release.stepIndex];
  const checks = `${release.stepChecks.passed} passing check${release.stepChecks.passed === 1 ? "" : "s"}${lastCheck(release)}`;
  if (!step) return `${head}: final check before promotion (${checks})`;
  // No countdown here: the message changes only when something happens, so ticks write nothing.
  if (step.kind === "pause" && step.durationMs !== undefined) {
    return `${head}, step ${draft.stepLabel(release.stepIndex)}: pause ${formatDuration(step.durationMs)}, ${checks}`;
  }
  return `${head}, step ${draft.stepLabel(release.stepIndex)}`;
}
