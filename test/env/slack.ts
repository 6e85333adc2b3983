import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** Where response_urls point: Slack's own are https://hooks.slack.com/actions/<team>/<id>/<token>. */
const ACTIONS_PATH = "/actions/";

export interface SlackPost {
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  status: number;
  receivedAt: number;
}

export interface SlackReceiver {
  /** An incoming-webhook URL on this receiver, e.g. http://127.0.0.1:port/services/T/B/X */
  webhookUrl: string;
  /** Every post received, in order, including the ones answered with an error. */
  posts: SlackPost[];
  /** Incoming-webhook posts answered with 200: what a Slack channel would show (answers to button presses excepted). */
  delivered(): SlackPost[];
  /**
   * A new response_url, as Slack puts one in each button press's payload (e.g.
   * http://127.0.0.1:port/actions/T000TEST/3/k2j4h5): what is posted there answers that press.
   */
  responseUrl(): string;
  /** The posts to `responseUrl`, in order. */
  answersTo(responseUrl: string): SlackPost[];
  /** Answers the next `count` posts with `status` (429 carries Retry-After: `retryAfterSeconds`). */
  failNext(count: number, status: 429 | 500, retryAfterSeconds?: number): void;
  waitForPosts(count: number, timeoutMs?: number): Promise<SlackPost[]>;
  stop(): Promise<void>;
}

/**
 * A local HTTP server in Slack's place that records what an incoming webhook receives, and what
 * is posted to the response_url of a button press (to update the message or answer the presser).
 */
export async function startSlackReceiver(): Promise<SlackReceiver> {
  const posts: SlackPost[] = [];
  const failures: { status: 429 | 500; retryAfterSeconds: number }[] = [];
  const waiters = new Set<() => void>();
  let responseUrls = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the raw text
      }
      const failure = request.method === "POST" ? failures.shift() : undefined;
      const status = request.method !== "POST" ? 405 : (failure?.status ?? 200);
      posts.push({ path: request.url ?? "/", headers: request.headers, body, status, receivedAt: Date.now() });
      for (const wake of waiters) wake();
      if (status === 429) response.setHeader("Retry-After", String(failure?.retryAfterSeconds ?? 1));
      response.writeHead(status, { "content-type": "text/plain" });
      response.end(status === 200 ? "ok" : status === 429 ? "rate_limited" : "internal_error");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    webhookUrl: `http://127.0.0.1:${port}/services/T000TEST/B000TEST/testsecrettoken`,
    posts,
    delivered: () => posts.filter((p) => p.status === 200 && !p.path.startsWith(ACTIONS_PATH)),
    responseUrl: () => `http://127.0.0.1:${port}${ACTIONS_PATH}T000TEST/${++responseUrls}/${randomBytes(6).toString("hex")}`,
    answersTo: (responseUrl) => posts.filter((p) => p.path === new URL(responseUrl).pathname),
    failNext(count, status, retryAfterSeconds = 1) {
      for (let i = 0; i < count; i++) failures.push({ status, retryAfterSeconds });
    },
    waitForPosts(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (posts.length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(posts.slice(0, count));
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`expected ${count} Slack posts within ${timeoutMs} ms, got ${posts.length}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
