/**
 * The git mirror against the real API server, with the Rollout watch's view of what exists
 * given by the test: connected and up to date, connected but behind, or not connected.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { CoreV1Api } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { PooledKubeConfig } from "../../src/kube/config.js";
import { RolloutMirror, type MirroredObject } from "../../src/kube/mirror.js";
import { RolloutClient } from "../../src/kube/rollouts.js";
import { FILE_ANNOTATION, INVALID_ANNOTATION, SOURCE_LABEL } from "../../src/rollout/annotations.js";
import type { MirrorRequest } from "../../src/rollout/mirror.js";
import { parseRolloutFiles } from "../../src/rollout/parse.js";
import { rolloutYaml } from "./rollout-yaml.js";
import { services, uniqueName } from "./services.js";

const kc = new PooledKubeConfig();
kc.loadFromString(services().kubeconfigYaml);
const client = new RolloutClient(kc);

async function namespace(): Promise<string> {
  const name = uniqueName("mirror");
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/** A sync's request for these files (path -> text); `changed` limits the applies to those files. */
function request(files: Record<string, string>, commit: string, changed?: string[]): MirrorRequest {
  const parsed = parseRolloutFiles(Object.entries(files).map(([path, text]) => ({ path, text })));
  return { commit, rollouts: parsed.rollouts, problems: parsed.problems, files: new Set(Object.keys(files)), ...(changed ? { changedFiles: new Set(changed) } : {}) };
}

/** The watch's view as it would be now, read from the API server. */
async function watchedNow(source: string): Promise<MirroredObject[]> {
  return (await client.listMetadata(`${SOURCE_LABEL}=${source}`)).map((o) => ({
    namespace: o.namespace,
    name: o.name,
    ...(o.annotations[FILE_ANNOTATION] !== undefined ? { file: o.annotations[FILE_ANNOTATION] } : {}),
    ...(o.annotations[INVALID_ANNOTATION] !== undefined ? { invalid: o.annotations[INVALID_ANNOTATION] } : {}),
  }));
}

async function names(source: string): Promise<string[]> {
  return (await client.listMetadata(`${SOURCE_LABEL}=${source}`)).map((o) => o.name).sort();
}

/** API requests made while `work` runs, as "METHOD path". */
async function requestsOf(work: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const record = (message: unknown) => {
    const { request } = message as { request: { method: string; path: string } };
    seen.push(`${request.method} ${request.path.split("?")[0] ?? ""}`);
  };
  subscribe("http.client.request.start", record);
  try {
    await work();
  } finally {
    unsubscribe("http.client.request.start", record);
  }
  return seen;
}

describe("the git mirror", () => {
  it("writes one object for one changed file, and reads nothing, when the watch knows what exists", async () => {
    const ns = await namespace();
    const source = uniqueName("src");
    let watched: MirroredObject[] = [];
    const mirror = new RolloutMirror(client, { source, watched: () => watched });
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`rollouts/svc-${i}.yaml`] = rolloutYaml({ name: `svc-${i}`, namespace: ns, version: "v1" });
    expect((await mirror.apply(request(files, "c1"))).applied).toHaveLength(20);
    watched = await watchedNow(source);

    files["rollouts/svc-3.yaml"] = rolloutYaml({ name: "svc-3", namespace: ns, version: "v2" });
    let applied: string[] = [];
    const requests = await requestsOf(async () => (applied = (await mirror.apply(request(files, "c2", ["rollouts/svc-3.yaml"]))).applied));
    expect(applied).toEqual([`${ns}/svc-3`]);
    expect(requests).toEqual([`PATCH /apis/tideway.io/v1alpha1/namespaces/${ns}/rollouts/svc-3`]);
  });

  it("deletes the objects of a removed file even when the watch has not seen them yet", async () => {
    const ns = await namespace();
    const source = uniqueName("src");
    const mirror = new RolloutMirror(client, { source, watched: () => [] }); // connected, but behind every write
    const files: Record<string, string> = {
      "rollouts/a.yaml": rolloutYaml({ name: "a", namespace: ns, version: "v1" }),
      "rollouts/b.yaml": rolloutYaml({ name: "b", namespace: ns, version: "v1" }),
    };
    await mirror.apply(request(files, "c1"));
    expect(await names(source)).toEqual(["a", "b"]);
    delete files["rollouts/b.yaml"];
    const report = await mirror.apply(request(files, "c2", []));
    expect(report.deleted).toEqual([`${ns}/b`]);
    expect(await names(source)).toEqual(["a"]);
  });

  it("lists what exists when the watch is not connected: an object of the source not in git is deleted, a missing one applied", async () => {
    const ns = await namespace();
    const source = uniqueName("src");
    const before = new RolloutMirror(client, { source });
    await before.apply(request({ "rollouts/a.yaml": rolloutYaml({ name: "a", namespace: ns, version: "v1" }), "rollouts/old.yaml": rolloutYaml({ name: "old", namespace: ns, version: "v1" }) }, "c1"));
    await client.delete(ns, "a"); // by hand

    // A new replica (no writes of its own) with a watch that is not connected yet.
    const mirror = new RolloutMirror(client, { source, watched: () => undefined });
    const report = await mirror.apply(request({ "rollouts/a.yaml": rolloutYaml({ name: "a", namespace: ns, version: "v1" }) }, "c2", []));
    expect(report.deleted).toEqual([`${ns}/old`]);
    expect(report.applied).toEqual([`${ns}/a`]);
    expect(await names(source)).toEqual(["a"]);
  });

  it("marks the object of a broken file, keeps it, and takes the mark off when the file is fixed", async () => {
    const ns = await namespace();
    const source = uniqueName("src");
    let watched: MirroredObject[] = [];
    const mirror = new RolloutMirror(client, { source, watched: () => watched });
    const good = rolloutYaml({ name: "a", namespace: ns, version: "v1" });
    await mirror.apply(request({ "rollouts/a.yaml": good }, "c1"));
    watched = await watchedNow(source);

    const broken = rolloutYaml({ name: "a", namespace: ns, version: "v2", steps: ["- setWeight: 150"] });
    const report = await mirror.apply(request({ "rollouts/a.yaml": broken }, "c2", ["rollouts/a.yaml"]));
    expect(report.invalid.map((i) => i.key)).toEqual([`${ns}/a`]);
    expect(report.retained).toEqual([]);
    const marked = await client.get(ns, "a");
    expect(marked.metadata.annotations?.[INVALID_ANNOTATION]).toMatch(/^rollouts\/a\.yaml:\d+:\d+: .*setWeight/);
    expect((marked.spec as { version: string }).version).toBe("v1");

    watched = await watchedNow(source);
    await mirror.apply(request({ "rollouts/a.yaml": rolloutYaml({ name: "a", namespace: ns, version: "v3" }) }, "c3", ["rollouts/a.yaml"]));
    const fixed = await client.get(ns, "a");
    expect(fixed.metadata.annotations?.[INVALID_ANNOTATION]).toBeUndefined();
    expect((fixed.spec as { version: string }).version).toBe("v3");
  });
});
