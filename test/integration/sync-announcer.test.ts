/**
 * Problems of the git sync (a bad file, a refused Rollout, an unverified commit) are told through
 * the real API server, Redis and Slack: a log line, a Warning Event and a notification each, once
 * while they stay the same, and once across two replicas telling the same problem.
 */
import { Writable } from "node:stream";
import { CoreV1Api, type CoreV1Event } from "@kubernetes/client-node";
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger, Secrets } from "../../src/controller/log.js";
import { standingProblems } from "../../src/git/sync-events.js";
import type { SyncOutcome } from "../../src/git/sync.js";
import { EventRecorder } from "../../src/kube/events.js";
import { NotificationQueue } from "../../src/notify/delivery.js";
import { SyncAnnouncer } from "../../src/notify/sync-announcer.js";
import { redisConnection } from "../../src/queue/redis.js";
import type { Problem } from "../../src/rollout/problem.js";
import { startSlackReceiver, waitUntil, type SlackPost, type SlackReceiver } from "../env/index.js";
import { kubeConfig, services, uniqueName } from "./services.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const textOf = (post: SlackPost) => (post.body as { text: string }).text;

interface Replica {
  announcer: SyncAnnouncer;
  logLines: { level: string; msg: string }[];
}

/** One controller replica's announcer: its own Redis connection, Event recorder and log, one shared queue prefix. */
async function replica(prefix: string, slack: SlackReceiver, webhook: SlackReceiver): Promise<Replica> {
  const connection: Redis = redisConnection(services().redisUrl);
  const notifications = new NotificationQueue({
    connection,
    prefix,
    minBackoffMs: 10,
    maxBackoffMs: 200,
    log: () => undefined,
    slack: { webhookUrl: slack.webhookUrl },
    webhook: { url: webhook.webhookUrl },
  });
  await notifications.start();
  cleanups.push(async () => {
    await notifications.close();
    connection.disconnect();
  });
  const logLines: Replica["logLines"] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(JSON.parse(chunk.toString("utf8")) as Replica["logLines"][number]);
      done();
    },
  });
  const log = createLogger(new Secrets(), { destination });
  return { announcer: new SyncAnnouncer({ log, events: new EventRecorder(kubeConfig()), notifications }), logLines };
}

function outcome(result: SyncOutcome["result"], sha: string, problems: Problem[], extra: Partial<SyncOutcome> = {}): SyncOutcome {
  return { commit: { sha, author: "Ann Example", subject: `commit ${sha.slice(0, 4)}` }, result, parsedFiles: 1, rollouts: 1, problems, ...extra };
}

describe("the problems of a git sync", () => {
  it("are each told once (log, Event, Slack, webhook) while they stay the same, by one of two replicas", async () => {
    const namespace = uniqueName("announce");
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    cleanups.push(async () => {
      await core.deleteNamespace({ name: namespace });
    });
    const slack = await startSlackReceiver();
    const webhook = await startSlackReceiver();
    cleanups.push(
      () => slack.stop(),
      () => webhook.stop(),
    );
    const prefix = uniqueName("announce");
    const [first, second] = [await replica(prefix, slack, webhook), await replica(prefix, slack, webhook)];
    if (!first || !second) throw new Error("fixture");

    const broken: Problem = {
      file: "rollouts/ratings.yaml",
      line: 9,
      column: 7,
      path: "spec.steps[0].setWeight",
      message: "expected an integer from 0 to 100, found 150",
      rollout: { name: "ratings", namespace },
    };
    const unnamed: Problem = { file: "rollouts/junk.yaml", line: 1, column: 1, path: "", message: "expected a mapping" };
    const refused: Problem = { file: "rollouts/ghost.yaml", line: 4, column: 3, path: "metadata.namespace", message: 'namespace "nowhere" does not exist' };
    const synced = outcome("synced", "a".repeat(40), [broken, unnamed], {
      mirror: { applied: [], deleted: [], retained: [], invalid: [], rejected: [{ key: "nowhere/ghost", file: refused.file, problem: refused }], errors: [] },
    });
    // Both replicas see the same commit (one applied it, the other caught up); then a later commit leaves the files broken.
    await first.announcer.announce(standingProblems(synced, namespace));
    await second.announcer.announce(standingProblems(synced, namespace));
    await first.announcer.announce(standingProblems(outcome("synced", "b".repeat(40), [broken, unnamed]), namespace));
    await first.announcer.announce(standingProblems(outcome("unchanged", "b".repeat(40), [broken, unnamed]), namespace));

    // An unsigned commit, seen at three polls.
    const unsigned = outcome("unverified", "c".repeat(40), [], { reason: "the commit is not signed", parsedFiles: 0, rollouts: 0 });
    for (let poll = 0; poll < 3; poll++) await first.announcer.announce(standingProblems(unsigned, namespace));

    await slack.waitForPosts(4);
    await webhook.waitForPosts(4);
    const events = async (): Promise<CoreV1Event[]> => (await core.listNamespacedEvent({ namespace })).items;
    await waitUntil("the Events", async () => (await events()).length >= 4, { timeoutMs: 10_000 });
    await sleep(1_000); // time for any duplicate to arrive

    expect(slack.delivered().map(textOf).sort()).toEqual([
      "commit ccccccc not applied: the commit is not signed",
      'rollouts/ghost.yaml:4:3: metadata.namespace: namespace "nowhere" does not exist',
      "rollouts/junk.yaml:1:1: expected a mapping",
      "rollouts/ratings.yaml:9:7: spec.steps[0].setWeight: expected an integer from 0 to 100, found 150",
    ]);
    const hooks = webhook.delivered().map((p) => p.body as { id: string; kind: string; rollout: string; commit: { sha: string } });
    expect(hooks.map((h) => h.kind).sort()).toEqual(["invalid", "invalid", "invalid", "unverified"]);
    expect(hooks.find((h) => h.kind === "unverified")).toMatchObject({ rollout: "git", commit: { sha: "c".repeat(40) } });

    const told = (await events()).map((e) => ({ reason: e.reason, on: e.involvedObject.name, type: e.type, message: e.message }));
    expect(told.sort((a, b) => String(a.message).localeCompare(String(b.message)))).toEqual([
      { reason: "UnverifiedCommit", on: "git", type: "Warning", message: "commit ccccccc not applied: the commit is not signed" },
      { reason: "InvalidRollout", on: "git", type: "Warning", message: 'rollouts/ghost.yaml:4:3: metadata.namespace: namespace "nowhere" does not exist (commit aaaaaaa)' },
      { reason: "InvalidRollout", on: "git", type: "Warning", message: "rollouts/junk.yaml:1:1: expected a mapping (commit aaaaaaa)" },
      { reason: "InvalidRollout", on: "ratings", type: "Warning", message: "rollouts/ratings.yaml:9:7: spec.steps[0].setWeight: expected an integer from 0 to 100, found 150 (commit aaaaaaa)" },
    ]);

    // Each replica logs what it told: the first everything once, the second (a fresh process) the files again.
    const lines = (replica: Replica, text: string) => replica.logLines.filter((l) => l.msg.includes(text));
    expect(lines(first, "invalid Rollout file:")).toHaveLength(3);
    expect(lines(first, "commit signature not verified; not applied")).toHaveLength(1);
    expect(lines(first, "commit signature not verified")[0]?.level).toBe("error");
  });

  it("a signed commit after an unsigned one re-tells no bad file that stayed broken", async () => {
    const namespace = uniqueName("announce");
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    cleanups.push(async () => {
      await core.deleteNamespace({ name: namespace });
    });
    const slack = await startSlackReceiver();
    const webhook = await startSlackReceiver();
    cleanups.push(
      () => slack.stop(),
      () => webhook.stop(),
    );
    const { announcer, logLines } = await replica(uniqueName("announce"), slack, webhook);
    const broken: Problem = { file: "rollouts/ratings.yaml", line: 9, column: 7, path: "spec.steps[0].setWeight", message: "expected an integer from 0 to 100, found 150" };

    await announcer.announce(standingProblems(outcome("synced", "a".repeat(40), [broken]), namespace));
    await announcer.announce(standingProblems(outcome("unverified", "b".repeat(40), [], { reason: "the commit is not signed" }), namespace));
    await announcer.announce(standingProblems(outcome("synced", "c".repeat(40), [broken]), namespace));
    // The unsigned commit is pushed again (a force push back): it is told again, in the log at least.
    await announcer.announce(standingProblems(outcome("unverified", "b".repeat(40), [], { reason: "the commit is not signed" }), namespace));

    await slack.waitForPosts(2);
    await sleep(1_000);
    expect(slack.delivered().map(textOf)).toEqual([
      "rollouts/ratings.yaml:9:7: spec.steps[0].setWeight: expected an integer from 0 to 100, found 150",
      "commit bbbbbbb not applied: the commit is not signed",
    ]);
    expect(logLines.filter((l) => l.msg.startsWith("invalid Rollout file:"))).toHaveLength(1);
    expect(logLines.filter((l) => l.msg.startsWith("commit signature not verified"))).toHaveLength(2);
  });
});
