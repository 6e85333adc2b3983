/**
 * Who may use the dashboard's API from a browser. The page is the only client meant to: every
 * request must name an allowed Host (a page on another site that rebinds its name to 127.0.0.1
 * cannot read or write), and every POST must come from the page's own origin and carry the
 * CSRF token that was served in the page for its session cookie.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export const SESSION_COOKIE = "tideway_dashboard";
export const CSRF_HEADER = "x-tideway-csrf";

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/** Host headers the dashboard answers: loopback names when it listens there (or everywhere), its own address, and `extra` names. */
export function allowedHosts(listenHost: string, port: number, extra: readonly string[] = []): Set<string> {
  const host = listenHost.includes(":") && !listenHost.startsWith("[") ? `[${listenHost}]` : listenHost;
  const wildcard = host === "0.0.0.0" || host === "[::]" || host === "";
  const names = new Set<string>();
  if (wildcard || LOOPBACK_NAMES.includes(host) || host.startsWith("127.")) for (const name of LOOPBACK_NAMES) names.add(`${name}:${port}`);
  if (!wildcard) names.add(`${host}:${port}`);
  for (const name of extra) names.add((/:\d+$/.test(name) ? name : `${name}:${port}`).toLowerCase());
  return names;
}

function cookie(headers: IncomingHttpHeaders, name: string): string | undefined {
  for (const part of (headers.cookie ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export class DashboardSessions {
  /** Lives as long as the process: a restarted dashboard asks the page to load again. */
  private readonly key = randomBytes(32);

  constructor(private readonly hosts: Set<string>) {}

  /** Why a request is refused on its Host, or undefined. */
  refuseHost(headers: IncomingHttpHeaders): string | undefined {
    const host = (headers.host ?? "").toLowerCase();
    return this.hosts.has(host) ? undefined : `Host "${host.slice(0, 100)}" is not this dashboard's (expected ${[...this.hosts].join(", ")}; add names with --allow-host)`;
  }

  /** The session a page load carries, or a new one; the token goes in the page, the id in an HttpOnly cookie. */
  session(headers: IncomingHttpHeaders): { id: string; token: string; cookie?: string } {
    const existing = cookie(headers, SESSION_COOKIE);
    const id = existing !== undefined && /^[A-Za-z0-9_-]{43}$/.test(existing) ? existing : randomBytes(32).toString("base64url");
    const fresh = id !== existing ? `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict` : undefined;
    return { id, token: this.token(id), ...(fresh ? { cookie: fresh } : {}) };
  }

  private token(sessionId: string): string {
    return createHmac("sha256", this.key).update(sessionId).digest("base64url");
  }

  /** Why a state-changing request is refused (Origin, session, token), or undefined. */
  refuseWrite(headers: IncomingHttpHeaders): string | undefined {
    const origin = headers.origin;
    if (origin !== `http://${(headers.host ?? "").toLowerCase()}`) return `Origin ${origin === undefined ? "missing" : `"${origin.slice(0, 100)}"`}: only the dashboard's own page may act`;
    if (headers["sec-fetch-site"] !== undefined && headers["sec-fetch-site"] !== "same-origin") return "cross-site request refused";
    const id = cookie(headers, SESSION_COOKIE);
    const sent = headers[CSRF_HEADER];
    if (id === undefined || typeof sent !== "string") return "no session or CSRF token: load the dashboard's page again";
    if (!sameText(sent, this.token(id))) return "CSRF token does not match this session: load the dashboard's page again";
    return undefined;
  }
}
