/**
 * The dashboard's HTTP side: the page, its files, a server-sent event stream of the board's
 * changes, and one POST per button. `tideway dashboard` serves it on its own port, reading and
 * writing as the kubeconfig's user; the controller serves the same handler on its port, where
 * `access` asks the API server about each button's bearer token (see access.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { giveCommand } from "../kube/commands.js";
import { kubeError } from "../kube/errors.js";
import type { RolloutStore } from "../kube/rollouts.js";
import { userAccess, type DashboardAccess } from "./access.js";
import { actionCommand } from "./actions.js";
import type { PageAssets } from "./assets.js";
import type { Board, BoardChange } from "./board.js";
import { allowedHosts, DashboardSessions } from "./session.js";

export interface DashboardHandlerOptions {
  board: Board;
  assets: PageAssets;
  /** Who the buttons act as, and through which client. */
  access: DashboardAccess;
  log: (line: string) => void;
}

/** The page, its stream and its buttons, for any HTTP server: `tideway dashboard`'s own, or the controller's port. */
export interface DashboardHandler {
  /** Whether `path` is the dashboard's (the page, /assets/, /api/). */
  owns(path: string): boolean;
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
  /** The Host names answered, once the port is known: `allowedHosts(...)`. */
  answerHosts(names: Iterable<string>): void;
  /** Ends the live streams. */
  close(): void;
}

export interface DashboardServerOptions {
  host: string;
  port: number;
  board: Board;
  assets: PageAssets;
  rollouts: RolloutStore;
  /** Recorded as `tideway.io/by` with each command. */
  user: string;
  /** More Host names to answer besides the loopback ones (e.g. behind a port-forward under another name). */
  allowHosts?: string[];
  log: (line: string) => void;
}

export interface DashboardServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A comment line this often keeps proxies and the browser from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;
const BODY_LIMIT = 4096;

const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { ...SECURITY_HEADERS, ...headers, "content-type": "application/json; charset=utf-8" });
  response.end(`${JSON.stringify(body)}\n`);
}

async function readJson(request: IncomingMessage): Promise<{ reason?: string } | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) return undefined;
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
    const reason = (body as { reason?: unknown }).reason;
    if (reason !== undefined && typeof reason !== "string") return undefined;
    return reason === undefined ? {} : { reason };
  } catch {
    return undefined;
  }
}

export function createDashboardHandler(options: DashboardHandlerOptions): DashboardHandler {
  const { board, assets, access } = options;
  const hosts = new Set<string>(); // filled once the port is known
  const sessions = new DashboardSessions(hosts);
  const streams = new Set<ServerResponse>();

  const stream = (request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
    const write = (event: string, data: unknown) => response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    write("snapshot", { rollouts: board.views(), problem: board.problem() ?? null, user: access.user ?? null, access: access.kind });
    const unsubscribe = board.subscribe((change: BoardChange) => {
      if (change.kind === "rollout") write("rollout", change.view);
      else if (change.kind === "removed") write("removed", { namespace: change.namespace, name: change.name });
      else write("problem", { problem: change.problem ?? null });
    });
    const heartbeat = setInterval(() => response.write(": still here\n\n"), HEARTBEAT_MS);
    streams.add(response);
    request.on("close", () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(response);
    });
  };

  const act = async (request: IncomingMessage, response: ServerResponse, namespace: string, name: string, action: string) => {
    const refused = sessions.refuseWrite(request.headers);
    if (refused) return send(response, 403, { error: refused });
    const allowed = await access.authorize(request.headers, { namespace, name, action });
    if (!allowed.ok) {
      request.resume();
      return send(response, allowed.status, { error: allowed.error }, allowed.status === 401 ? { "www-authenticate": 'Bearer realm="tideway"' } : {});
    }
    const { by, rollouts } = allowed;
    const body = await readJson(request);
    if (body === undefined) return send(response, 400, { error: `expected a JSON object {"reason": "..."} of at most ${BODY_LIMIT} bytes` });
    const command = actionCommand(action, body.reason);
    if (!command.ok) return send(response, command.status, { error: command.error });
    try {
      await giveCommand(rollouts, { namespace, name, command: command.command, value: command.value, by });
    } catch (error) {
      const failure = kubeError(error, `${action} ${namespace}/${name}`);
      const status = failure.code === 404 ? 404 : failure.code === 403 ? 403 : 502;
      return send(response, status, { error: failure.code === 404 ? `Rollout ${namespace}/${name} not found` : failure.message });
    }
    options.log(`${namespace}/${name}: ${action} by ${by}${body.reason ? `: ${body.reason}` : ""}`);
    return send(response, 202, { namespace, name, action, command: command.command, value: command.value, by });
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const refusedHost = sessions.refuseHost(request.headers);
    if (refusedHost) return send(response, 403, { error: refusedHost });
    const path = new URL(request.url ?? "/", "http://dashboard").pathname;
    const actionPath = /^\/api\/rollouts\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    if (actionPath) {
      if (request.method !== "POST") return send(response, 405, { error: "POST only" });
      const [namespace, name, action] = actionPath.slice(1).map((part) => decodeURIComponent(part)) as [string, string, string];
      return act(request, response, namespace, name, action);
    }
    if (request.method !== "GET" && request.method !== "HEAD") return send(response, 405, { error: "GET only" });
    if (path === "/") {
      const session = sessions.session(request.headers);
      response.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8", ...(session.cookie ? { "set-cookie": session.cookie } : {}) });
      response.end(assets.page(session.token));
      return;
    }
    if (path === "/api/rollouts") return send(response, 200, { rollouts: board.views(), problem: board.problem() ?? null });
    if (path === "/api/stream") return stream(request, response);
    const asset = assets.asset(path);
    if (asset) {
      response.writeHead(200, { ...SECURITY_HEADERS, "content-type": asset.type });
      response.end(asset.body);
      return;
    }
    return send(response, 404, { error: `not found: ${path}` });
  };

  return {
    owns: (path) => path === "/" || path.startsWith("/api/") || path.startsWith("/assets/"),
    handle,
    answerHosts: (names) => {
      for (const name of names) hosts.add(name);
    },
    close: () => {
      for (const response of streams) response.end();
    },
  };
}

export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const dashboard = createDashboardHandler({ board: options.board, assets: options.assets, access: userAccess(options.user, options.rollouts), log: options.log });
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 15_000 }, (request, response) => {
    dashboard.handle(request, response).catch((error: unknown) => {
      options.log(`request failed: ${error instanceof Error ? error.message : String(error)}`);
      if (!response.headersSent) send(response, 500, { error: "internal error" });
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  dashboard.answerHosts(allowedHosts(options.host, port, options.allowHosts ?? []));
  const shownHost = options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    close: () =>
      new Promise((resolve) => {
        dashboard.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
