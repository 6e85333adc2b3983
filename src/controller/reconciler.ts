/**
 * One reconcile of one Rollout, in three parts. Observe: read the object, claim its commands, run
 * the analysis or guard the job is for, look at the routes on first sighting. Decide: fold what
 * was observed through the pure engine. Carry out: write status once (its outbox with it), make
 * the announcements, drive traffic, schedule the wake-ups. Traffic driven in one pass is confirmed
 * by the next, whose first observation is how it went (a requeue, as Argo's enqueueRolloutAfter),
 * so status is written first and then the mesh follows it. Safe to run twice: a second run finds
 * nothing to do.
 */
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { isConflict, isNotFound } from "../kube/errors.js";
import type { EventSink } from "../kube/events.js";
import type { ReadinessSource } from "../kube/readiness.js";
import { WorkloadError, type WorkloadManager } from "../kube/workloads.js";
import type { RolloutObject, RolloutStore } from "../kube/rollouts.js";
import { jobId, type ReconcileJob, type Scheduler } from "../queue/reconcile-queue.js";
import { FINALIZER, HELD_ABORT_ANNOTATION, INVALID_ANNOTATION } from "../rollout/annotations.js";
import {
  awaitsAnalysis,
  decide,
  desiredTraffic,
  formerVersions,
  routeRefused,
  sameTraffic,
  trafficPending,
  type Effect,
  type MetricResult,
  type Observation,
  type ReleaseEvent,
} from "../rollout/engine.js";
import { laneOfStatus, type Lane } from "../rollout/lane.js";
import type { Rollout } from "../rollout/model.js";
import { canaryReplicas } from "../rollout/workload.js";
import { RolloutSpecSchema } from "../rollout/schema.js";
import { OUTBOX_LIMIT, RolloutStatusSchema, type RolloutStatus } from "../rollout/status.js";
import { TrafficError, type TrafficRouter } from "../traffic/router.js";
import { ReleaseAnnouncer, type Notifier } from "./announcer.js";
import { claimCommands, clearClaim, type Claim } from "./command-claims.js";
import type { ControllerMetrics, StatusWriteCause } from "./metrics.js";

export type { Notifier } from "./announcer.js";

export type AnalysisRunner = (rollout: Rollout, context: { canaryVersion: string; stableVersion: string }) => Promise<MetricResult[]>;
/** The guard's reading of the canary's requests and 5xx answers (see analysis/guard.ts). */
export type GuardRunner = (rollout: Rollout, context: { canaryVersion: string; stableVersion: string; releaseStartedAt: number }) => Promise<{ requests: number; errors: number } | { error: string }>;

/** The ports the reconciler works through; the integration tests give it the real adapters, the unit tests small in-memory ones. */
export interface ReconcilerDeps {
  rollouts: RolloutStore;
  traffic: TrafficRouter;
  analysis: AnalysisRunner;
  guard: GuardRunner;
  queue: Scheduler;
  events: EventSink;
  metrics: ControllerMetrics;
  log: Logger;
  /** Where release events go besides the log and Events (Slack, the generic webhook). */
  notify?: Notifier;
  /** Ready endpoints of the versions (readiness gating); without it nothing is gated. */
  readiness?: ReadinessSource;
  /** Each version's Deployment and DestinationRule subset, for Rollouts with spec.workload. */
  workloads?: WorkloadManager;
  /** Told after each pass whether the Rollout has a release in flight (so endpoint changes can wake it). */
  onInFlight?: (ref: { namespace: string; name: string }, inFlight: boolean) => void;
  now?: () => number;
}

/** Passes one job runs in a row (each confirming the traffic of the one before); then a wake-up job goes on. */
const MAX_PASSES = 6;

type TrafficReport = Extract<Observation, { type: "traffic" }>;

/** What one pass hands the next: how the traffic it drove went, the announcements it made, the object as it last saw it. */
interface Carried {
  traffic?: TrafficReport;
  announced: ReadonlySet<string>;
  /** Read or written just now: the next pass starts from it instead of reading again (a change by anyone else fails its write with 409). */
  object?: RolloutObject;
}

interface Observed {
  rollout: Rollout;
  object: RolloutObject;
  status: RolloutStatus | undefined;
  observations: Observation[];
  claim: Claim;
  /** Announcements status recorded and not yet made. */
  owed: ReleaseEvent[];
}

interface PassOutcome {
  again: boolean;
  resourceVersion?: string;
  carried?: Carried;
}

const readVersion = (object: RolloutObject): { resourceVersion?: string } => (object.metadata.resourceVersion !== undefined ? { resourceVersion: object.metadata.resourceVersion } : {});

export class Reconciler {
  private readonly locks = new Map<string, Promise<void>>();
  private readonly announcer: ReleaseAnnouncer;
  /** Workloads the API server refused to apply, by "namespace/name/version": why, for the next look. */
  private readonly refusedWorkloads = new Map<string, string>();

  constructor(private readonly deps: ReconcilerDeps) {
    this.announcer = new ReleaseAnnouncer(deps);
  }

  /**
   * Handles one job; jobs for the same Rollout run one at a time in this process. Resolves to the
   * resourceVersion it last read (undefined when the Rollout is gone), so the queue can tell a
   * change it heard of meanwhile from its own writes.
   */
  async handle(job: ReconcileJob): Promise<string | undefined> {
    const key = `${job.namespace}/${job.name}`;
    // Prometheus is asked before the Rollout's turn, not during it: a command (an abort above all)
    // never waits behind a slow or hanging query. The engine drops a result status no longer awaits.
    const measured = job.kind === "analysis" || job.kind === "guard" ? await this.measureAhead(job) : [];
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.handleLocked(job, measured));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }

  private async handleLocked(job: ReconcileJob, measured: Observation[]): Promise<string | undefined> {
    const started = Date.now();
    try {
      let read: string | undefined;
      let carried: Carried = { announced: new Set() };
      for (let pass = 0; pass < MAX_PASSES; pass++) {
        const outcome = await this.pass(job, pass, carried, pass === 0 ? measured : []);
        read = outcome.resourceVersion;
        if (!outcome.again) return read;
        carried = outcome.carried ?? { announced: new Set() };
      }
      // More to do than one job should: a wake-up goes on (traffic is driven again there, idempotently).
      await this.deps.queue.schedule({ kind: "tick", namespace: job.namespace, name: job.name, at: this.now() });
      return read;
    } catch (error) {
      if (isConflict(error)) {
        this.deps.log.debug({ rollout: `${job.namespace}/${job.name}` }, "object changed underneath; retrying");
      } else {
        this.deps.metrics.errors.inc({ where: "reconcile" });
      }
      throw error;
    } finally {
      this.deps.metrics.reconcileSeconds.observe({ kind: job.kind }, (Date.now() - started) / 1000);
    }
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Observe, decide, carry out: whether to run again at once, and the version last read. */
  private async pass(job: ReconcileJob, pass: number, carried: Carried, measured: Observation[]): Promise<PassOutcome> {
    const observed = await this.observe(job, carried, measured);
    if ("done" in observed) return observed.done;
    const effects: Effect[] = [];
    let next = observed.status;
    let requeueAt: number | undefined;
    for (const observation of observed.observations) {
      const decision = decide(observed.rollout, next, observation, this.now());
      next = decision.status;
      effects.push(...decision.effects);
      if (decision.requeueAt !== undefined) requeueAt = Math.min(requeueAt ?? Infinity, decision.requeueAt);
    }
    return this.carryOut(job, pass, carried, observed, { next, effects, requeueAt });
  }

  /** Everything the engine is told this pass, read from the object, the mesh and Prometheus. */
  private async observe(job: ReconcileJob, carried: Carried, measured: Observation[]): Promise<Observed | { done: PassOutcome }> {
    const { rollouts, log } = this.deps;
    let object: RolloutObject;
    try {
      object = carried.object ?? (await rollouts.get(job.namespace, job.name));
    } catch (error) {
      if (isNotFound(error)) {
        this.deps.metrics.forget(job.namespace, job.name);
        this.deps.onInFlight?.({ namespace: job.namespace, name: job.name }, false);
        return { done: { again: false } };
      }
      throw error;
    }
    const read = readRollout(object, log);
    if (!read) return { done: { again: false, ...readVersion(object) } };
    const { rollout, status, outbox } = read;
    // What the pass before made already is not owed; the rest was recorded by a pass that did not live to make it.
    const owed = outbox.filter((event) => !carried.announced.has(event.id));

    if (object.metadata.deletionTimestamp !== undefined) {
      await this.finalize(object, rollout, status, owed);
      return { done: { again: false } }; // going away: nothing more to compare
    }
    if (!(object.metadata.finalizers ?? []).includes(FINALIZER)) {
      object = await rollouts.patchMetadata(rollout.namespace, rollout.name, { finalizers: [...(object.metadata.finalizers ?? []), FINALIZER], resourceVersion: object.metadata.resourceVersion });
    }

    const observations: Observation[] = [];
    // How the traffic the last pass drove went comes first: it is about the status that pass wrote.
    if (carried.traffic && status) observations.push(carried.traffic);
    const generation = object.metadata.generation;
    if (!status) {
      // First sighting: what the routes serve now decides what is stable (see adopt()).
      const sighting = await this.deps.traffic.sighting(rollout).catch(() => ({}));
      observations.push({ type: "specChanged", ...sighting });
    } else if (routeRefused(status)) {
      // Refused: look again whether the route is free; a failed look is no news.
      const sighting = await this.deps.traffic.sighting(rollout).catch(() => undefined);
      if (sighting) observations.push({ type: "routeCheck", ...sighting });
    } else if (generation !== undefined && status.observedGeneration !== generation) {
      observations.push({ type: "specChanged" });
    }
    // Commands are claimed (moved to tideway.io/claimed, with an id) before anything acts on them.
    const recorded = new Set((status?.commands ?? []).flatMap((c) => (c.id !== undefined ? [c.id] : [])));
    const claim = await claimCommands(rollouts, object, recorded);
    object = claim.object;
    for (const c of claim.commands) {
      if (!recorded.has(c.id)) observations.push({ type: "command", command: c.command, value: c.value, source: "annotation", id: c.id, ...(c.user !== undefined ? { user: c.user } : {}) });
    }
    observations.push(...measured);
    observations.push({ type: "tick" });
    const readiness = await this.readiness(rollout, status, claim.commands.length > 0);
    return { rollout: readiness ? { ...rollout, readiness } : rollout, object, status, observations, claim, owed };
  }

  /**
   * The ready endpoints of the stable and the canary, when a release is in flight or may start or
   * end in this pass; a Healthy Rollout at its stable version needs none (and costs no request).
   * A failed read keeps what status last saw: a blip of the API server neither opens a gate nor
   * rolls a canary back.
   */
  private async readiness(rollout: Rollout, status: RolloutStatus | undefined, commands: boolean): Promise<Rollout["readiness"]> {
    const source = this.deps.readiness;
    if (!source) return undefined;
    const stable = status?.stableVersion;
    const canary = status?.release?.version ?? rollout.spec.version;
    if (status && !status.release && canary === stable && !commands) return undefined;
    const versions = [...new Set([stable ?? canary, canary])];
    try {
      const seen = await source.read(rollout, versions);
      return await this.withWorkloadFailure(rollout, seen, status?.release);
    } catch (error) {
      this.deps.metrics.errors.inc({ where: "readiness" });
      this.deps.log.warn({ rollout: `${rollout.namespace}/${rollout.name}`, err: error instanceof Error ? error.message : String(error) }, "readiness not read; keeping what status last saw");
      return status?.readiness;
    }
  }

  /** The analysis run or the guard's look the job is for, when status (read without the Rollout's turn) still waits for it. */
  private async measureAhead(job: ReconcileJob): Promise<Observation[]> {
    let object: RolloutObject;
    try {
      object = await this.deps.rollouts.get(job.namespace, job.name);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const read = readRollout(object, this.deps.log);
    if (!read) return [];
    return this.measure(job, read.rollout, read.status);
  }

  /** The analysis run or the guard's look the job is for, when status still waits for it. */
  private async measure(job: ReconcileJob, rollout: Rollout, status: RolloutStatus | undefined): Promise<Observation[]> {
    const release = status?.release;
    const context = { canaryVersion: release?.version ?? "", stableVersion: status?.stableVersion ?? release?.version ?? "" };
    if (job.kind === "analysis" && awaitsAnalysis(release, { releaseId: job.releaseId, stepIndex: job.stepIndex, scheduledFor: job.at })) {
      const results = await this.deps.analysis(rollout, context);
      for (const r of results) this.deps.metrics.analysisOutcomes.inc({ namespace: rollout.namespace, rollout: rollout.name, metric: r.name, outcome: r.outcome });
      return [{ type: "analysis", releaseId: job.releaseId, stepIndex: job.stepIndex, scheduledFor: job.at, results }];
    }
    if (job.kind === "guard" && release && release.id === job.releaseId) {
      const reading = await this.deps.guard(rollout, { ...context, releaseStartedAt: Date.parse(release.startedAt) });
      this.deps.metrics.guardRuns.inc({ namespace: rollout.namespace, rollout: rollout.name, outcome: "error" in reading ? "error" : "measured" });
      return [{ type: "guard", releaseId: job.releaseId, ...reading }];
    }
    return [];
  }

  /** Status once, then the announcements, the traffic and the wake-ups it asks for. */
  private async carryOut(
    job: ReconcileJob,
    pass: number,
    carried: Carried,
    observed: Observed,
    decision: { next: RolloutStatus | undefined; effects: Effect[]; requeueAt: number | undefined },
  ): Promise<PassOutcome> {
    const { rollout, claim } = observed;
    const { next, effects, requeueAt } = decision;
    const recorded = effects.flatMap((e) => (e.type === "notify" ? [e.event] : []));
    const outbox = [...observed.owed, ...recorded].slice(-OUTBOX_LIMIT);
    // Workloads first: a failure here leaves status asking again (every verb is safe to repeat).
    await this.carryOutWorkloads(rollout, next, effects);
    // What status says has happened is written with its announcements, and announced right after:
    // a crash in between leaves them in the outbox for the next pass, on any replica.
    let object = await this.persist(observed.object, rollout, next, outbox);
    const unsent = await this.announcer.announce(rollout, object, outbox);
    const announced = new Set(outbox.filter((e) => !unsent.includes(e)).map((e) => e.id));
    // Status records the claimed commands now: the claim can go (an unreadable one too).
    // A clear that had to re-read took in a change this pass has not acted on: run another pass.
    let reread = false;
    if (claim.text !== undefined) ({ object, reread } = await clearClaim(this.deps.rollouts, object, claim.text));

    // Drive traffic to what status now says; the next pass is told how it went. A plain reconcile
    // (informer event, resync) also re-asserts the managed weights. Traffic that just failed is
    // not driven again at once: the engine asked for a retry after TRAFFIC_RETRY_MS.
    const decided = effects.some((e) => e.type === "setTraffic");
    const asked = decided || (pass === 0 && job.kind === "reconcile");
    const justFailed = carried.traffic !== undefined && !carried.traffic.applied && next !== undefined && sameTraffic(carried.traffic.traffic, desiredTraffic(rollout, next));
    const report = next && asked && !routeRefused(next) && !justFailed ? await this.driveTraffic(rollout, next) : undefined;

    await this.schedule(rollout, effects, requeueAt, claim.commands.length > 0 ? "release" : laneOfStatus(next));
    this.deps.metrics.observeStatus(rollout.namespace, rollout.name, next);
    this.deps.onInFlight?.({ namespace: rollout.namespace, name: rollout.name }, next?.release !== undefined);
    // News for status: the traffic it asked for is in place (TrafficApplied says so), or failed to apply.
    const news = report !== undefined && next !== undefined && (decided || !report.applied || trafficPending(next));
    if (!news && !reread && outbox.length > 0 && unsent.length === 0) {
      // Nothing else will write status soon: clear the outbox whose announcements are made.
      object = await this.persist(object, rollout, next, []);
    }
    const carry = { ...(report ? { traffic: report } : {}), announced };
    // Another pass follows anyway: it starts from the object as this one left it.
    if (news || reread) return { again: true, ...readVersion(object), carried: { ...carry, object } };
    const latest = await this.deps.rollouts.get(rollout.namespace, rollout.name).catch(() => object);
    const moved = latest.metadata.resourceVersion !== object.metadata.resourceVersion;
    // The version acted on, not `latest`: a change after it must still be compared by the queue.
    return { again: moved, ...readVersion(object), carried: { ...carry, ...(moved ? { object: latest } : {}) } };
  }

  /**
   * With spec.workload, a canary that cannot run is named by its Deployment too (its progress
   * deadline exceeded), and one Tideway cannot even apply (forbidden, invalid) ends the release
   * with that reason instead of waiting for pods that will never come.
   */
  private async withWorkloadFailure(rollout: Rollout, seen: NonNullable<Rollout["readiness"]>, release: { id: number; version: string } | undefined): Promise<NonNullable<Rollout["readiness"]>> {
    const workloads = this.deps.workloads;
    if (!workloads || !rollout.spec.workload || release === undefined) return seen;
    const canary = release.version;
    const key = `${rollout.namespace}/${rollout.name}/${release.id}`;
    const refused = this.refusedWorkloads.get(key);
    const failure = refused ?? (seen.find((r) => r.version === canary)?.failure === undefined ? (await workloads.state(rollout, canary)).failure : undefined);
    if (failure === undefined) return seen;
    return seen.map((r) => (r.version === canary && r.failure === undefined ? { ...r, failure } : r));
  }

  /** Applies and retires versions' Deployments as the engine asked (spec.workload). */
  private async carryOutWorkloads(rollout: Rollout, status: RolloutStatus | undefined, effects: readonly Effect[]): Promise<void> {
    const workloads = this.deps.workloads;
    const spec = rollout.spec.workload;
    if (!workloads || !spec) return;
    const where = `${rollout.namespace}/${rollout.name}`;
    for (const effect of effects) {
      if (effect.type === "applyWorkload") {
        const key = `${where}/${status?.release?.id ?? 0}`; // per release: a retry applies afresh
        try {
          const stable = status?.stableVersion;
          // Full size: spec.workload.replicas, else the stable's (the stable itself keeps what it has).
          const sized = spec.replicas === undefined ? await workloads.state(rollout, stable ?? effect.version) : undefined;
          const stableReplicas = sized?.exists ? sized.replicas : undefined;
          await workloads.apply(rollout, effect.version, canaryReplicas(spec, stableReplicas, effect.weight));
          await workloads.ensureSubset(rollout, effect.version);
          this.refusedWorkloads.delete(key);
        } catch (error) {
          if (!(error instanceof WorkloadError)) throw error;
          this.deps.metrics.errors.inc({ where: "workload" });
          this.deps.log.warn({ rollout: where, version: effect.version, err: error.message }, "workload not applied");
          // Refused outright (forbidden, invalid, no DestinationRule): the next look ends the release with why.
          if (/\b(forbidden|invalid|is not valid|no DestinationRule)\b/i.test(error.message)) this.refusedWorkloads.set(key, `cannot apply its workload: ${error.message}`);
          else throw error;
        }
      } else if (effect.type === "retireWorkload") {
        if (effect.delete) await workloads.remove(rollout, effect.version);
        else await workloads.scale(rollout, effect.version, 0);
        this.deps.log.info({ rollout: where, version: effect.version, deleted: effect.delete }, "workload retired");
      }
    }
  }

  /** Routes as status says, verified by the router; a failure is reported, not thrown. */
  private async driveTraffic(rollout: Rollout, status: RolloutStatus): Promise<TrafficReport> {
    const traffic = desiredTraffic(rollout, status);
    const where = `${rollout.namespace}/${rollout.name}`;
    try {
      const outcome = await this.deps.traffic.setTraffic(rollout, traffic, formerVersions(status));
      if (outcome.writes > 0) this.deps.metrics.trafficWrites.inc({ namespace: rollout.namespace, rollout: rollout.name }, outcome.writes);
      if (outcome.takenOver.length > 0) this.deps.log.warn({ rollout: where, routes: outcome.takenOver }, "took over routes whose recorded owner is gone or no longer names them");
      return { type: "traffic", traffic, applied: true };
    } catch (error) {
      if (!(error instanceof TrafficError)) throw error;
      this.deps.metrics.errors.inc({ where: "traffic" });
      this.deps.log.warn({ rollout: where, err: error.message }, "traffic not applied");
      const routeConflict = error.ownedBy !== undefined ? { routeConflict: { ownedBy: error.ownedBy, message: error.message } } : {};
      return { type: "traffic", traffic, applied: false, error: error.message, ...(error.failureCause !== undefined ? { cause: error.failureCause } : {}), ...routeConflict };
    }
  }

  /** Writes status (with the announcements not yet made) when it changed; the write fails (409) if the object moved since it was read. */
  private async persist(object: RolloutObject, rollout: Rollout, status: RolloutStatus | undefined, outbox: readonly ReleaseEvent[]): Promise<RolloutObject> {
    if (!status) return object;
    const wanted: unknown = JSON.parse(
      JSON.stringify({
        ...status,
        observedGeneration: object.metadata.generation ?? status.observedGeneration ?? 0,
        ...(outbox.length > 0 ? { outbox } : {}),
      }),
    );
    if (isDeepStrictEqual(object.status, wanted)) return object;
    const written = await this.deps.rollouts.replaceStatus(object, wanted);
    this.deps.metrics.statusWrites.inc({ namespace: rollout.namespace, rollout: rollout.name });
    this.deps.metrics.statusWriteCauses.inc({ cause: writeCause(object.status, wanted) });
    return written;
  }

  /** The Rollout is being deleted: an in-flight canary goes back to stable, its routes are given up, the finalizer goes. */
  private async finalize(object: RolloutObject, rollout: Rollout, status: RolloutStatus | undefined, owed: ReleaseEvent[]): Promise<void> {
    const decision = decide(rollout, status, { type: "removed" }, this.now());
    const traffic = decision.effects.filter((e) => e.type === "setTraffic").at(-1);
    // A Refused Rollout never drove the route: there is nothing of its own to take back.
    if (traffic && traffic.type === "setTraffic" && !routeRefused(status)) {
      try {
        await this.deps.traffic.setTraffic(rollout, traffic.traffic, formerVersions(status));
      } catch (error) {
        // Without a VirtualService there is no canary traffic to take back; anything else is retried.
        if (!(error instanceof TrafficError && (error.notFound || error.ownedBy !== undefined))) throw error;
        this.deps.log.warn({ rollout: `${rollout.namespace}/${rollout.name}`, err: error.message }, "removed Rollout had no traffic of its own to restore");
      }
    }
    await this.deps.traffic.releaseRoutes(rollout); // then another Rollout may take its routes
    await this.announcer.announce(rollout, object, [...owed, ...decision.effects.flatMap((e) => (e.type === "notify" ? [e.event] : []))]);
    const finalizers = (object.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    if (finalizers.length !== (object.metadata.finalizers ?? []).length) {
      await this.deps.rollouts.patchMetadata(rollout.namespace, rollout.name, { finalizers, resourceVersion: object.metadata.resourceVersion });
    }
    this.deps.metrics.forget(
      rollout.namespace,
      rollout.name,
      (rollout.spec.analysis?.metrics ?? []).map((m) => m.name),
    );
  }

  /** The analysis runs and guard looks asked for (release work), and the next tick in `lane`. */
  private async schedule(rollout: Rollout, effects: Effect[], requeueAt: number | undefined, lane: Lane): Promise<void> {
    const ref = { namespace: rollout.namespace, name: rollout.name };
    const seen = new Set<string>();
    const timers = effects.flatMap((effect): Extract<ReconcileJob, { at: number }>[] => {
      if (effect.type === "runAnalysis") return [{ kind: "analysis", ...ref, at: effect.at, releaseId: effect.releaseId, stepIndex: effect.stepIndex }];
      if (effect.type === "runGuard") return [{ kind: "guard", ...ref, at: effect.at, releaseId: effect.releaseId }];
      return [];
    });
    for (const timer of timers) {
      const id = jobId(timer);
      if (seen.has(id)) continue;
      seen.add(id);
      await this.deps.queue.schedule(timer);
    }
    if (requeueAt !== undefined) await this.deps.queue.schedule({ kind: "tick", ...ref, at: requeueAt }, lane);
  }
}

/** The Rollout and its status as the engine takes them, or undefined (logged) when the object cannot be acted on. */
/** What a status write changed, most telling first (see STATUS_WRITE_CAUSES). */
export function writeCause(before: unknown, after: unknown): StatusWriteCause {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  const br = (b["release"] ?? {}) as Record<string, unknown>;
  const ar = (a["release"] ?? {}) as Record<string, unknown>;
  const differs = (x: Record<string, unknown>, y: Record<string, unknown>, keys: string[]) => keys.some((k) => !isDeepStrictEqual(x[k], y[k]));
  if (differs(b, a, ["phase", "stableVersion", "canaryVersion", "releaseCount"]) || differs(br, ar, ["id", "stepIndex", "canaryWeight", "headerRoute", "mirrorRoute", "pausedAt", "stepStartedAt"]))
    return "step";
  if (differs(b, a, ["conditions"]) || differs(br, ar, ["trafficApplied", "waitingFor"])) return "traffic";
  if (differs(br, ar, ["checks", "stepChecks", "metrics", "inconclusiveStreak", "errorStreak", "nextAnalysisAt"])) return "check";
  const rest = (s: Record<string, unknown>) => Object.fromEntries(Object.entries(s).filter(([k]) => k !== "outbox"));
  if (!isDeepStrictEqual(b["outbox"], a["outbox"]) && isDeepStrictEqual(rest(b), rest(a))) return "outbox";
  return "other";
}

function readRollout(object: RolloutObject, log: Logger): { rollout: Rollout; status: RolloutStatus | undefined; outbox: ReleaseEvent[] } | undefined {
  const where = `${object.metadata.namespace}/${object.metadata.name}`;
  const spec = RolloutSpecSchema.safeParse(object.spec);
  if (!spec.success) {
    log.error({ rollout: where, issues: spec.error.issues.slice(0, 3) }, "Rollout spec does not match the schema; not acting on it");
    return undefined;
  }
  const annotations = object.metadata.annotations ?? {};
  const rollout: Rollout = {
    name: object.metadata.name,
    namespace: object.metadata.namespace,
    spec: spec.data,
    ...(annotations[HELD_ABORT_ANNOTATION] !== undefined ? { heldAbort: annotations[HELD_ABORT_ANNOTATION] } : {}),
    ...(annotations[INVALID_ANNOTATION] !== undefined ? { invalidFile: annotations[INVALID_ANNOTATION] } : {}),
  };
  if (object.status === undefined || object.status === null || Object.keys(object.status as object).length === 0) return { rollout, status: undefined, outbox: [] };
  const parsed = RolloutStatusSchema.safeParse(object.status);
  if (!parsed.success) {
    log.error({ rollout: where }, "Rollout status is unreadable; not acting on it until it is fixed or cleared");
    return undefined;
  }
  const { outbox = [], ...status } = parsed.data;
  return { rollout, status, outbox };
}
