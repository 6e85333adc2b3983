/**
 * Git push webhooks: GitHub (X-Hub-Signature-256), GitLab (X-Gitlab-Token) and a generic HMAC
 * endpoint (X-Tideway-Signature: sha256=<hex of HMAC-SHA256(body)>). A valid push asks for a sync.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export type WebhookProvider = "github" | "gitlab" | "generic";

export interface WebhookVerdict {
  ok: boolean;
  /** Why it was refused, safe to return to the caller (never the secret). */
  reason: string;
  /** The branch the push was to, when the payload says. */
  branch?: string;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function hmacMatches(secret: string, body: Buffer, signature: string | undefined): boolean {
  if (!signature?.startsWith("sha256=")) return false;
  const expected = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
  return safeEqual(expected, signature);
}

/** Checks a webhook delivery's authenticity and reads the pushed branch. */
export function verifyWebhook(provider: WebhookProvider, secret: string, headers: IncomingHttpHeaders, body: Buffer): WebhookVerdict {
  if (!secret) return { ok: false, reason: "webhook secret not configured" };
  let authentic: boolean;
  if (provider === "github") authentic = hmacMatches(secret, body, header(headers, "x-hub-signature-256"));
  else if (provider === "gitlab") authentic = safeEqual(secret, header(headers, "x-gitlab-token") ?? "");
  else authentic = hmacMatches(secret, body, header(headers, "x-tideway-signature"));
  if (!authentic) return { ok: false, reason: "invalid signature" };
  const event = header(headers, "x-github-event") ?? header(headers, "x-gitlab-event");
  if (event === "ping") return { ok: true, reason: "ping" };
  const branch = pushedBranch(body);
  return { ok: true, reason: "push", ...(branch ? { branch } : {}) };
}

function pushedBranch(body: Buffer): string | undefined {
  try {
    const payload: unknown = JSON.parse(body.toString("utf8"));
    if (typeof payload === "object" && payload !== null && "ref" in payload && typeof payload.ref === "string") {
      return payload.ref.replace(/^refs\/heads\//, "");
    }
  } catch {
    // not JSON: a generic webhook may send anything
  }
  return undefined;
}
