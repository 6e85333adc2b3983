/**
 * Requests from a Slack app's interactivity (a button pressed): Slack signs each with the app's
 * signing secret, `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>">`, and
 * sends the interaction as a form field `payload` holding JSON.
 * https://api.slack.com/authentication/verifying-requests-from-slack
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { z } from "zod";

/** A request signed longer ago than this (or this far in the future) is refused: a captured one cannot be sent again later. */
export const SLACK_MAX_AGE_SECONDS = 5 * 60;

export type SlackVerdict =
  /** `signature`: what a replay would carry again, to refuse it (see the replay check in server.ts). */
  | { ok: true; signature: string }
  /** `reason` is safe to answer and log: never the secret, the signature sent or the expected one. */
  | { ok: false; reason: string };

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Checks the timestamp (within SLACK_MAX_AGE_SECONDS of `nowSeconds`) and the signature, in constant time. */
export function verifySlackRequest(secret: string, headers: IncomingHttpHeaders, body: Buffer, nowSeconds: number): SlackVerdict {
  const timestamp = header(headers, "x-slack-request-timestamp");
  const signature = header(headers, "x-slack-signature");
  if (timestamp === undefined || signature === undefined) return { ok: false, reason: "missing X-Slack-Signature or X-Slack-Request-Timestamp" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "X-Slack-Request-Timestamp is not a Unix time in seconds" };
  if (Math.abs(nowSeconds - Number(timestamp)) > SLACK_MAX_AGE_SECONDS) return { ok: false, reason: "stale timestamp: more than 5 minutes from now" };
  const expected = Buffer.from(slackSignature(secret, timestamp, body));
  const sent = Buffer.from(signature);
  if (sent.length !== expected.length || !timingSafeEqual(sent, expected)) return { ok: false, reason: "invalid signature" };
  return { ok: true, signature };
}

/** "v0=<hex>": the signature Slack sends with a request of `body` at `timestamp`. */
export function slackSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:`).update(body).digest("hex")}`;
}

/** A button press, as much of Slack's block_actions payload as Tideway reads. */
export interface SlackButtonPress {
  actionId: string;
  value: string;
  user: { id: string; username?: string };
  /** Where to answer: replace the message, or tell the presser alone (valid 30 minutes). */
  responseUrl: string;
  /** The message the button was on, when Slack sends it: its blocks are kept when it is updated. */
  message?: { text?: string; blocks?: unknown[] };
}

const PayloadSchema = z.looseObject({
  type: z.literal("block_actions"),
  user: z.looseObject({ id: z.string().min(1).max(40), username: z.string().min(1).max(80).optional() }),
  response_url: z.url({ protocol: /^https?$/ }),
  actions: z.array(z.looseObject({ action_id: z.string().max(255), value: z.string().max(2000).optional() })).min(1),
  message: z.looseObject({ text: z.string().optional(), blocks: z.array(z.unknown()).optional() }).optional(),
});

/** The press a verified request carries, or why it cannot be read (safe to answer). */
export function parseButtonPress(body: Buffer): SlackButtonPress | { error: string } {
  const payload = new URLSearchParams(body.toString("utf8")).get("payload");
  if (payload === null) return { error: "expected a form field payload (application/x-www-form-urlencoded)" };
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return { error: "payload is not JSON" };
  }
  const type = typeof json === "object" && json !== null && "type" in json ? json.type : undefined;
  if (type !== "block_actions") return { error: `unsupported interaction type ${JSON.stringify(String(type)).slice(0, 40)}: only block_actions (buttons) are handled` };
  const parsed = PayloadSchema.safeParse(json);
  if (!parsed.success) return { error: `unreadable block_actions payload at ${parsed.error.issues[0]?.path.join(".") ?? "?"}` };
  const { user, response_url, actions, message } = parsed.data;
  const [action] = actions;
  return {
    actionId: action?.action_id ?? "",
    value: action?.value ?? "",
    user: { id: user.id, ...(user.username !== undefined ? { username: user.username } : {}) },
    responseUrl: response_url,
    ...(message !== undefined ? { message: { ...(message.text !== undefined ? { text: message.text } : {}), ...(message.blocks !== undefined ? { blocks: message.blocks } : {}) } } : {}),
  };
}
