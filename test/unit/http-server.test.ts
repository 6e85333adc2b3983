/**
 * The controller's HTTP port against real sockets on loopback: clients that never finish a
 * request are cut off, connections beyond the cap are refused, refused webhooks are counted.
 */
import { createHmac } from "node:crypto";
import { connect, type Socket } from "node:net";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RefusalLog, type RefusalCount } from "../../src/http/refusals.js";
import { startHttpServer, type HttpLimits } from "../../src/http/server.js";

const SECRET = "webhook-secret-do-not-log-4711";
/** Generous: the machine is noisy; what matters is that it happens at all. */
const BOUND_MS = 15_000;

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

const running: { close(): Promise<void> }[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of running.splice(0)) await server.close();
});

async function start(limits: Partial<HttpLimits> = {}) {
  const lines: LogLine[] = [];
  const http = await startHttpServer({
    listen: "127.0.0.1:0",
    registry: new Registry(),
    webhookSecret: SECRET,
    branch: "main",
    limits,
    onPush: () => Promise.resolve(),
    ready: () => Promise.resolve(undefined),
    log: (level, message, fields) => lines.push({ level, message, fields }),
  });
  running.push(http);
  const connections = () => new Promise<number>((resolve, reject) => http.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
  return { ...http, lines, connections, url: `http://127.0.0.1:${http.port}` };
}

/** A raw client: sends `text`, reads whatever comes back, and tells when the server closed it. */
function rawClient(port: number, text: string) {
  const socket = connect(port, "127.0.0.1", () => socket.write(text));
  sockets.push(socket);
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  return { socket, closed, received: () => received };
}

/** Whether `promise` settles within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + BOUND_MS;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not within ${BOUND_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const PARTIAL_BODY = 'POST /webhooks/github HTTP/1.1\r\nHost: tideway\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"ref":';

describe("a client that never finishes its request", () => {
  it.each([
    ["declares a body and sends only part of it", PARTIAL_BODY, false],
    ["sends part of its headers", "POST /webhooks/github HTTP/1.1\r\nHost: tideway\r\nX-Hub-Sig", false],
    ["sends its body one byte at a time, for ever", PARTIAL_BODY, true],
  ])("is disconnected after the request timeout when it %s", async (_, text, dribble) => {
    const http = await start({ headersTimeoutMs: 500, requestTimeoutMs: 1_000 });
    const client = rawClient(http.port, text);
    const drip = dribble ? setInterval(() => client.socket.write(" "), 100) : undefined;
    try {
      expect(await within(client.closed, BOUND_MS)).toBe(true);
    } finally {
      clearInterval(drip);
    }
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(http.lines).toEqual([]); // a client that gave up is not the controller's failure
    expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
  });
});

describe("the connection cap", () => {
  it("refuses connections beyond it, and /healthz answers again once the others go", async () => {
    const http = await start({ maxConnections: 3, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
    const held = [1, 2, 3].map(() => rawClient(http.port, PARTIAL_BODY));
    await eventually("three connections held open", async () => (await http.connections()) === 3);

    const extra = rawClient(http.port, PARTIAL_BODY);
    expect(await within(extra.closed, BOUND_MS)).toBe(true);
    expect(extra.received()).toBe("");
    await expect(fetch(`${http.url}/healthz`)).rejects.toThrow();
    for (const client of held) expect(await within(client.closed, 0)).toBe(false);

    for (const client of held) client.socket.destroy();
    await eventually("/healthz answers", async () => (await fetch(`${http.url}/healthz`)).status === 200);
  });

  it("is 256 connections unless configured", async () => {
    const http = await start();
    expect(http.server.maxConnections).toBe(256);
  });
});

describe("refused webhooks", () => {
  it("are logged as one line at once and one with the rest, counted by provider and reason, never with the secret or signature", async () => {
    const http = await start();
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const signature = `sha256=${createHmac("sha256", "not-the-secret").update(body).digest("hex")}`;
    const statuses: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const sent = Array.from({ length: 10 }, (_, i) =>
        batch * 10 + i < 90
          ? fetch(`${http.url}/webhooks/github`, { method: "POST", body, headers: { "x-github-event": "push", "x-hub-signature-256": signature } })
          : fetch(`${http.url}/webhooks/gitlab`, { method: "POST", body, headers: { "x-gitlab-token": "wrong-token-1234" } }),
      );
      for (const response of await Promise.all(sent)) statuses.push(response.status);
    }
    expect(statuses).toEqual(Array.from({ length: 100 }, () => 401));
    const warnings = () => http.lines.filter((line) => line.level === "warn");
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ message: "webhooks refused", fields: { total: 1, refused: [{ provider: "github", reason: "invalid signature", count: 1 }] } });

    await http.close(); // the count not yet logged is logged at shutdown
    expect(warnings()).toHaveLength(2);
    expect(warnings()[1]).toMatchObject({
      message: "webhooks refused",
      fields: {
        total: 99,
        refused: [
          { provider: "github", reason: "invalid signature", count: 89 },
          { provider: "gitlab", reason: "invalid signature", count: 10 },
        ],
      },
    });
    const logged = JSON.stringify(http.lines);
    for (const secret of [SECRET, signature, signature.slice(7), "wrong-token-1234"]) expect(logged).not.toContain(secret);
  });
});

describe("the refusal log", () => {
  it("writes the first refusal at once, then one line per interval, and at once again after a quiet interval", () => {
    vi.useFakeTimers();
    try {
      const lines: { refused: RefusalCount[]; total: number; remotes: string[] }[] = [];
      const log = new RefusalLog((fields) => lines.push(fields), 60_000);
      log.record("github", "invalid signature", "10.0.0.1");
      expect(lines).toEqual([{ refused: [{ provider: "github", reason: "invalid signature", count: 1 }], total: 1, remotes: ["10.0.0.1"], intervalMs: 60_000 }]);
      for (let i = 0; i < 5; i++) log.record("generic", "webhook secret not configured", `10.0.0.${i}`);
      log.record("github", "invalid signature", "10.0.0.9");
      expect(lines).toHaveLength(1);
      vi.advanceTimersByTime(60_000);
      expect(lines[1]).toEqual({
        refused: [
          { provider: "generic", reason: "webhook secret not configured", count: 5 },
          { provider: "github", reason: "invalid signature", count: 1 },
        ],
        total: 6,
        remotes: ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"],
        intervalMs: 60_000,
      });
      vi.advanceTimersByTime(120_000); // a quiet interval: nothing to write
      expect(lines).toHaveLength(2);
      log.record("gitlab", "invalid signature", undefined);
      expect(lines[2]).toMatchObject({ total: 1, refused: [{ provider: "gitlab", count: 1 }] });
      log.close();
      expect(lines).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
