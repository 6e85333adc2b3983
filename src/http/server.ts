/** The controller's HTTP port: webhooks, /metrics, /healthz and /readyz. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { verifyWebhook, type WebhookProvider } from "./webhooks.js";

export interface HttpServerOptions {
  /** "host:port" or ":port". */
  listen: string;
  registry: Registry;
  webhookSecret: string;
  /** Largest webhook body accepted. */
  maxBodyBytes?: number;
  /** Called for each authentic push (to the watched branch, when the payload names one). */
  onPush: (provider: WebhookProvider) => Promise<void>;
  /** The branch syncs follow; pushes to other branches are acknowledged and ignored. */
  branch: string;
  /** Readiness: everything the controller needs is connected. */
  ready: () => Promise<string | undefined>;
  log: (level: "info" | "warn", message: string, fields?: Record<string, unknown>) => void;
}

const PROVIDERS: Record<string, WebhookProvider> = { "/webhooks/github": "github", "/webhooks/gitlab": "gitlab", "/webhooks/generic": "generic" };

export async function startHttpServer(options: HttpServerOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.log("warn", "http handler failed", { error: error instanceof Error ? error.message : String(error) });
      if (!response.headersSent) reply(response, 500, "internal error");
    });
  });

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
    const provider = PROVIDERS[path];
    if (!provider) return reply(response, 404, "not found");
    if (request.method !== "POST") return reply(response, 405, "POST only");
    const body = await readBody(request, maxBody);
    if (body === undefined) return reply(response, 413, `body over ${maxBody} bytes`);
    const verdict = verifyWebhook(provider, options.webhookSecret, request.headers, body);
    if (!verdict.ok) {
      options.log("warn", "webhook refused", { provider, reason: verdict.reason, remote: request.socket.remoteAddress });
      return reply(response, 401, verdict.reason);
    }
    if (verdict.branch && verdict.branch !== options.branch) return reply(response, 202, `ignored: push to ${verdict.branch}`);
    if (verdict.reason === "ping") return reply(response, 200, "pong");
    await options.onPush(provider);
    return reply(response, 202, "sync queued");
  }

  server.requestTimeout = 30_000;
  const [host, port] = parseListen(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    port: address.port,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function reply(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  response.end(`${text}\n`);
}

/** The body, or undefined when it passes `limit` (the rest is not read). */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"] ?? "0");
    if (declared > limit) {
      request.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk); // past the limit, drain without keeping
    });
    request.on("end", () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

export function parseListen(listen: string): [string, number] {
  const match = /^(.*):(\d+)$/.exec(listen);
  if (!match) throw new Error(`--listen: expected host:port or :port, found "${listen}"`);
  const host = match[1] || "0.0.0.0";
  return [host.replace(/^\[|\]$/g, ""), Number(match[2])];
}
