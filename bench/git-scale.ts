/**
 * Git at scale: the sync and the mirror alone (no reconciles), against a real API server.
 * Targets: one changed file in a 10,000-file repository synced well under a second; a commit of
 * 2,000 new Rollouts applied in under 20 s.
 * The mirror learns which objects exist from a Rollout watch, as in the controller;
 * BENCH_MIRROR_LIST=1 makes it list their metadata on every sync instead (no watch).
 * Run: npx tsx bench/git-scale.ts [files=10000] [added=2000]
 */
import { fileURLToPath } from "node:url";
import { CoreV1Api } from "@kubernetes/client-node";
import { GitSource } from "../src/git/source.js";
import { RolloutSync } from "../src/git/sync.js";
import { PooledKubeConfig } from "../src/kube/config.js";
import { RolloutWatch } from "../src/kube/informer.js";
import { MIRROR_CONCURRENCY, RolloutMirror } from "../src/kube/mirror.js";
import { RolloutClient } from "../src/kube/rollouts.js";
import { createGitRemote, waitUntil } from "../test/env/index.js";
import { startKube } from "../test/env/kube.js";
import { tempDir } from "../test/env/process.js";

const files = Number(process.argv[2] ?? 10_000);
const added = Number(process.argv[3] ?? 2_000);
const NAMESPACES = 10;
const listEverySync = process.env.BENCH_MIRROR_LIST === "1";

function rollout(index: number, version: string): string {
  return `apiVersion: tideway.io/v1alpha1
kind: Rollout
metadata: { name: svc-${index}, namespace: git-scale-${index % NAMESPACES} }
spec:
  service: svc-${index}
  version: ${version}
  trafficRouting: { istio: { virtualService: { name: svc-${index} } } }
  steps:
    - setWeight: 10
    - pause: 10s
`;
}

const crd = fileURLToPath(new URL("../charts/tideway/crds/rollouts.tideway.io.yaml", import.meta.url));
const kube = await startKube({ installIstioCrds: false, extraCrdFiles: [crd] });
const remote = await createGitRemote();
let watch: RolloutWatch | undefined;
try {
  const kc = new PooledKubeConfig(); // as the controller's (src/kube/config.ts)
  kc.loadFromFile(kube.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  for (let n = 0; n < NAMESPACES; n++) await core.createNamespace({ body: { metadata: { name: `git-scale-${n}` } } });
  const client = new RolloutClient(kc);
  await waitUntil(
    "the Rollout CRD served",
    () =>
      client.list().then(
        () => true,
        () => false,
      ),
    { timeoutMs: 60_000 },
  );
  const source = new GitSource({ url: remote.url, branch: "main", path: "rollouts", cacheDir: tempDir("git-scale") });
  if (!listEverySync) {
    const connected = new Promise<void>((resolve) => {
      watch = new RolloutWatch(kc, { labelSelector: "tideway.io/source=git-scale", onChange: () => undefined, onConnect: resolve });
    });
    await watch?.start();
    await connected;
  }
  const sync = new RolloutSync(source, new RolloutMirror(client, { source: "git-scale", ...(watch ? { watched: () => watch?.mirrored() } : {}) }));
  console.log(`the mirror knows which objects exist from ${listEverySync ? "a metadata list on every sync" : "the Rollout watch"}`);
  const timed = async (what: string, commit: Record<string, string | null>) => {
    await remote.commit(commit, what);
    const started = performance.now();
    const cpu = process.cpuUsage();
    const outcome = await sync.sync();
    const ms = Math.round(performance.now() - started);
    const used = process.cpuUsage(cpu);
    console.error(`[bench] ${what}: ${ms} ms, this process ${Math.round((used.user + used.system) / 1000)} ms CPU`);
    const mirror = outcome.mirror;
    if (!mirror || mirror.errors.length > 0) throw new Error(`${what}: ${mirror?.errors.slice(0, 3).join("; ") ?? outcome.result}`);
    return { ms, outcome, mirror };
  };

  const all: Record<string, string> = {};
  for (let i = 0; i < files; i++) all[`rollouts/svc-${i}.yaml`] = rollout(i, "v1");
  const first = await timed("all Rollouts", all);
  console.log(`first sync: ${files} files parsed and applied in ${first.ms} ms (${first.mirror.applied.length} applied, ${MIRROR_CONCURRENCY} at once)`);

  for (let i = 0; i < 3; i++) {
    const listing = performance.now();
    const listed = await client.list("tideway.io/source=git-scale");
    const listedMs = Math.round(performance.now() - listing);
    const metadata = performance.now();
    await client.listMetadata("tideway.io/source=git-scale");
    console.error(`[bench] listing ${listed.length} Rollouts: ${listedMs} ms whole, ${Math.round(performance.now() - metadata)} ms metadata only`);
  }
  const one: number[] = [];
  for (let round = 0; round < 5; round++) {
    const { ms, mirror } = await timed(`change one (${round})`, { [`rollouts/svc-${round * 7}.yaml`]: rollout(round * 7, `v${round + 2}`) });
    if (mirror.applied.length !== 1) throw new Error(`one changed file applied ${mirror.applied.length} objects`);
    one.push(ms);
  }
  console.log(`one changed file in a ${files}-file repository: synced in ${one.join(", ")} ms (target well under 1,000 ms)`);

  const batch: Record<string, string> = {};
  for (let i = files; i < files + added; i++) batch[`rollouts/svc-${i}.yaml`] = rollout(i, "v1");
  const bulk = await timed(`${added} new Rollouts`, batch);
  if (bulk.mirror.applied.length !== added) throw new Error(`applied ${bulk.mirror.applied.length} of ${added}`);
  console.log(`a commit of ${added} new Rollouts: parsed and applied in ${bulk.ms} ms (target < 20,000 ms)`);

  const gone: Record<string, null> = {};
  for (let i = files; i < files + added; i++) gone[`rollouts/svc-${i}.yaml`] = null;
  const removal = await timed(`${added} Rollouts removed`, gone);
  console.log(`a commit removing them: ${removal.mirror.deleted.length} deleted in ${removal.ms} ms`);
} finally {
  await watch?.stop();
  await remote.stop();
  await kube.stop();
}
