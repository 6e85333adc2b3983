import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { NOTIFY_QUEUE, NotificationQueue, type NotificationQueueOptions, type NotifyLogFields } from "../../src/notify/delivery.js";
import { redisConnection } from "../../src/queue/redis.js";
import type { ReleaseEvent } from "../../src/rollout/engine.js";
import { startSlackReceiver, waitUntil, type SlackPost, type SlackReceiver } from "../env/index.js";
import { services, uniqueName } from "./services.js";

const STEPS = [
  ["started", "reviews v2: canary started (stable v1)"],
  ["step", "reviews v2: step 1/5, 10% to canary"],
  ["step", "reviews v2: step 3/5, 50% to canary"],
  ["paused", "reviews v2: paused, waiting at a manual gate"],
  ["promoted", "reviews v2 promoted: 100% of traffic, now stable (was v1)"],
] as const;

function releaseEvents(first = 1): ReleaseEvent[] {
  return STEPS.map(([kind, message], i) => ({
    id: String(first + i),
    kind,
    severity: "normal",
    message,
    rollout: { name: "reviews", namespace: "bookinfo" },
    version: "v2",
    stableVersion: "v1",
    releaseId: 1,
    details: {},
  }));
}

const textOf = (post: SlackPost) => (post.body as { text: string }).text;

interface Harness {
  queue: NotificationQueue;
  prefix: string;
  logLines: string[];
}

const open: { queue: NotificationQueue; connection: Redis; receivers: SlackReceiver[] }[] = [];

afterEach(async () => {
  for (const { queue, connection, receivers } of open.splice(0)) {
    await queue.close();
    connection.disconnect();
    for (const receiver of receivers) await receiver.stop();
  }
});

/** A started NotificationQueue on the real Redis, under a prefix of its own, with fast retries. */
async function startQueue(options: Partial<NotificationQueueOptions>, receivers: SlackReceiver[]): Promise<Harness> {
  const connection = redisConnection(services().redisUrl);
  const logLines: string[] = [];
  const prefix = uniqueName("notify");
  const queue = new NotificationQueue({
    connection,
    prefix,
    minBackoffMs: 10,
    maxBackoffMs: 200,
    log: (level: string, message: string, fields: NotifyLogFields) => logLines.push(JSON.stringify({ level, message, ...fields })),
    ...options,
  });
  open.push({ queue, connection, receivers });
  await queue.start();
  return { queue, prefix, logLines };
}

async function enqueueAll(queue: NotificationQueue, events: ReleaseEvent[]): Promise<void> {
  for (const event of events) await queue.enqueue(event);
}

describe("Slack notifications through the queue", () => {
  it("delivers a release's events once each, in the order they happened", async () => {
    const slack = await startSlackReceiver();
    const { queue } = await startQueue({ slack: { webhookUrl: slack.webhookUrl } }, [slack]);

    await enqueueAll(queue, releaseEvents());
    await slack.waitForPosts(5);

    expect(slack.delivered().map(textOf)).toEqual(STEPS.map(([, message]) => message));
    expect(slack.posts[0]?.body).toMatchObject({ blocks: expect.arrayContaining([expect.objectContaining({ type: "header" })]) });
  });

  it("posts an event enqueued twice only once", async () => {
    const slack = await startSlackReceiver();
    const { queue } = await startQueue({ slack: { webhookUrl: slack.webhookUrl } }, [slack]);
    const [started, firstStep] = releaseEvents();
    if (!started || !firstStep) throw new Error("fixture");

    await queue.enqueue(started);
    await queue.enqueue(started);
    await slack.waitForPosts(1);
    await queue.enqueue(started);
    // Events arrive in order, so once the next one is here a duplicate would have arrived before it.
    await queue.enqueue(firstStep);
    await slack.waitForPosts(2);

    expect(slack.posts.map(textOf)).toEqual([started.message, firstStep.message]);
  });

  it("names the event in an Idempotency-Key header, the same on every try, and marks it delivered", async () => {
    const slack = await startSlackReceiver();
    const { queue, prefix } = await startQueue({ slack: { webhookUrl: slack.webhookUrl } }, [slack]);
    const [started] = releaseEvents();
    if (!started) throw new Error("fixture");
    slack.failNext(1, 500);

    await queue.enqueue(started);
    await waitUntil("a post after the 500", async () => slack.delivered().length === 1, { timeoutMs: 10_000 });

    expect(slack.posts.map((p) => [p.status, p.headers["idempotency-key"]])).toEqual([
      [500, "bookinfo/reviews/1"],
      [200, "bookinfo/reviews/1"],
    ]);
    const connection = redisConnection(services().redisUrl);
    try {
      expect(await connection.exists(`${prefix}:notify-delivered:slack:bookinfo/reviews/1`)).toBe(1);
    } finally {
      connection.disconnect();
    }
  });

  it("does not post again an event that an earlier run of its job delivered (a replica died before recording it done)", async () => {
    const slack = await startSlackReceiver();
    const { queue, prefix, logLines } = await startQueue({ slack: { webhookUrl: slack.webhookUrl } }, [slack]);
    const [started, firstStep] = releaseEvents();
    if (!started || !firstStep) throw new Error("fixture");
    // What a run that posted and died leaves: the mark. The 500 makes this job run a second time.
    const connection = redisConnection(services().redisUrl);
    try {
      await connection.set(`${prefix}:notify-delivered:slack:bookinfo/reviews/1`, "1");
    } finally {
      connection.disconnect();
    }
    slack.failNext(1, 500);

    await queue.enqueue(started);
    await queue.enqueue(firstStep);
    await waitUntil("the next event posted", async () => slack.delivered().length === 1, { timeoutMs: 10_000 });

    expect(slack.posts.map((p) => [p.status, textOf(p)])).toEqual([
      [500, started.message],
      [200, firstStep.message],
    ]);
    expect(logLines.some((l) => l.includes("delivered by an earlier run of its job") && l.includes('"attempt":2'))).toBe(true);
  });

  it("waits out a 429 for as long as Retry-After says, and keeps the order", async () => {
    const slack = await startSlackReceiver();
    const { queue } = await startQueue({ slack: { webhookUrl: slack.webhookUrl } }, [slack]);
    slack.failNext(1, 429, 2);

    await enqueueAll(queue, releaseEvents().slice(0, 3));
    const posts = await slack.waitForPosts(4, 15_000);

    expect(posts.map((p) => p.status)).toEqual([429, 200, 200, 200]);
    const [limited, retried] = posts;
    expect(retried!.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(2_000);
    expect(slack.delivered().map(textOf)).toEqual(STEPS.slice(0, 3).map(([, message]) => message));
  });

  it("rides out twenty 500s in a row: every message still arrives exactly once, in order", async () => {
    const slack = await startSlackReceiver();
    const { queue } = await startQueue({ slack: { webhookUrl: slack.webhookUrl } }, [slack]);
    slack.failNext(20, 500);

    await enqueueAll(queue, releaseEvents());
    await slack.waitForPosts(25, 30_000);

    expect(slack.posts.filter((p) => p.status === 500)).toHaveLength(20);
    expect(slack.delivered().map(textOf)).toEqual(STEPS.map(([, message]) => message));
  });

  it("posts to the Rollout's channel, or else to the configured one", async () => {
    const slack = await startSlackReceiver();
    const { queue } = await startQueue({ slack: { webhookUrl: slack.webhookUrl, channel: "#releases" } }, [slack]);
    const [started] = releaseEvents();
    if (!started) throw new Error("fixture");

    await queue.enqueue(started);
    await slack.waitForPosts(1);

    expect(slack.posts[0]?.body).toMatchObject({ channel: "#releases" });
  });
});

describe("a webhook Slack has revoked", () => {
  it("is tried once per event, logged as rejected with Slack's reason, and does not hold up the queue", async () => {
    // Slack answers a deleted incoming webhook with 404 "no_service"; the receiver only fakes 429 and 500.
    const received: string[] = [];
    const revoked = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        received.push(request.url ?? "");
        response.writeHead(404, { "content-type": "text/plain" }).end("no_service");
      });
    });
    await new Promise<void>((resolve) => revoked.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(revoked.address() as AddressInfo).port}/services/T000/B000/revokedtoken`;
      const { queue, logLines } = await startQueue({ slack: { webhookUrl: url } }, []);

      await enqueueAll(queue, releaseEvents().slice(0, 2));
      await waitUntil("both events rejected", async () => logLines.filter((l) => l.includes("rejected")).length === 2, { timeoutMs: 10_000, intervalMs: 20 });

      expect(received).toHaveLength(2);
      expect(logLines.map((l) => JSON.parse(l) as unknown)).toEqual([
        expect.objectContaining({ level: "error", target: "slack", status: 404, reason: "no_service", event: "bookinfo/reviews/1", attempt: 1 }),
        expect.objectContaining({ level: "error", target: "slack", status: 404, reason: "no_service", event: "bookinfo/reviews/2", attempt: 1 }),
      ]);
      for (const line of logLines) expect(line).not.toContain("revokedtoken");
    } finally {
      revoked.closeAllConnections();
      await new Promise((resolve) => revoked.close(resolve));
    }
  });
});

describe("a generic webhook target", () => {
  it("receives each event as a JSON body with its headers, alongside Slack", async () => {
    const slack = await startSlackReceiver();
    const hook = await startSlackReceiver();
    const { queue } = await startQueue(
      {
        slack: { webhookUrl: slack.webhookUrl },
        webhook: { url: hook.webhookUrl, headers: { authorization: "Bearer hook-token-1234" } },
      },
      [slack, hook],
    );
    const [started] = releaseEvents();
    if (!started) throw new Error("fixture");

    await queue.enqueue(started, { commit: { sha: "1a2b3c4d5e6f", author: "Ann", subject: "Release reviews v2" } });
    const [post] = await hook.waitForPosts(1);
    await slack.waitForPosts(1);

    expect(post?.headers["authorization"]).toBe("Bearer hook-token-1234");
    expect(post?.headers["content-type"]).toBe("application/json");
    expect(post?.body).toEqual({
      id: "bookinfo/reviews/1",
      kind: "started",
      severity: "normal",
      message: started.message,
      rollout: "reviews",
      namespace: "bookinfo",
      version: "v2",
      stableVersion: "v1",
      releaseId: 1,
      details: {},
      commit: { sha: "1a2b3c4d5e6f", author: "Ann", subject: "Release reviews v2" },
    });
  });

  it("is not held back by Slack being down", async () => {
    const slack = await startSlackReceiver();
    const hook = await startSlackReceiver();
    const { queue } = await startQueue({ slack: { webhookUrl: slack.webhookUrl }, webhook: { url: hook.webhookUrl }, minBackoffMs: 5_000, maxBackoffMs: 5_000 }, [slack, hook]);
    slack.failNext(1, 500);

    await enqueueAll(queue, releaseEvents().slice(0, 2));
    await hook.waitForPosts(2);

    expect(slack.delivered()).toHaveLength(0);
  });
});

describe("the webhook URLs are secrets", () => {
  it("never appear in a log line, through 429s, 500s and a target that cannot be reached", async () => {
    const slack = await startSlackReceiver();
    const gone = await startSlackReceiver();
    await gone.stop();
    const { queue, prefix, logLines } = await startQueue(
      {
        slack: { webhookUrl: slack.webhookUrl },
        webhook: { url: gone.webhookUrl, headers: { authorization: "Bearer hook-token-1234" } },
        maxAttempts: 3,
      },
      [slack],
    );
    slack.failNext(1, 429, 1);
    slack.failNext(1, 500);
    const [started] = releaseEvents();
    if (!started) throw new Error("fixture");

    await queue.enqueue(started);
    await slack.waitForPosts(3);
    const logged = () => logLines.map((l) => JSON.parse(l) as { message: string; target: string; status?: unknown });
    await waitUntil(
      "Slack delivered and the unreachable webhook given up",
      async () => {
        const lines = logged();
        return lines.some((l) => l.target === "slack" && l.status === 200) && lines.some((l) => l.message === "notification dropped after 3 attempts");
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    );

    expect(logged().map((l) => l.status)).toEqual(expect.arrayContaining([429, 500, 200, "unreachable"]));
    // The drop is logged just before BullMQ moves the job to the failed set.
    const failed = new Queue(`${NOTIFY_QUEUE}-webhook`, { connection: redisConnection(services().redisUrl), prefix });
    let reasons: string[] = [];
    await expect.poll(async () => (reasons = (await failed.getFailed()).map((job) => job.failedReason)), { timeout: 10_000 }).toEqual(["webhook unavailable after 3 attempts (last: unreachable)"]);
    await failed.close();
    for (const secret of [slack.webhookUrl, gone.webhookUrl, "testsecrettoken", "/services/", "hook-token-1234"]) {
      for (const line of [...logLines, ...reasons]) expect(line).not.toContain(secret);
    }
  });
});

describe("a burst of adoptions and traffic failures in Slack", () => {
  const SUMMARY = { quietMs: 1_000, maxMs: 20_000 };

  function burstEvent(i: number, kind: "adopted" | "traffic-failed"): ReleaseEvent {
    const name = `svc-${i}`;
    const message =
      kind === "adopted" ? `${name}: v1 adopted as stable, 100% of traffic` : `${name}: traffic not applied: no DestinationRule for host ${name} in namespace shop: subsets v1 are needed`;
    return {
      id: kind === "adopted" ? "1" : "2",
      kind,
      severity: kind === "adopted" ? "normal" : "warning",
      message,
      rollout: { name, namespace: "shop" },
      version: "v1",
      stableVersion: "v1",
      details: kind === "adopted" ? {} : { cause: "NoDestinationRule" },
    };
  }

  /** Two replicas: two queues, each on its own connection, sharing Redis and the prefix. */
  async function twoReplicas(slack: SlackReceiver, summary = SUMMARY): Promise<NotificationQueue[]> {
    const prefix = uniqueName("burst");
    const replicas: NotificationQueue[] = [];
    for (let i = 0; i < 2; i++) {
      const connection = redisConnection(services().redisUrl);
      const queue = new NotificationQueue({ connection, prefix, log: () => undefined, summary, slack: { webhookUrl: slack.webhookUrl } });
      open.push({ queue, connection, receivers: i === 0 ? [slack] : [] });
      await queue.start();
      replicas.push(queue);
    }
    return replicas;
  }

  it("posts 200 adoptions and 200 failures from two replicas as the first event and one summary", async () => {
    const slack = await startSlackReceiver();
    const replicas = await twoReplicas(slack);
    const events = Array.from({ length: 200 }, (_, i) => [burstEvent(i, "adopted"), burstEvent(i, "traffic-failed")]).flat();
    // Each replica announces half, at the same time; one announces some of the other's again (a replayed outbox).
    await Promise.all([
      (async () => {
        for (const [i, event] of events.entries()) if (i % 2 === 0) await replicas[0]!.enqueue(event);
      })(),
      (async () => {
        for (const [i, event] of events.entries()) if (i % 2 === 1 || i % 10 === 0) await replicas[1]!.enqueue(event);
      })(),
    ]);
    await slack.waitForPosts(2, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    const texts = slack.delivered().map(textOf);
    expect(texts).toHaveLength(2);
    expect(texts[0]).toBe("svc-0: v1 adopted as stable, 100% of traffic");
    expect(texts[1]).toBe("199 Rollouts adopted; 200 cannot route: no DestinationRule (svc-0, svc-1, svc-2, svc-3, svc-4 and 195 more)");
  });

  it("posts a lone adoption as it is, at once, and a quiet while later the next one as it is too", async () => {
    const slack = await startSlackReceiver();
    const summary = { quietMs: 500, maxMs: 1_500 };
    const [queue] = await twoReplicas(slack, summary);
    await queue!.enqueue(burstEvent(1, "adopted"));
    await slack.waitForPosts(1, 5_000);
    await new Promise((resolve) => setTimeout(resolve, summary.maxMs + 200));
    await queue!.enqueue(burstEvent(2, "adopted"));
    await queue!.enqueue(burstEvent(2, "traffic-failed"));
    await slack.waitForPosts(3, 10_000);

    expect(slack.delivered().map(textOf)).toEqual([
      "svc-1: v1 adopted as stable, 100% of traffic",
      "svc-2: v1 adopted as stable, 100% of traffic",
      // Alone in its batch: the failure's own post, after the burst went quiet.
      "svc-2: traffic not applied: no DestinationRule for host svc-2 in namespace shop: subsets v1 are needed",
    ]);
  });
});
