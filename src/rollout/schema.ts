/**
 * The one schema of a `tideway.io/v1alpha1` Rollout. The TypeScript types, the CRD's OpenAPI
 * schema (charts/) and the JSON Schema for editors (docs/) are all generated from it.
 */
import { z } from "zod";
import { ABORT_ANNOTATION, ROLLOUT_LABEL, TIDEWAY_PREFIX, VERSION_LABEL } from "./annotations.js";
import { parseDuration } from "./duration.js";
import { checkTemplate, DESTINATION_VARIABLES, QUERY_VARIABLES, WORKLOAD_VARIABLES } from "./template.js";

export const API_VERSION = "tideway.io/v1alpha1";
export const KIND = "Rollout";
export const BUILT_IN_METRICS = ["success-rate", "latency-p99"] as const;
export type BuiltInMetric = (typeof BUILT_IN_METRICS)[number];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

const dnsLabel = (what: string) =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(DNS_LABEL, { error: `expected a ${what}: lower-case letters, digits and "-", starting and ending with a letter or digit` });

/** How often something repeats: at least a second, or it would run in a loop. */
const period = z.string().superRefine((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) ctx.addIssue({ code: "custom", message: 'expected a duration such as "30s", "1m" or "1h30m"' });
  else if (ms < 1_000) ctx.addIssue({ code: "custom", message: `expected a duration of at least 1s, found "${text}"` });
});

export const HeaderMatchSchema = z
  .strictObject({
    exact: z.string().min(1).optional(),
    prefix: z.string().min(1).optional(),
    regex: z.string().min(1).optional(),
  })
  .refine((m) => [m.exact, m.prefix, m.regex].filter((v) => v !== undefined).length === 1, {
    error: "expected exactly one of exact, prefix or regex",
  })
  .meta({ description: "How a request header must match for the request to go to the canary." });

export const StepSchema = z
  .strictObject({
    setWeight: z.int().min(0).max(100).optional().meta({ description: "Percent of traffic sent to the canary (integer 0..100)." }),
    pause: z
      .union([z.string(), z.strictObject({ duration: z.string().optional() })], {
        error: 'expected a duration such as "1m", or {} for a manual gate that waits for a promote',
      })
      .optional()
      .meta({ description: 'Bake time ("1m") during which analysis runs, or {} to wait for a manual promote.' }),
    setHeaderRoute: z
      .strictObject({
        name: dnsLabel("route name").optional(),
        headers: z.record(z.string().min(1), HeaderMatchSchema).refine((h) => Object.keys(h).length > 0, {
          error: "expected at least one header match",
        }),
      })
      .optional()
      .meta({ description: "A/B routing: requests whose headers match go to the canary, whatever the weight." }),
    setMirrorRoute: z
      .strictObject({
        percentage: z
          .number()
          .gt(0, { error: "expected a percentage above 0 and at most 100, e.g. 20" })
          .max(100, { error: "expected a percentage above 0 and at most 100, e.g. 20" })
          .meta({ description: "Share of the stable's requests (of the managed routes, or of those matching) copied to the canary; their answers are dropped." }),
        match: z
          .strictObject({
            headers: z.record(z.string().min(1), HeaderMatchSchema).refine((h) => Object.keys(h).length > 0, { error: "expected at least one header match" }),
          })
          .optional()
          .meta({ description: "Mirror only requests whose headers match; all of the managed routes' requests when absent." }),
      })
      .optional()
      .meta({ description: "Shadow traffic: copies a share of the stable's requests to the canary; users only ever see the stable's answers." }),
  })
  .superRefine((step, ctx) => {
    const kinds = (["setWeight", "pause", "setHeaderRoute", "setMirrorRoute"] as const).filter((k) => step[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          kinds.length === 0
            ? "expected a step: one of setWeight, pause, setHeaderRoute or setMirrorRoute"
            : `expected exactly one of setWeight, pause, setHeaderRoute or setMirrorRoute in a step, found ${kinds.join(" and ")}`,
      });
    }
    const pause = step.pause;
    const text = typeof pause === "string" ? pause : pause?.duration;
    if (text !== undefined && parseDuration(text) === undefined) {
      ctx.addIssue({
        code: "custom",
        path: typeof pause === "string" ? ["pause"] : ["pause", "duration"],
        message: `expected a duration such as "30s", "1m" or "1h30m", found "${text}"`,
      });
    }
  })
  .meta({ description: "One step of a release: setWeight, pause, setHeaderRoute or setMirrorRoute." });

/**
 * Judgment against the stable version over the same windows, with an anytime-valid sequential
 * test (rollout/judgment.ts), instead of (or besides) fixed thresholds.
 */
export const CompareSchema = z
  .strictObject({
    maxIncrease: z
      .number()
      .gt(0, { error: "expected maxIncrease above 0, e.g. 0.5 (the canary may be up to 1.5x worse than stable)" })
      .max(100)
      .meta({ description: "How much worse the canary may be than stable: 0.5 allows 1.5x stable's error rate (success-rate) or share of slow requests (latency-p99)." }),
    confidence: z
      .number()
      .min(0.5, { error: "expected a confidence from 0.5 to 0.9999, e.g. 0.99" })
      .max(0.9999, { error: "expected a confidence from 0.5 to 0.9999, e.g. 0.99" })
      .default(0.99)
      .meta({ description: "How sure the test must be before it fails or passes the canary; 1 - confidence bounds the share of canaries within the margin that are rolled back." }),
  })
  .meta({ description: "Compare the canary with stable over the same windows; the evidence accumulates over the release." });

/** What is wrong with a built-in metric's threshold that it can never reach, with the fix; undefined when fine. */
function builtInRangeProblem(name: string, threshold: number | undefined): string | undefined {
  if (threshold === undefined) return undefined;
  if (name === "success-rate" && (threshold < 0 || threshold > 1)) {
    const fix = threshold > 1 && threshold <= 100 ? `; did you mean ${Number((threshold / 100).toPrecision(6))}?` : "";
    return `expected a success rate from 0 to 1, found ${threshold}${fix}`;
  }
  if (name === "latency-p99" && threshold < 0) return `expected a latency in milliseconds, 0 or more, found ${threshold}; did you mean ${-threshold}?`;
  return undefined;
}

export const MetricSchema = z
  .strictObject({
    name: dnsLabel("metric name").meta({ description: `Metric name; ${BUILT_IN_METRICS.join(" and ")} are built in.` }),
    query: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .meta({
        description: `PromQL template for a custom metric; variables: ${QUERY_VARIABLES.map((v) => `{{ ${v} }}`).join(", ")}.`,
      }),
    min: z.number().optional().meta({ description: "The check fails when the value is below this." }),
    max: z.number().optional().meta({ description: "The check fails when the value is above this." }),
    compare: CompareSchema.optional(),
  })
  .superRefine((metric, ctx) => {
    const builtIn = (BUILT_IN_METRICS as readonly string[]).includes(metric.name);
    if (!builtIn && metric.compare !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["compare"],
        message: `compare works only with the built-in metrics (${BUILT_IN_METRICS.join(", ")}), which Tideway can query for both versions; remove it from "${metric.name}"`,
      });
    }
    for (const key of ["min", "max"] as const) {
      const problem = builtInRangeProblem(metric.name, metric[key]);
      if (problem !== undefined) ctx.addIssue({ code: "custom", path: [key], message: problem });
    }
    if (builtIn && metric.query !== undefined) {
      ctx.addIssue({ code: "custom", path: ["query"], message: `"${metric.name}" is a built-in metric and takes no query; give a custom metric another name` });
    }
    if (!builtIn && metric.query === undefined) {
      ctx.addIssue({ code: "custom", path: ["query"], message: `expected a query: "${metric.name}" is not a built-in metric (${BUILT_IN_METRICS.join(", ")})` });
    }
    if (!builtIn && metric.min === undefined && metric.max === undefined) {
      ctx.addIssue({ code: "custom", path: ["max"], message: "expected min or max: a custom metric needs a threshold" });
    }
    if (metric.min !== undefined && metric.max !== undefined && metric.min > metric.max) {
      ctx.addIssue({ code: "custom", path: ["max"], message: `expected max >= min, found min ${metric.min} and max ${metric.max}` });
    }
    if (metric.query !== undefined) {
      for (const problem of checkTemplate(metric.query, QUERY_VARIABLES)) {
        ctx.addIssue({ code: "custom", path: ["query"], message: problem.message });
      }
    }
  });

/**
 * The guard: between analysis runs, a quick look at the canary's error ratio in Istio's
 * telemetry, so a gross failure is rolled back within a few scrapes instead of a full interval.
 */
export const GuardSchema = z
  .strictObject({
    enabled: z.boolean().default(true).meta({ description: "Whether the guard runs; on by default when the Rollout has analysis." }),
    interval: period.default("15s").meta({ description: "How often the guard looks; set it to Prometheus' scrape interval. It looks at the last two intervals (two scrapes at least)." }),
    errorRatio: z.number().gt(0).max(1).default(0.2).meta({ description: "Roll back at once when at least this share of the canary's requests fail (5xx)." }),
    minRequests: z.int().min(1).default(20).meta({ description: "Canary requests needed in the guard's window before it can act." }),
  })
  .meta({ description: "Fast rollback of a gross failure, between analysis runs. It never promotes and never counts as a check." });

const limit = (fallback: number, description: string) => z.int().min(0).max(1000).default(fallback).meta({ description });

export const AnalysisSchema = z
  .strictObject({
    interval: period.default("15s").meta({ description: "How often the metrics are checked while a step pauses (at least 1s)." }),
    failureLimit: limit(0, "Failed checks tolerated in a release; one more rolls it back."),
    inconclusiveLimit: limit(3, "Inconclusive checks in a row tolerated (too little traffic, no data, NaN)."),
    errorLimit: limit(3, "Checks in a row that could not reach Prometheus tolerated."),
    onInconclusive: z.enum(["pause", "rollback"]).default("pause").meta({ description: "What happens past inconclusiveLimit." }),
    onError: z.enum(["pause", "rollback"]).default("pause").meta({ description: "What happens past errorLimit." }),
    minRequests: z.int().min(0).default(20).meta({ description: "Canary requests needed for built-in metrics to count, in their window: the interval, or four scrapes when longer." }),
    metrics: z.array(MetricSchema).min(1, { error: "expected at least one metric" }),
    guard: GuardSchema.optional(),
  })
  .superRefine((analysis, ctx) => {
    const seen = new Set<string>();
    analysis.metrics.forEach((metric, index) => {
      if (seen.has(metric.name)) ctx.addIssue({ code: "custom", path: ["metrics", index, "name"], message: `duplicate metric "${metric.name}"` });
      seen.add(metric.name);
    });
  });

export const VirtualServiceRefSchema = z
  .strictObject({
    name: dnsLabel("VirtualService name"),
    namespace: dnsLabel("namespace")
      .optional()
      .meta({ description: "Its namespace; the Rollout's by default. Another namespace needs the controller's RBAC there (the chart's ClusterRole grants it)." }),
    routes: z.array(z.string().min(1)).min(1).optional().meta({ description: "Names of the http routes Tideway manages; optional when the VirtualService has one route." }),
  })
  .superRefine((vs, ctx) => {
    const seen = new Set<string>();
    vs.routes?.forEach((route, index) => {
      if (seen.has(route)) ctx.addIssue({ code: "custom", path: ["routes", index], message: `route "${route}" is listed twice` });
      seen.add(route);
    });
  })
  .meta({ description: "A VirtualService whose routes Tideway shifts." });

export const IstioRoutingSchema = z
  .strictObject({
    virtualService: VirtualServiceRefSchema.optional(),
    virtualServices: z
      .array(VirtualServiceRefSchema)
      .min(1, { error: "expected at least one VirtualService" })
      .max(16)
      .optional()
      .meta({ description: "Several VirtualServices (e.g. the mesh's and the gateway's) that all get the same weights; instead of virtualService." }),
    subset: z.string().min(1).optional().meta({ description: 'DestinationRule subset per version, e.g. "{{ version }}" (the default).' }),
    host: z.string().min(1).optional().meta({ description: 'Destination host per version instead of a subset, e.g. "reviews-{{ version }}".' }),
  })
  .superRefine((istio, ctx) => {
    if (istio.virtualService !== undefined && istio.virtualServices !== undefined) {
      ctx.addIssue({ code: "custom", path: ["virtualServices"], message: "expected virtualService or virtualServices, not both: list every VirtualService in virtualServices" });
    }
    if (istio.virtualService === undefined && istio.virtualServices === undefined) {
      ctx.addIssue({ code: "custom", path: ["virtualService"], message: "expected virtualService: { name: ... } or virtualServices: [{ name: ... }, ...]" });
    }
    const seen = new Set<string>();
    istio.virtualServices?.forEach((vs, index) => {
      const key = `${vs.namespace ?? ""}/${vs.name}`;
      if (seen.has(key))
        ctx.addIssue({ code: "custom", path: ["virtualServices", index, "name"], message: `VirtualService ${vs.namespace !== undefined ? `${vs.namespace}/` : ""}${vs.name} is listed twice` });
      seen.add(key);
    });
    if (istio.subset !== undefined && istio.host !== undefined) {
      ctx.addIssue({ code: "custom", path: ["host"], message: "expected subset or host, not both" });
    }
    for (const key of ["subset", "host"] as const) {
      const template = istio[key];
      if (template === undefined) continue;
      for (const problem of checkTemplate(template, DESTINATION_VARIABLES)) ctx.addIssue({ code: "custom", path: [key], message: problem.message });
      if (!template.includes("{{")) ctx.addIssue({ code: "custom", path: [key], message: `expected a template naming the version, such as "{{ version }}", found "${template}"` });
    }
  });

export const HttpRouteRefSchema = z
  .strictObject({
    name: dnsLabel("HTTPRoute name"),
    namespace: dnsLabel("namespace").optional().meta({ description: "Its namespace; the Rollout's by default." }),
    rules: z.array(z.string().min(1)).min(1).optional().meta({ description: "Names (rules[].name) of the rules Tideway manages; optional when the HTTPRoute has one rule." }),
  })
  .superRefine((route, ctx) => {
    const seen = new Set<string>();
    route.rules?.forEach((rule, index) => {
      if (seen.has(rule)) ctx.addIssue({ code: "custom", path: ["rules", index], message: `rule "${rule}" is listed twice` });
      seen.add(rule);
    });
  })
  .meta({ description: "A Gateway API HTTPRoute (gateway.networking.k8s.io/v1) whose rules' backendRefs Tideway weighs." });

export const GatewayApiRoutingSchema = z
  .strictObject({
    httpRoute: HttpRouteRefSchema,
    host: z.string().min(1).optional().meta({ description: 'The Service of each version, the backendRef name: "{{ service }}-{{ version }}" by default (HTTPRoute has no subsets).' }),
  })
  .superRefine((gateway, ctx) => {
    if (gateway.host === undefined) return;
    for (const problem of checkTemplate(gateway.host, DESTINATION_VARIABLES)) ctx.addIssue({ code: "custom", path: ["host"], message: problem.message });
    if (!gateway.host.includes("{{"))
      ctx.addIssue({ code: "custom", path: ["host"], message: `expected a template naming the version, such as "{{ service }}-{{ version }}", found "${gateway.host}"` });
  });

export const TrafficRoutingSchema = z
  .strictObject({
    istio: IstioRoutingSchema.optional().meta({ description: "Istio VirtualServices." }),
    gatewayAPI: GatewayApiRoutingSchema.optional().meta({ description: "A Gateway API HTTPRoute (Istio's gateways and ambient waypoints, or any implementation)." }),
  })
  .superRefine((routing, ctx) => {
    if (routing.istio !== undefined && routing.gatewayAPI !== undefined) {
      ctx.addIssue({ code: "custom", path: ["gatewayAPI"], message: "expected one router, istio or gatewayAPI, not both" });
    }
    if (routing.istio === undefined && routing.gatewayAPI === undefined) {
      ctx.addIssue({ code: "custom", message: "expected a router: istio: { virtualService: ... } or gatewayAPI: { httpRoute: ... }" });
    }
  });

/** What the release engine announces about one Rollout. */
export const RELEASE_EVENT_KINDS = [
  "adopted",
  "started",
  "step",
  "check-failed",
  "check-inconclusive",
  "check-error",
  "paused",
  "resumed",
  "promoted",
  "rolled-back",
  "aborted",
  "superseded",
  "reverted",
  "removed",
  "retried",
  "held",
  "command-ignored",
  "traffic-failed",
  "refused",
  "waiting",
  "stable-unready",
] as const;
export type ReleaseEventKind = (typeof RELEASE_EVENT_KINDS)[number];

/**
 * Everything Tideway tells people about; Slack's `events` filter picks from these. "invalid" (a
 * bad file, see rollout/sync-event.ts) is accepted, but a sync problem is posted whatever the filter.
 */
export const EVENT_KINDS = [...RELEASE_EVENT_KINDS, "invalid"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** A Slack user id (U…/W…) or a user name, with or without its "@". */
const SLACK_APPROVER = /^(?:[UW][A-Z0-9]{2,}|@?[a-z0-9][a-z0-9._-]*)$/;

export const NotificationsSchema = z.strictObject({
  slack: z
    .strictObject({
      channel: z.string().min(1).optional().meta({ description: "Channel override, e.g. #deploys." }),
      events: z.array(z.enum(EVENT_KINDS)).optional().meta({ description: "Only these events are posted; all when absent." }),
      approvers: z
        .array(z.string().regex(SLACK_APPROVER, { error: 'expected a Slack user id such as "U024BE7LH" or a user name such as "@ana"' }).max(80))
        .min(1, { error: "expected at least one Slack user id or name; leave approvers out to let everyone who sees the message use its buttons" })
        .optional()
        .meta({
          description:
            'Who may use the Promote and Abort buttons of this Rollout\'s Slack messages: Slack user ids ("U024BE7LH", which never change) or user names ("@ana"); everyone in the channel when absent.',
        }),
    })
    .optional(),
});

/** How the canary's readiness gates its traffic (readiness itself is always checked). */
export const ReadinessSchema = z
  .strictObject({
    capacity: z
      .boolean()
      .default(true)
      .meta({ description: "Hold a step's weight until the canary has at least weight% of the stable's ready endpoints (rounded up, at least 1); false needs only one." }),
  })
  .meta({ description: "Readiness gating: no weight, header route or promotion goes to a version without enough ready endpoints." });

/** A string in a pod template that may use {{ service }} and {{ version }}. */
const workloadTemplate = z.string().superRefine(checkWorkloadTemplate);

function checkWorkloadTemplate(text: string, ctx: z.RefinementCtx): void {
  for (const problem of checkTemplate(text, WORKLOAD_VARIABLES)) ctx.addIssue({ code: "custom", message: problem.message });
}

const LABEL_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Labels whose values are templates; Tideway's own labels are refused, it sets them itself. */
const workloadLabels = z.record(z.string().regex(LABEL_NAME, { error: 'expected a label name such as "app" or "example.com/team"' }), workloadTemplate).superRefine((labels, ctx) => {
  for (const key of [ROLLOUT_LABEL, VERSION_LABEL]) {
    if (key in labels) ctx.addIssue({ code: "custom", path: [key], message: `${key} is set by Tideway on every workload it manages; remove it` });
  }
});

const EnvVarSchema = z.looseObject({
  name: z.string().min(1),
  value: workloadTemplate.optional().meta({ description: "May use {{ version }} and {{ service }}." }),
});

export const ContainerSchema = z
  .looseObject({
    name: dnsLabel("container name"),
    image: z.string().min(1).superRefine(checkWorkloadTemplate).meta({ description: 'Image; may use {{ version }} and {{ service }}, e.g. "example.com/reviews:{{ version }}".' }),
    env: z.array(EnvVarSchema).optional(),
  })
  .meta({ description: "A Kubernetes container; image and env values may use {{ version }} and {{ service }}." });

export const PodTemplateSchema = z
  .looseObject({
    metadata: z
      .strictObject({
        labels: workloadLabels.optional().meta({ description: 'Pod labels; a label carrying "{{ version }}" (e.g. version: "{{ version }}") tells the versions apart for Istio.' }),
        annotations: z.record(z.string().min(1), workloadTemplate).optional().meta({ description: "Pod annotations; values may use {{ version }} and {{ service }}." }),
      })
      .optional(),
    spec: z
      .looseObject({
        containers: z.array(ContainerSchema).min(1, { error: "expected at least one container" }),
        initContainers: z.array(ContainerSchema).optional(),
      })
      .meta({ description: "A Kubernetes PodSpec." }),
  })
  .meta({ description: "A Kubernetes PodTemplateSpec: the pods of every version." });

/** A delay before a retired version is scaled down: zero or more, at most a day. */
const delay = z.string().superRefine((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) ctx.addIssue({ code: "custom", message: 'expected a duration such as "30s", "1m" or "0s"' });
  else if (ms > 86_400_000) ctx.addIssue({ code: "custom", message: `expected a duration of at most 24h, found "${text}"` });
});

/**
 * Each version's Deployment, `<service>-<version>`: with it, Tideway creates the canary's
 * Deployment and DestinationRule subset, waits for it, and retires the old version after a release.
 */
export const WorkloadSchema = z
  .strictObject({
    replicas: z.int().min(1).max(10_000).optional().meta({ description: "Pods per version; the stable version's Deployment replicas (or 1) when absent." }),
    scaleWithWeight: z.boolean().default(false).meta({ description: "Scale the canary with its weight: ceil(weight% x replicas), at least 1; full size on promotion." }),
    scaleDownDelay: delay.default("30s").meta({ description: "How long a retired version keeps its pods (sidecars drain) before it is scaled to 0." }),
    labels: workloadLabels.optional().meta({ description: "Labels of the Deployment and its pods; values may use {{ version }} and {{ service }}." }),
    template: PodTemplateSchema,
  })
  .meta({ description: "Each version's Deployment (<service>-<version>), created and retired by Tideway. Without it Tideway manages no workloads." });

export const RolloutSpecSchema = z.strictObject({
  service: dnsLabel("service name").meta({ description: "The mesh host; used by destinations and metric templates." }),
  version: z
    .string({ error: (issue) => (typeof issue.input === "number" ? `expected a string, found the number ${String(issue.input)}: quote it, e.g. version: "${String(issue.input)}"` : undefined) })
    .min(1)
    .max(63)
    .regex(LABEL_VALUE, { error: 'expected a version: letters, digits, "-", "_" and ".", up to 63 characters' })
    .meta({ description: "The release. Committing a new value starts a canary." }),
  trafficRouting: TrafficRoutingSchema,
  workload: WorkloadSchema.optional(),
  steps: z.array(StepSchema).min(1, { error: "expected at least one step" }).max(100),
  analysis: AnalysisSchema.optional(),
  notifications: NotificationsSchema.optional(),
  progressDeadline: period
    .default("10m")
    .meta({ description: "How long a release may wait for readiness, for traffic that fails to apply, or at a step that cannot advance (manual gates excluded)." }),
  onProgressDeadline: z.enum(["rollback", "pause"]).default("rollback").meta({ description: "What happens when the progress deadline passes." }),
  readiness: ReadinessSchema.optional(),
});

export const RolloutMetadataSchema = z.strictObject({
  name: dnsLabel("Rollout name"),
  namespace: dnsLabel("namespace").optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z
    .record(z.string(), z.string())
    .optional()
    .superRefine((annotations, ctx) => {
      for (const key of Object.keys(annotations ?? {})) {
        if (!key.startsWith(TIDEWAY_PREFIX) || key === ABORT_ANNOTATION) continue;
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `not allowed in git: a command acts once, on the live Rollout (kubectl annotate or the tideway CLI); only ${ABORT_ANNOTATION} may be committed, to hold a version aborted`,
        });
      }
    }),
});

/** A Rollout document as written in git. */
export const RolloutDocumentSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: RolloutMetadataSchema,
  spec: RolloutSpecSchema,
});

export type RolloutSpec = z.output<typeof RolloutSpecSchema>;
export type RolloutSpecInput = z.input<typeof RolloutSpecSchema>;
export type Step = z.output<typeof StepSchema>;
export type Analysis = z.output<typeof AnalysisSchema>;
export type Guard = z.output<typeof GuardSchema>;
export type Metric = z.output<typeof MetricSchema>;
export type Compare = z.output<typeof CompareSchema>;
export type HeaderMatch = z.output<typeof HeaderMatchSchema>;
export type Workload = z.output<typeof WorkloadSchema>;
export type PodTemplate = z.output<typeof PodTemplateSchema>;
export type RolloutDocument = z.output<typeof RolloutDocumentSchema>;

/** The annotation that, committed in git, holds a version aborted (and, set live, aborts it). */
