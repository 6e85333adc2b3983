/**
 * One reconcile of one Rollout: read the object, fold what happened into the engine, persist
 * status (resourceVersion precondition), then drive traffic to what status says, then schedule
 * the next wake-ups. Safe to run twice: a second run finds nothing to do.
 */
import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { z } from "zod";
import { isConflict, isNotFound } from "../kube/errors.js";
import type { EventRecorder } from "../kube/events.js";
import { COMMIT_ANNOTATION, COMMIT_AUTHOR_ANNOTATION, COMMIT_SUBJECT_ANNOTATION, HELD_ABORT_ANNOTATION, INVALID_ANNOTATION } from "../kube/mirror.js";
import type { RolloutClient, RolloutObject } from "../kube/rollouts.js";
import { jobId, type ReconcileJob, type ReconcileQueue } from "../queue/reconcile-queue.js";
import { awaitsAnalysis, decide, desiredTraffic, routeRefused, type Effect, type MetricResult, type Observation, type ReleaseEvent } from "../rollout/engine.js";
import type { Commit } from "../rollout/commit.js";
import type { Rollout } from "../rollout/model.js";
import { RolloutSpecSchema } from "../rollout/schema.js";
import { CLAIMED_ANNOTATION, ClaimedCommandSchema, OUTBOX_LIMIT, COMMAND_BY_ANNOTATION, COMMANDS, RolloutStatusSchema, type ClaimedCommand, type CommandName, type Condition, type RolloutStatus } from "../rollout/status.js";
import { TrafficError, type IstioTraffic } from "../traffic/istio.js";
import type { ControllerMetrics } from "./metrics.js";

export const FINALIZER = "tideway.io/traffic";
export const COMMAND_PREFIX = "tideway.io/";

export type AnalysisRunner = (rollout: Rollout, context: { canaryVersion: string; stableVersion: string }) => Promise<MetricResult[]>;
/** The guard's reading of the canary's requests and 5xx answers (see analysis/guard.ts). */
export type GuardRunner = (rollout: Rollout, context: { canaryVersion: string; stableVersion: string; releaseStartedAt: number }) => Promise<{ requests: number; errors: number } | { error: string }>;
export type EventSink = (event: ReleaseEvent, rollout: Rollout, commit?: Commit) => Promise<void>;

export interface ReconcilerDeps {
  rollouts: RolloutClient;
  traffic: IstioTraffic;
  analysis: AnalysisRunner;
  guard: GuardRunner;
  queue: Pick<ReconcileQueue, "schedule">;
  events: EventRecorder;
  metrics: ControllerMetrics;
  log: Logger;
  /** Extra listeners for release events (Slack). */
  notify?: EventSink;
  now?: () => number;
}

const readVersion = (object: RolloutObject): { resourceVersion?: string } =>
  object.metadata.resourceVersion !== undefined ? { resourceVersion: object.metadata.resourceVersion } : {};

export class Reconciler {
  private readonly locks = new Map<string, Promise<void>>();

  constructor(private readonly deps: ReconcilerDeps) {}

  /**
   * Handles one job; jobs for the same Rollout run one at a time in this process. Resolves to the
   * resourceVersion it last read (undefined when the Rollout is gone), so the queue can tell a
   * change it heard of meanwhile from its own writes.
   */
  async handle(job: ReconcileJob): Promise<string | undefined> {
    const key = `${job.namespace}/${job.name}`;
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.handleLocked(job));
    const settled = run.then(() => undefined, () => undefined);
    this.locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }

  private async handleLocked(job: ReconcileJob): Promise<string | undefined> {
    const started = Date.now();
    try {
      // Changes that land while we work (a kubectl annotate) are picked up by running again.
      let read: string | undefined;
      for (let pass = 0; pass < 3; pass++) {
        const outcome = await this.pass(job, pass);
        read = outcome.resourceVersion;
        if (!outcome.again) break;
      }
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

  /** One read-decide-write-drive cycle: whether the object changed meanwhile, and the version last read. */
  private async pass(job: ReconcileJob, pass: number): Promise<{ again: boolean; resourceVersion?: string }> {
    const { rollouts, log } = this.deps;
    let object: RolloutObject;
    try {
      object = await rollouts.get(job.namespace, job.name);
    } catch (error) {
      if (isNotFound(error)) {
        this.deps.metrics.forget(job.namespace, job.name);
        return { again: false };
      }
      throw error;
    }
    const spec = RolloutSpecSchema.safeParse(object.spec);
    if (!spec.success) {
      log.error({ rollout: `${job.namespace}/${job.name}`, issues: spec.error.issues.slice(0, 3) }, "Rollout spec does not match the schema; not acting on it");
      return { again: false, ...readVersion(object) };
    }
    const rollout: Rollout = {
      name: object.metadata.name,
      namespace: object.metadata.namespace,
      spec: spec.data,
      ...(object.metadata.annotations?.[HELD_ABORT_ANNOTATION] !== undefined ? { heldAbort: object.metadata.annotations[HELD_ABORT_ANNOTATION] } : {}),
    };
    let status: RolloutStatus | undefined;
    if (object.status !== undefined && object.status !== null && Object.keys(object.status as object).length > 0) {
      const parsed = RolloutStatusSchema.safeParse(object.status);
      if (!parsed.success) {
        log.error({ rollout: `${rollout.namespace}/${rollout.name}` }, "Rollout status is unreadable; not acting on it until it is fixed or cleared");
        return { again: false, ...readVersion(object) };
      }
      status = parsed.data;
    }
    // Announcements a pass recorded and did not live to make (killed right after its status write).
    let outbox: ReleaseEvent[] = [];
    if (status?.outbox !== undefined) {
      const { outbox: owed, ...rest } = status;
      status = rest;
      outbox = await this.announce(rollout, object, owed);
    }

    if (object.metadata.deletionTimestamp !== undefined) {
      await this.finalize(object, rollout, status);
      return { again: false }; // going away: nothing more to compare
    }
    if (!(object.metadata.finalizers ?? []).includes(FINALIZER)) {
      object = await rollouts.patchMetadata(rollout.namespace, rollout.name, { finalizers: [...(object.metadata.finalizers ?? []), FINALIZER], resourceVersion: object.metadata.resourceVersion });
    }

    const observations: Observation[] = [];
    // Commands are claimed (moved from their annotations to tideway.io/claimed, with an id) before
    // anything acts on them; status records the ids, and a claim it already records is not applied again.
    const recorded = new Set((status?.commands ?? []).flatMap((c) => (c.id !== undefined ? [c.id] : [])));
    const claim = await this.claim(object, recorded);
    object = claim.object;
    for (const c of claim.commands) {
      if (!recorded.has(c.id)) observations.push({ type: "command", command: c.command, value: c.value, source: "annotation", id: c.id, ...(c.user !== undefined ? { user: c.user } : {}) });
    }
    const generation = object.metadata.generation;
    if (!status) {
      // First sighting: what the VirtualService routes to now decides what is stable (see adopt()).
      const sighting = await this.deps.traffic.sighting(rollout).catch(() => ({}));
      observations.unshift({ type: "specChanged", ...sighting });
    } else if (routeRefused(status)) {
      // Refused: look again whether the route is free; a failed look is no news.
      const sighting = await this.deps.traffic.sighting(rollout).catch(() => undefined);
      if (sighting) observations.unshift({ type: "routeCheck", ...sighting });
    } else if (generation !== undefined && status.observedGeneration !== generation) {
      observations.unshift({ type: "specChanged" });
    }
    if (pass === 0 && job.kind === "analysis") {
      const release = status?.release;
      if (awaitsAnalysis(release, { releaseId: job.releaseId, stepIndex: job.stepIndex, scheduledFor: job.at })) {
        const results = await this.deps.analysis(rollout, { canaryVersion: release.version, stableVersion: status?.stableVersion ?? release.version });
        for (const r of results) this.deps.metrics.analysisOutcomes.inc({ namespace: rollout.namespace, rollout: rollout.name, metric: r.name, outcome: r.outcome });
        observations.push({ type: "analysis", releaseId: job.releaseId, stepIndex: job.stepIndex, scheduledFor: job.at, results });
      }
    }
    if (pass === 0 && job.kind === "guard") {
      const release = status?.release;
      if (release && release.id === job.releaseId) {
        const reading = await this.deps.guard(rollout, { canaryVersion: release.version, stableVersion: status?.stableVersion ?? release.version, releaseStartedAt: Date.parse(release.startedAt) });
        this.deps.metrics.guardRuns.inc({ namespace: rollout.namespace, rollout: rollout.name, outcome: "error" in reading ? "error" : "measured" });
        observations.push({ type: "guard", releaseId: job.releaseId, ...reading });
      }
    }
    observations.push({ type: "tick" });

    const effects: Effect[] = [];
    let next = status;
    let requeueAt: number | undefined;
    const fold = (observation: Observation) => {
      const decision = decide(rollout, next, observation, this.now());
      next = decision.status;
      effects.push(...decision.effects);
      if (decision.requeueAt !== undefined) requeueAt = Math.min(requeueAt ?? Infinity, decision.requeueAt);
      return decision;
    };
    for (const observation of observations) fold(observation);
    // What status says has happened goes into its outbox in the same write, and is announced
    // right after it: a crash in between leaves it there for the next pass, on any replica.
    let taken = 0;
    const persistAndAnnounce = async () => {
      const fresh = effects.slice(taken).flatMap((e) => (e.type === "notify" ? [e.event] : []));
      taken = effects.length;
      outbox = [...outbox, ...fresh].slice(-OUTBOX_LIMIT);
      object = await this.persist(object, rollout, next, outbox);
      outbox = await this.announce(rollout, object, outbox);
    };
    await persistAndAnnounce();
    // Status records the claimed commands now: the claim can go (an unreadable one too).
    // A clear that had to re-read took in a change this pass has not acted on: run another pass.
    let reread = false;
    if (claim.text !== undefined) ({ object, reread } = await this.clearClaim(object, claim.text));

    // Drive traffic to what status now says, and tell the engine how it went, until it is content.
    // A plain reconcile (informer event, resync) also re-asserts the managed weights.
    // Traffic asked for since the last round counts too (a promotion right after a weight is confirmed).
    let driven = 0;
    for (let round = 0; round < 6 && next; round++) {
      const asked = (round === 0 && job.kind === "reconcile") || effects.slice(driven).some((e) => e.type === "setTraffic");
      driven = effects.length;
      if (routeRefused(next) || (!asked && !trafficPending(next))) break; // a Refused Rollout writes no traffic
      const traffic = desiredTraffic(rollout, next);
      let observation: Observation;
      try {
        const outcome = await this.deps.traffic.setTraffic(rollout, traffic, formerVersions(next));
        if (outcome.writes > 0) this.deps.metrics.trafficWrites.inc({ namespace: rollout.namespace, rollout: rollout.name }, outcome.writes);
        if (outcome.takenOver.length > 0) log.warn({ rollout: `${rollout.namespace}/${rollout.name}`, routes: outcome.takenOver }, "took over routes whose recorded owner is gone or no longer names them");
        observation = { type: "traffic", traffic, applied: true };
      } catch (error) {
        if (!(error instanceof TrafficError)) throw error;
        this.deps.metrics.errors.inc({ where: "traffic" });
        log.warn({ rollout: `${rollout.namespace}/${rollout.name}`, err: error.message }, "traffic not applied");
        const routeConflict = error.ownedBy !== undefined ? { routeConflict: { ownedBy: error.ownedBy, message: error.message } } : {};
        observation = { type: "traffic", traffic, applied: false, error: error.message, ...routeConflict };
      }
      fold(observation);
      await persistAndAnnounce();
      if (!observation.applied) break;
    }
    // The last announcements are made: the outbox that status still holds can go.
    object = await this.persist(object, rollout, next, outbox);

    await this.schedule(rollout, effects, requeueAt);
    this.deps.metrics.observeStatus(rollout.namespace, rollout.name, next);
    const latest = await rollouts.get(rollout.namespace, rollout.name).catch(() => object);
    // The version acted on, not `latest`: a change after it must still be compared by the queue.
    return { again: reread || latest.metadata.resourceVersion !== object.metadata.resourceVersion, ...readVersion(object) };
  }

  /**
   * Moves the command annotations (and tideway.io/by) into tideway.io/claimed, each with a new
   * id, in one write with a resourceVersion precondition (a conflict retries the job). Returns
   * every claimed command, those of an earlier claim that was not cleared included.
   */
  private async claim(object: RolloutObject, recorded: Set<string>): Promise<{ object: RolloutObject; commands: ClaimedCommand[]; text: string | undefined }> {
    const annotations = object.metadata.annotations ?? {};
    // Those status already records are dropped from a new claim, so they cannot come back.
    const earlier = parseClaimed(annotations[CLAIMED_ANNOTATION]).filter((c) => !recorded.has(c.id));
    const fresh = this.commandsOf(object);
    if (fresh.length === 0) return { object, commands: earlier, text: annotations[CLAIMED_ANNOTATION] };
    const user = commandUser(annotations[COMMAND_BY_ANNOTATION]);
    const commands = [...earlier, ...fresh.map((c): ClaimedCommand => ({ id: randomUUID(), command: c.name, value: c.value, ...(user !== undefined ? { user } : {}) }))];
    const text = JSON.stringify(commands);
    const changes: Record<string, string | null> = { [CLAIMED_ANNOTATION]: text };
    for (const c of fresh) changes[c.annotation] = null;
    if (annotations[COMMAND_BY_ANNOTATION] !== undefined) changes[COMMAND_BY_ANNOTATION] = null;
    const claimed = await this.deps.rollouts.patchMetadata(object.metadata.namespace, object.metadata.name, { annotations: changes, resourceVersion: object.metadata.resourceVersion });
    return { object: claimed, commands, text };
  }

  /** Removes tideway.io/claimed unless another claim changed it meanwhile (the next pass takes that one). */
  private async clearClaim(object: RolloutObject, text: string | undefined): Promise<{ object: RolloutObject; reread: boolean }> {
    const { rollouts } = this.deps;
    let current = object;
    let reread = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (current.metadata.annotations?.[CLAIMED_ANNOTATION] !== text) return { object: current, reread };
      try {
        return { object: await rollouts.patchMetadata(current.metadata.namespace, current.metadata.name, { annotations: { [CLAIMED_ANNOTATION]: null }, resourceVersion: current.metadata.resourceVersion }), reread };
      } catch (error) {
        if (!isConflict(error)) throw error;
        current = await rollouts.get(current.metadata.namespace, current.metadata.name);
        reread = true;
      }
    }
    return { object: current, reread };
  }

  /** Writes status (with the announcements not yet made) when it changed; the write fails (409) if the object moved since it was read. */
  private async persist(object: RolloutObject, rollout: Rollout, status: RolloutStatus | undefined, outbox: readonly ReleaseEvent[]): Promise<RolloutObject> {
    if (!status) return object;
    const invalid = object.metadata.annotations?.[INVALID_ANNOTATION];
    const wanted: unknown = JSON.parse(JSON.stringify({
      ...status,
      observedGeneration: object.metadata.generation ?? status.observedGeneration ?? 0,
      conditions: validCondition(status.conditions, invalid, this.now()),
      ...(outbox.length > 0 ? { outbox } : {}),
    }));
    if (isDeepStrictEqual(object.status, wanted)) return object;
    const written = await this.deps.rollouts.replaceStatus(object, wanted);
    this.deps.metrics.statusWrites.inc({ namespace: rollout.namespace, rollout: rollout.name });
    return written;
  }

  private async finalize(object: RolloutObject, rollout: Rollout, status: RolloutStatus | undefined): Promise<void> {
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
    await this.announce(rollout, object, decision.effects.flatMap((e) => (e.type === "notify" ? [e.event] : [])));
    const finalizers = (object.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    if (finalizers.length !== (object.metadata.finalizers ?? []).length) {
      await this.deps.rollouts.patchMetadata(rollout.namespace, rollout.name, { finalizers, resourceVersion: object.metadata.resourceVersion });
    }
    this.deps.metrics.forget(rollout.namespace, rollout.name);
  }

  private commandsOf(object: RolloutObject): { name: CommandName; value: string; annotation: string }[] {
    const annotations = object.metadata.annotations ?? {};
    return COMMANDS.flatMap((name) => {
      const annotation = `${COMMAND_PREFIX}${name}`;
      const value = annotations[annotation];
      return value === undefined ? [] : [{ name, value, annotation }];
    });
  }

  private async schedule(rollout: Rollout, effects: Effect[], requeueAt: number | undefined): Promise<void> {
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
    if (requeueAt !== undefined) await this.deps.queue.schedule({ kind: "tick", ...ref, at: requeueAt });
  }

  /**
   * Makes each announcement (log line, Event, Slack and the webhook) and returns those that could
   * not be queued, to be tried again. The Event and the notification are keyed by the event's id,
   * so announcing an event twice (a replayed outbox) leaves one of each.
   */
  private async announce(rollout: Rollout, object: RolloutObject, events: readonly ReleaseEvent[]): Promise<ReleaseEvent[]> {
    const unsent: ReleaseEvent[] = [];
    for (const event of events) {
      this.deps.metrics.releaseEvents.inc({ namespace: rollout.namespace, rollout: rollout.name, kind: event.kind });
      const fields = { rollout: `${rollout.namespace}/${rollout.name}`, kind: event.kind, version: event.version, stable: event.stableVersion, event: event.id };
      if (event.severity === "warning") this.deps.log.warn(fields, event.message);
      else this.deps.log.info(fields, event.message);
      // The uid makes the id unique across a Rollout deleted and created again under the same name.
      const globalId = `${object.metadata.uid ?? `${rollout.namespace}-${rollout.name}`}-${event.id}`;
      await this.deps.events.record({ namespace: rollout.namespace, name: rollout.name, ...(object.metadata.uid ? { uid: object.metadata.uid } : {}) }, event.severity === "warning" ? "Warning" : "Normal", reasonOf(event.kind), event.message, globalId);
      const annotations = object.metadata.annotations ?? {};
      const sha = annotations[COMMIT_ANNOTATION];
      const commit: Commit | undefined = sha === undefined ? undefined : {
        sha,
        ...(annotations[COMMIT_AUTHOR_ANNOTATION] !== undefined ? { author: annotations[COMMIT_AUTHOR_ANNOTATION] } : {}),
        ...(annotations[COMMIT_SUBJECT_ANNOTATION] !== undefined ? { subject: annotations[COMMIT_SUBJECT_ANNOTATION] } : {}),
      };
      try {
        await this.deps.notify?.({ ...event, id: globalId }, rollout, commit);
      } catch (error) {
        this.deps.log.warn({ err: String(error), event: event.id }, "notification not queued; kept in the outbox");
        unsent.push(event);
      }
    }
    return unsent;
  }
}

/** The commands of tideway.io/claimed; an unreadable value (edited by hand) claims nothing. */
function parseClaimed(text: string | undefined): ClaimedCommand[] {
  if (text === undefined) return [];
  try {
    const parsed = z.array(ClaimedCommandSchema).safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

/** A name fit for status and messages: one line, printable, at most 100 characters. */
function commandUser(value: string | undefined): string | undefined {
  const cleaned = value === undefined ? undefined : [...value].map((c) => (c < " " || c === "\u007f" ? " " : c)).join("").trim().slice(0, 100);
  return cleaned === undefined || cleaned === "" ? undefined : cleaned;
}

/** Every version this Rollout has routed to: its destinations are its own, others' are not. */
function formerVersions(status: RolloutStatus | undefined): string[] {
  if (!status) return [];
  const versions = new Set<string>([status.stableVersion]);
  if (status.canaryVersion !== undefined) versions.add(status.canaryVersion);
  if (status.release) versions.add(status.release.version);
  for (const entry of status.history) {
    versions.add(entry.version);
    versions.add(entry.fromVersion);
  }
  return [...versions];
}

function trafficPending(status: RolloutStatus): boolean {
  if (status.release) return !status.release.trafficApplied;
  const condition = status.conditions.find((c) => c.type === "TrafficApplied");
  return condition === undefined || condition.status !== "True";
}

function reasonOf(kind: string): string {
  return kind.split("-").map((part) => (part[0] ?? "").toUpperCase() + part.slice(1)).join("");
}

/** The Valid condition mirrors the git side's verdict on this Rollout's file. */
function validCondition(conditions: Condition[], invalid: string | undefined, now: number): Condition[] {
  const existing = conditions.find((c) => c.type === "Valid");
  const status = invalid === undefined ? "True" : "False";
  const message = invalid ?? "the Rollout in git is valid";
  if (existing && existing.status === status && existing.message === message) return conditions;
  const condition: Condition = { type: "Valid", status, reason: invalid === undefined ? "Valid" : "InvalidFile", message, lastTransitionTime: existing?.status === status ? existing.lastTransitionTime : new Date(now).toISOString() };
  return [...conditions.filter((c) => c.type !== "Valid"), condition].sort((a, b) => a.type.localeCompare(b.type));
}
