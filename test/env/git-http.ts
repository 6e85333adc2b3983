/**
 * A git server over HTTP that wants a token, as GitHub and GitLab do: git's own `http-backend`
 * (CGI) behind a small Node server that answers 401 unless HTTP Basic carries the token as the
 * password (any user name, like GitHub's `x-access-token:<token>`).
 */
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname } from "node:path";

export interface GitHttpRequest {
  method: string;
  path: string;
  /** 401 when the token was missing or wrong. */
  status: number;
}

export interface GitHttpServer {
  /** The repository's URL, without credentials. */
  url: string;
  /** Every request the server answered, in order. */
  requests: GitHttpRequest[];
  stop(): Promise<void>;
}

const BACKEND = "/usr/lib/git-core/git-http-backend";

/** Serves the bare repository at `repoPath` (e.g. a GitRemote's `url`) to clients that send `token`. */
export async function startGitHttpServer(repoPath: string, options: { token: string }): Promise<GitHttpServer> {
  const requests: GitHttpRequest[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const record = (status: number) => requests.push({ method: request.method ?? "", path: url.pathname, status });
    if (passwordOf(request.headers.authorization) !== options.token) {
      record(401);
      response.writeHead(401, { "WWW-Authenticate": 'Basic realm="tideway test git"', "Content-Type": "text/plain" });
      response.end("authentication required\n");
      request.resume();
      return;
    }
    record(200);
    runBackend(repoPath, url, request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${basename(repoPath)}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function passwordOf(header: string | undefined): string | undefined {
  const encoded = /^Basic\s+(\S+)$/i.exec(header ?? "")?.[1];
  if (!encoded) return undefined;
  const pair = Buffer.from(encoded, "base64").toString("utf8");
  const colon = pair.indexOf(":");
  return colon < 0 ? undefined : pair.slice(colon + 1);
}

/** Runs git http-backend for one request: CGI variables in, the request body on stdin, headers + body out. */
function runBackend(repoPath: string, url: URL, request: IncomingMessage, response: ServerResponse): void {
  const header = (name: string) => {
    const value = request.headers[name];
    return typeof value === "string" ? value : undefined;
  };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    GIT_PROJECT_ROOT: dirname(repoPath),
    GIT_HTTP_EXPORT_ALL: "1",
    REQUEST_METHOD: request.method ?? "GET",
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ""),
    REMOTE_ADDR: request.socket.remoteAddress ?? "127.0.0.1",
  };
  // Read-only on purpose: without REMOTE_USER, http-backend refuses pushes.
  const optional: [string, string | undefined][] = [
    ["CONTENT_TYPE", header("content-type")],
    ["CONTENT_LENGTH", header("content-length")],
    ["HTTP_CONTENT_ENCODING", header("content-encoding")],
    ["GIT_PROTOCOL", header("git-protocol")],
  ];
  for (const [name, value] of optional) if (value !== undefined) env[name] = value;
  const backend = spawn(BACKEND, [], { env, stdio: ["pipe", "pipe", "pipe"] });
  backend.stdin.on("error", () => undefined); // the backend may exit before reading the whole body
  request.pipe(backend.stdin);
  let stderr = "";
  backend.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  let head = Buffer.alloc(0);
  let headersSent = false;
  backend.stdout.on("data", (chunk: Buffer) => {
    if (headersSent) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) return;
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    response.writeHead(status, headers);
    headersSent = true;
    response.write(head.subarray(end + 4));
  });
  backend.on("close", (code) => {
    if (!headersSent) {
      response.writeHead(500, { "Content-Type": "text/plain" });
      response.write(`git http-backend exited with ${code}: ${stderr}`);
    }
    response.end();
  });
  backend.on("error", (error) => {
    if (!headersSent) response.writeHead(500, { "Content-Type": "text/plain" });
    response.end(String(error));
  });
}
