/** The controller's HTTP port: webhooks, Slack's button presses, /metrics, /healthz, /readyz and, with --dashboard, the dashboard. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { DashboardHandler } from "../dashboard/server.js";
import { RefusalLog } from "./refusals.js";
import { parseButtonPress, SLACK_MAX_AGE_SECONDS, verifySlackRequest, type SlackButtonPress } from "./slack-requests.js";
import { verifyWebhook, type WebhookProvider } from "./webhooks.js";

/** What one client may hold: a port open to the internet must not be held open by slow or silent clients. */
export interface HttpLimits {
  /** Connections open at once; more are closed as they arrive. */
  maxConnections: number;
  /** Time for a request's headers to arrive. */
  headersTimeoutMs: number;
  /** Time for a whole request, body included, to arrive; a client that sends part of it gets a 408 and is closed. */
  requestTimeoutMs: number;
  /** How long an idle kept-alive connection stays open. */
  keepAliveTimeoutMs: number;
}

/** Git hosts send a webhook within their own 10 s timeout; Prometheus scrapes and probes need a few connections. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxConnections: 256, headersTimeoutMs: 10_000, requestTimeoutMs: 15_000, keepAliveTimeoutMs: 5_000 };

/** Refused webhooks are logged as counts once per this interval (the first one at once). */
export const REFUSAL_LOG_INTERVAL_MS = 60_000;

export interface HttpServerOptions {
  /** "host:port" or ":port". */
  listen: string;
  registry: Registry;
  webhookSecret: string;
  /** Largest webhook body accepted. */
  maxBodyBytes?: number;
  /** DEFAULT_HTTP_LIMITS where not given. */
  limits?: Partial<HttpLimits>;
  /** Called for each authentic push (to the watched branch, when the payload names one). */
  onPush: (provider: WebhookProvider) => Promise<void>;
  /** The branch syncs follow; pushes to other branches are acknowledged and ignored. */
  branch: string;
  /** `/slack/actions`, the interactivity endpoint of a Slack app; answered 404 without it. */
  slack?: SlackInteractivity;
  /** The dashboard's page, stream and buttons (`/`, `/assets/`, `/api/`), with --dashboard. */
  dashboard?: Pick<DashboardHandler, "owns" | "handle">;
  /** Readiness: everything the controller needs is connected. */
  ready: () => Promise<string | undefined>;
  log: (level: "info" | "warn", message: string, fields?: Record<string, unknown>) => void;
}

export interface SlackInteractivity {
  /** The Slack app's signing secret. */
  signingSecret: string;
  /**
   * True the first time `signature` is seen within `ttlSeconds`, false for a replay; shared by
   * every replica (Redis), so a request replayed to another one is refused too.
   */
  firstSighting: (signature: string, ttlSeconds: number) => Promise<boolean>;
  /** Acts on an authentic press; answers the presser through its response_url, not through this request. */
  onPress: (press: SlackButtonPress) => Promise<void>;
  /** The clock, in seconds; Date.now() by default. */
  nowSeconds?: () => number;
}

/** A signature is remembered while a request carrying it could still be accepted: 5 minutes each side of its timestamp. */
const SEEN_TTL_SECONDS = 2 * SLACK_MAX_AGE_SECONDS + 60;

const PROVIDERS: Record<string, WebhookProvider> = { "/webhooks/github": "github", "/webhooks/gitlab": "gitlab", "/webhooks/generic": "generic" };

export async function startHttpServer(options: HttpServerOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  const refusals = new RefusalLog((fields) => options.log("warn", "webhooks refused", fields), REFUSAL_LOG_INTERVAL_MS);
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node looks for expired requests this often (30 s by default, which doubles the timeouts).
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    (request, response) => {
      handle(request, response).catch((error: unknown) => {
        options.log("warn", "http handler failed", { error: error instanceof Error ? error.message : String(error) });
        if (!response.headersSent) reply(response, 500, "internal error");
      });
    },
  );

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    if (path === "/healthz") return reply(response, 200, "ok");
    if (path === "/readyz") {
      const problem = await options.ready();
      return problem ? reply(response, 503, problem) : reply(response, 200, "ready");
    }
    if (path === "/metrics") {
      response.writeHead(200, { "content-type": options.registry.contentType });
      response.end(await options.registry.metrics());
      return;
    }
    if (path === "/slack/actions") return handleSlack(request, response);
    if (options.dashboard?.owns(path)) return options.dashboard.handle(request, response);
    const provider = PROVIDERS[path];
    if (!provider) return reply(response, 404, "not found");
    if (request.method !== "POST") return reply(response, 405, "POST only");
    const body = await readBody(request, maxBody);
    // The client went away (or was cut off by the request timeout): nobody to answer, nothing to log.
    if (body === "aborted") return;
    if (body === "too-large") return reply(response, 413, `body over ${maxBody} bytes`);
    const verdict = verifyWebhook(provider, options.webhookSecret, request.headers, body);
    if (!verdict.ok) {
      refusals.record(provider, verdict.reason, request.socket.remoteAddress);
      return reply(response, 401, verdict.reason);
    }
    if (verdict.branch && verdict.branch !== options.branch) return reply(response, 202, `ignored: push to ${verdict.branch}`);
    if (verdict.reason === "ping") return reply(response, 200, "pong");
    await options.onPush(provider);
    return reply(response, 202, "sync queued");
  }

  /** A button press: signed by Slack, not seen before, then acted on; Slack wants the 200 within 3 s. */
  async function handleSlack(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const slack = options.slack;
    if (!slack) return reply(response, 404, "Slack interactivity is not configured: start the controller with --slack-signing-secret-file");
    if (request.method !== "POST") return reply(response, 405, "POST only");
    const body = await readBody(request, maxBody);
    if (body === "aborted") return;
    if (body === "too-large") return reply(response, 413, `body over ${maxBody} bytes`);
    const verdict = verifySlackRequest(slack.signingSecret, request.headers, body, slack.nowSeconds?.() ?? Math.floor(Date.now() / 1000));
    if (!verdict.ok) {
      refusals.record("slack", verdict.reason, request.socket.remoteAddress);
      return reply(response, 401, verdict.reason);
    }
    if (!(await slack.firstSighting(verdict.signature, SEEN_TTL_SECONDS))) {
      refusals.record("slack", "replayed", request.socket.remoteAddress);
      return reply(response, 409, "replayed: a request with this signature was already handled");
    }
    const press = parseButtonPress(body);
    if ("error" in press) return reply(response, 400, press.error);
    await slack.onPress(press);
    // Slack shows nothing of this answer for a button; the presser hears back through the response_url.
    response.writeHead(200);
    response.end();
  }

  server.maxConnections = limits.maxConnections;
  const [host, port] = parseListen(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    port: address.port,
    close: () =>
      new Promise((resolve) => {
        refusals.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reply(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  response.end(`${text}\n`);
}

/** The body; "too-large" when it passes `limit` (the rest is not kept); "aborted" when the client went away first. */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | "too-large" | "aborted"> {
  return new Promise((resolve) => {
    const declared = Number(request.headers["content-length"] ?? "0");
    if (declared > limit) {
      request.resume();
      resolve("too-large");
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk); // past the limit, drain without keeping
    });
    request.on("end", () => resolve(size > limit ? "too-large" : Buffer.concat(chunks)));
    // "error" (aborted, reset) or a close before "end"; once settled, a later resolve is a no-op.
    request.on("error", () => resolve("aborted"));
    request.on("close", () => resolve("aborted"));
  });
}

export function parseListen(listen: string): [string, number] {
  const match = /^(.*):(\d+)$/.exec(listen);
  if (!match) throw new Error(`--listen: expected host:port or :port, found "${listen}"`);
  const host = match[1] || "0.0.0.0";
  return [host.replace(/^\[|\]$/g, ""), Number(match[2])];
}
