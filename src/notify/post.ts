/**
 * One HTTP POST of a notification, classified for retrying. The URL is a secret (Slack's token
 * is in its path), so no result carries the URL, a response body from an unknown server, or an
 * error message that might quote either.
 */

export type PostResult =
  | { outcome: "delivered"; status: number }
  /** 429, 408, 5xx or no response: try again, after `retryAfterMs` when the server said so. */
  | { outcome: "retry"; status: number | "unreachable"; retryAfterMs?: number; reason?: string }
  /** Any other answer: the request itself is wrong (revoked webhook, bad payload); retrying cannot help. */
  | { outcome: "rejected"; status: number; reason?: string };

export interface PostOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Read an error code such as "invalid_blocks" from the response (Slack answers with one). */
  readErrorCode?: boolean;
}

/** A Retry-After beyond this is treated as this: a misbehaving proxy must not park notifications for days. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

export async function postJson(url: string, body: unknown, options: PostOptions = {}, now: () => number = Date.now): Promise<PostResult> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { ...options.headers, "content-type": "application/json" },
      body: JSON.stringify(body),
      // A redirect would resend the body somewhere else; it is answered as a rejection instead.
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    return { outcome: "retry", status: "unreachable", reason: errorCode(error) };
  }
  const text = await response.text().catch(() => "");
  const status = response.status;
  if (status >= 200 && status < 300) return { outcome: "delivered", status };
  const reason = options.readErrorCode ? slackErrorCode(text) : undefined;
  const extra = reason !== undefined ? { reason } : {};
  if (status === 429 || status === 408 || status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), now());
    return { outcome: "retry", status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), ...extra };
  }
  return { outcome: "rejected", status, ...extra };
}

/** Retry-After in milliseconds, from seconds ("2") or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const text = header.trim();
  // Seconds, or an HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT"); Date.parse alone would take "-1" as a year.
  const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : /^[A-Za-z]{3},/.test(text) ? Date.parse(text) - now : NaN;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, Math.ceil(ms)), MAX_RETRY_AFTER_MS);
}

/** "ECONNREFUSED", "TimeoutError": what went wrong, without the address it went wrong with. */
function errorCode(error: unknown): string {
  if (!(error instanceof Error)) return "unknown";
  const cause = error.cause;
  const code = cause !== null && typeof cause === "object" && "code" in cause ? cause.code : undefined;
  const candidate = typeof code === "string" ? code : error.name;
  return /^[A-Za-z_]{1,40}$/.test(candidate) ? candidate : "unknown";
}

/** Slack answers a bad post with a bare code ("invalid_blocks", "no_service"); anything else is not kept. */
function slackErrorCode(text: string): string | undefined {
  const trimmed = text.trim();
  return /^[a-z_]{1,64}$/.test(trimmed) ? trimmed : undefined;
}
