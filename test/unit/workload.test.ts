import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Rollout } from "../../src/rollout/model.js";
import { parseRolloutFile } from "../../src/rollout/parse.js";
import { formatProblem } from "../../src/rollout/problem.js";
import { WorkloadSchema, type Workload } from "../../src/rollout/schema.js";
import {
  canaryReplicas,
  fullReplicas,
  renderDeployment,
  renderSubset,
  scaleDownDelayMs,
  versionLabels,
  withSubset,
  workloadName,
  workloadNameProblem,
  workloadWarnings,
} from "../../src/rollout/workload.js";

const EXAMPLE = readFileSync(new URL("../../rollouts/reviews-workload.yaml", import.meta.url), "utf8");

/** A Rollout of reviews with `workload` (YAML, indented under spec) and optional extra spec lines. */
const file = (workload: string, istio = "") => `apiVersion: tideway.io/v1alpha1
kind: Rollout
metadata: { name: reviews, namespace: shop }
spec:
  service: reviews
  version: v2
  trafficRouting:
    istio:
      virtualService: { name: reviews }
${istio}  workload:
${workload}
  steps:
    - setWeight: 10
`;

const TEMPLATE = `    template:
      metadata:
        labels: { app: reviews, version: "{{ version }}" }
      spec:
        containers:
          - name: reviews
            image: "example.com/{{ service }}:{{ version }}"
            env: [{ name: VERSION, value: "{{ version }}" }, { name: MODE, value: fast }, { name: POD, valueFrom: { fieldRef: { fieldPath: metadata.name } } }]
            resources: { limits: { cpu: 500m } }
        serviceAccountName: reviews`;

function parsed(text: string): Rollout {
  const { rollouts, problems } = parseRolloutFile("rollouts/reviews.yaml", text);
  expect(problems.map(formatProblem)).toEqual([]);
  const first = rollouts[0];
  if (first === undefined) throw new Error("no Rollout");
  return first.rollout;
}

const problemsOf = (text: string) => parseRolloutFile("rollouts/reviews.yaml", text).problems.map(formatProblem);

describe("spec.workload in a Rollout file", () => {
  it("is accepted as in rollouts/reviews-workload.yaml, with its defaults filled in", () => {
    const { rollouts, problems } = parseRolloutFile("rollouts/reviews-workload.yaml", EXAMPLE);
    expect(problems).toEqual([]);
    expect(rollouts[0]?.rollout.spec.workload).toMatchObject({ replicas: 3, scaleWithWeight: true, scaleDownDelay: "30s" });
    expect(parsed(file(TEMPLATE)).spec.workload).toMatchObject({ scaleWithWeight: false, scaleDownDelay: "30s" });
  });

  it.each([
    [
      "a template variable it does not know",
      TEMPLATE.replace('image: "example.com/{{ service }}:{{ version }}"', 'image: "example.com/reviews:{{ verison }}"'),
      /:17:20: spec\.workload\.template\.spec\.containers\[0\]\.image: unknown template variable "\{\{ verison \}\}" \(did you mean "\{\{ version \}\}"\?\)/,
    ],
    [
      "a label Tideway sets itself",
      TEMPLATE.replace("app: reviews,", '"tideway.io/version": x,'),
      /:13:41: spec\.workload\.template\.metadata\.labels\["tideway\.io\/version"\]: tideway\.io\/version is set by Tideway/,
    ],
    ["no container", "    template:\n      spec:\n        containers: []", /spec\.workload\.template\.spec\.containers: expected at least one container/],
    ["a container without an image", "    template:\n      spec:\n        containers: [{ name: reviews }]", /spec\.workload\.template\.spec\.containers\[0\]: missing required field "image"/],
    ["a scale-down delay that is not a duration", `    scaleDownDelay: soon\n${TEMPLATE}`, /spec\.workload\.scaleDownDelay: expected a duration/],
    ["zero replicas", `    replicas: 0\n${TEMPLATE}`, /spec\.workload\.replicas/],
    ["an unknown workload field", `    replica: 3\n${TEMPLATE}`, /spec\.workload.*replica/],
    [
      "an env value with an unknown variable",
      TEMPLATE.replace('value: "{{ version }}"', 'value: "{{ namespace }}"'),
      /spec\.workload\.template\.spec\.containers\[0\]\.env\[0\]\.value: unknown template variable "\{\{ namespace \}\}"/,
    ],
  ])("refuses %s, naming the field and line", (_case, workload, message) => {
    expect(problemsOf(file(workload)).join("\n")).toMatch(message);
  });
});

describe("the Deployment of a version", () => {
  const rollout = parsed(file(`    labels: { team: "{{ service }}-team" }\n${TEMPLATE}`));

  it("is <service>-<version> in the Rollout's namespace, selected by Tideway's own labels", () => {
    const deployment = renderDeployment(rollout, "v3", 4);
    expect(workloadName(rollout.spec, "v3")).toBe("reviews-v3");
    expect(deployment.metadata).toEqual({
      name: "reviews-v3",
      namespace: "shop",
      labels: { team: "reviews-team", "tideway.io/rollout": "reviews", "tideway.io/version": "v3" },
    });
    expect(deployment.spec.replicas).toBe(4);
    expect(deployment.spec.selector).toEqual({ matchLabels: { "tideway.io/rollout": "reviews", "tideway.io/version": "v3" } });
  });

  it("renders {{ version }} and {{ service }} in pod labels, images and env values, and keeps the rest of the pod template as written", () => {
    const template = renderDeployment(rollout, "v3", 1).spec.template;
    expect(template.metadata.labels).toEqual({ team: "reviews-team", app: "reviews", version: "v3", "tideway.io/rollout": "reviews", "tideway.io/version": "v3" });
    expect(template.spec.containers).toEqual([
      {
        name: "reviews",
        image: "example.com/reviews:v3",
        env: [
          { name: "VERSION", value: "v3" },
          { name: "MODE", value: "fast" },
          { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        ],
        resources: { limits: { cpu: "500m" } },
      },
    ]);
    expect(template.spec.serviceAccountName).toBe("reviews");
  });

  it("is refused for a version that cannot name a Deployment, and for a Rollout without a workload", () => {
    expect(workloadNameProblem(rollout.spec, "V3_rc")).toBe(
      'version "V3_rc" cannot name its Deployment "reviews-V3_rc": with spec.workload a version may hold only lower-case letters, digits, "-" and "."',
    );
    expect(workloadNameProblem(rollout.spec, "1.2.3-rc.1")).toBeUndefined();
    expect(() => renderDeployment(rollout, "V3_rc", 1)).toThrow(/cannot name its Deployment/);
    expect(() => renderDeployment({ ...rollout, spec: { ...rollout.spec, workload: undefined } }, "v3", 1)).toThrow("Rollout shop/reviews has no spec.workload");
  });
});

describe("the DestinationRule subset of a version", () => {
  it("is named as the VirtualService routes to it and selects the labels carrying {{ version }}", () => {
    expect(renderSubset(parsed(file(TEMPLATE)), "v3")).toEqual({ name: "v3", labels: { version: "v3" } });
    expect(renderSubset(parsed(file(TEMPLATE, '      subset: "{{ service }}-{{ version }}"\n')), "v3")).toEqual({ name: "reviews-v3", labels: { version: "v3" } });
  });

  it("selects Tideway's version label when no label carries {{ version }}", () => {
    const rollout = parsed(file(TEMPLATE.replace('version: "{{ version }}"', "tier: web")));
    expect(versionLabels(rollout, "v3")).toEqual({ "tideway.io/version": "v3" });
  });

  it("does not exist in host mode, where each version is a Service of its own", () => {
    expect(renderSubset(parsed(file(TEMPLATE, '      host: "reviews-{{ version }}"\n')), "v3")).toBeUndefined();
  });
});

describe("replicas", () => {
  const workload = (fields: Partial<Workload>): Workload => WorkloadSchema.parse({ template: { spec: { containers: [{ name: "app", image: "app" }] } }, ...fields });

  it.each([
    ["the stable version's count by default", {}, 5, 10, 5],
    ["1 when there is no stable Deployment", {}, undefined, 10, 1],
    ["spec.workload.replicas when given", { replicas: 3 }, 5, 10, 3],
    ["ceil(weight% x replicas) with scaleWithWeight", { replicas: 10, scaleWithWeight: true }, undefined, 25, 3],
    ["at least 1 with scaleWithWeight at weight 0", { replicas: 10, scaleWithWeight: true }, undefined, 0, 1],
    ["full size with scaleWithWeight at 100", { scaleWithWeight: true }, 4, 100, 4],
    ["1 pod of 3 at 10%", { replicas: 3, scaleWithWeight: true }, undefined, 10, 1],
    ["2 pods of 3 at 50%", { replicas: 3, scaleWithWeight: true }, undefined, 50, 2],
  ])("for the canary: %s", (_case, fields: Partial<Workload>, stable, weight, expected) => {
    expect(canaryReplicas(workload(fields), stable, weight)).toBe(expected);
  });

  it("treats a stable version scaled to 0 as no count to copy", () => {
    expect(fullReplicas(workload({}), 0)).toBe(1);
  });

  it("retires a version after scaleDownDelay, 30s by default", () => {
    expect(scaleDownDelayMs(workload({}))).toBe(30_000);
    expect(scaleDownDelayMs(workload({ scaleDownDelay: "0s" }))).toBe(0);
    expect(scaleDownDelayMs(workload({ scaleDownDelay: "2m" }))).toBe(120_000);
  });
});

describe("workload warnings", () => {
  it("warn when no pod label carries {{ version }}, naming the fix", () => {
    expect(workloadWarnings(parsed(file(TEMPLATE.replace('version: "{{ version }}"', "tier: web"))))).toEqual([
      { path: ["spec", "workload", "template", "metadata", "labels"], message: expect.stringContaining('add version: "{{ version }}" to spec.workload.template.metadata.labels') },
    ]);
  });

  it("warn when the version cannot name a Deployment", () => {
    expect(workloadWarnings(parsed(file(TEMPLATE).replace("version: v2", "version: V2")))).toEqual([{ path: ["spec", "version"], message: expect.stringContaining('version "V2" cannot name') }]);
  });

  it("are none for the example, nor without a workload", () => {
    expect(workloadWarnings(parsed(EXAMPLE))).toEqual([]);
    expect(workloadWarnings(parsed(file(TEMPLATE)))).toEqual([]);
  });
});

describe("adding a version's subset to a DestinationRule", () => {
  const others = [
    { name: "v1", labels: { version: "v1" }, trafficPolicy: { loadBalancer: { simple: "ROUND_ROBIN" } } },
    { name: "canary-pinned", labels: { track: "canary" } },
  ];

  it("appends a subset it does not have, leaving the others as they are", () => {
    expect(withSubset(others, { name: "v2", labels: { version: "v2" } })).toEqual([...others, { name: "v2", labels: { version: "v2" } }]);
  });

  it("sets only the labels of a subset of that name, keeping its traffic policy", () => {
    expect(withSubset(others, { name: "v1", labels: { version: "v1", app: "reviews" } })).toEqual([
      { name: "v1", labels: { version: "v1", app: "reviews" }, trafficPolicy: { loadBalancer: { simple: "ROUND_ROBIN" } } },
      others[1],
    ]);
  });

  it("changes nothing when the subset is already as wanted", () => {
    expect(withSubset(others, { name: "v1", labels: { version: "v1" } })).toBeUndefined();
  });
});
