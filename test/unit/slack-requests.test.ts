/**
 * Slack's request signatures and block_actions payloads, as the /slack/actions endpoint checks
 * and reads them; and the endpoint itself on a real socket.
 */
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { parseButtonPress, slackSignature, verifySlackRequest, type SlackButtonPress } from "../../src/http/slack-requests.js";
import { startHttpServer } from "../../src/http/server.js";

const SECRET = "tideway-test-signing-secret-8f3e";
const TIMESTAMP = "1764768000";
const BODY = "payload=%7B%22type%22%3A%22block_actions%22%7D";
/**
 * Computed independently of this code, with OpenSSL:
 *   printf '%s' 'v0:1764768000:payload=%7B%22type%22%3A%22block_actions%22%7D' | openssl dgst -sha256 -hmac 'tideway-test-signing-secret-8f3e'
 *   SHA2-256(stdin)= 7f23956b140f0a6f7fa47585f6c31ea854c1fd5bc9ea72873badf76b01827151
 */
const KNOWN_SIGNATURE = "v0=7f23956b140f0a6f7fa47585f6c31ea854c1fd5bc9ea72873badf76b01827151";
const NOW = Number(TIMESTAMP);

const headers = (signature: string, timestamp = TIMESTAMP) => ({ "x-slack-signature": signature, "x-slack-request-timestamp": timestamp });

describe("Slack request signatures", () => {
  it("match the known answer computed with openssl", () => {
    expect(slackSignature(SECRET, TIMESTAMP, Buffer.from(BODY))).toBe(KNOWN_SIGNATURE);
    expect(verifySlackRequest(SECRET, headers(KNOWN_SIGNATURE), Buffer.from(BODY), NOW)).toEqual({ ok: true, signature: KNOWN_SIGNATURE });
  });

  it.each([
    ["another secret", headers(slackSignature("another-secret", TIMESTAMP, BODY)), BODY, "invalid signature"],
    ["a changed body", headers(KNOWN_SIGNATURE), BODY.replace("block", "black"), "invalid signature"],
    ["a timestamp changed after signing", headers(KNOWN_SIGNATURE, String(NOW - 1)), BODY, "invalid signature"],
    ["an upper-case hex signature", headers(KNOWN_SIGNATURE.toUpperCase().replace("V0", "v0")), BODY, "invalid signature"],
    ["a truncated signature", headers(KNOWN_SIGNATURE.slice(0, 20)), BODY, "invalid signature"],
    ["no v0= prefix", headers(KNOWN_SIGNATURE.slice(3)), BODY, "invalid signature"],
    ["no signature", { "x-slack-request-timestamp": TIMESTAMP }, BODY, "missing X-Slack-Signature or X-Slack-Request-Timestamp"],
    ["no timestamp", { "x-slack-signature": KNOWN_SIGNATURE }, BODY, "missing X-Slack-Signature or X-Slack-Request-Timestamp"],
    ["a timestamp that is not a number", headers(KNOWN_SIGNATURE, "yesterday"), BODY, "X-Slack-Request-Timestamp is not a Unix time in seconds"],
  ])("refuse %s", (_, requestHeaders, body, reason) => {
    expect(verifySlackRequest(SECRET, requestHeaders, Buffer.from(body), NOW)).toEqual({ ok: false, reason });
  });

  it.each([
    ["signed 5 minutes ago", NOW + 300, true],
    ["signed 5 minutes and 1 second ago", NOW + 301, false],
    ["signed 5 minutes ahead of our clock", NOW - 300, true],
    ["signed 5 minutes and 1 second ahead of our clock", NOW - 301, false],
  ])("accept a request %s only within 5 minutes: %s", (_, now, accepted) => {
    const verdict = verifySlackRequest(SECRET, headers(KNOWN_SIGNATURE), Buffer.from(BODY), now);
    expect(verdict.ok).toBe(accepted);
    if (!verdict.ok) expect(verdict.reason).toBe("stale timestamp: more than 5 minutes from now");
  });

  it("never put the secret or the expected signature in a refusal", () => {
    const verdict = verifySlackRequest(SECRET, headers("v0=00"), Buffer.from(BODY), NOW);
    expect(JSON.stringify(verdict)).not.toContain(SECRET);
    expect(JSON.stringify(verdict)).not.toContain(KNOWN_SIGNATURE.slice(3));
  });
});

function form(payload: unknown): Buffer {
  return Buffer.from(new URLSearchParams({ payload: typeof payload === "string" ? payload : JSON.stringify(payload) }).toString());
}

const PRESS = {
  type: "block_actions",
  user: { id: "U024BE7LH", username: "ana", name: "ana", team_id: "T0" },
  response_url: "https://hooks.slack.com/actions/T0/123/abc",
  actions: [{ action_id: "tideway-promote", block_id: "tideway-2", value: '{"x":1}', type: "button", action_ts: "1" }],
  message: { text: "reviews v2: paused", blocks: [{ type: "section" }, { type: "actions" }] },
  trigger_id: "1.2.3",
};

describe("Slack block_actions payloads", () => {
  it("give the action, its value, the user and where to answer", () => {
    expect(parseButtonPress(form(PRESS))).toEqual({
      actionId: "tideway-promote",
      value: '{"x":1}',
      user: { id: "U024BE7LH", username: "ana" },
      responseUrl: "https://hooks.slack.com/actions/T0/123/abc",
      message: { text: "reviews v2: paused", blocks: [{ type: "section" }, { type: "actions" }] },
    });
  });

  it.each([
    ["no payload field", Buffer.from("foo=bar"), "expected a form field payload (application/x-www-form-urlencoded)"],
    ["a payload that is not JSON", form("{not json"), "payload is not JSON"],
    ["another interaction type", form({ ...PRESS, type: "view_submission" }), 'unsupported interaction type "view_submission": only block_actions (buttons) are handled'],
    ["no actions", form({ ...PRESS, actions: [] }), "unreadable block_actions payload at actions"],
    ["a response_url that is not http(s)", form({ ...PRESS, response_url: "file:///etc/passwd" }), "unreadable block_actions payload at response_url"],
    ["no user", form({ ...PRESS, user: undefined }), "unreadable block_actions payload at user"],
  ])("are refused with %s", (_, body, error) => {
    expect(parseButtonPress(body)).toEqual({ error });
  });
});

describe("the /slack/actions endpoint", () => {
  const running: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const server of running.splice(0)) await server.close();
  });

  async function start(withSlack: boolean) {
    const presses: SlackButtonPress[] = [];
    const seen = new Set<string>();
    const logs: string[] = [];
    const http = await startHttpServer({
      listen: "127.0.0.1:0",
      registry: new Registry(),
      webhookSecret: "",
      branch: "main",
      onPush: () => Promise.resolve(),
      ready: () => Promise.resolve(undefined),
      log: (level, message, fields) => logs.push(JSON.stringify({ level, message, fields })),
      ...(withSlack
        ? {
            slack: {
              signingSecret: SECRET,
              nowSeconds: () => NOW,
              firstSighting: (signature: string) => {
                const first = !seen.has(signature);
                seen.add(signature);
                return Promise.resolve(first);
              },
              onPress: (press: SlackButtonPress) => {
                presses.push(press);
                return Promise.resolve();
              },
            },
          }
        : {}),
    });
    running.push(http);
    const post = async (body: Buffer, signature = slackSignature(SECRET, TIMESTAMP, body), timestamp = TIMESTAMP) => {
      const response = await fetch(`http://127.0.0.1:${http.port}/slack/actions`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers(signature, timestamp) },
        body,
      });
      return { status: response.status, text: (await response.text()).trim() };
    };
    return { post, presses, logs };
  }

  it("acts on a signed press once and refuses the same request again", async () => {
    const { post, presses } = await start(true);
    const body = form(PRESS);
    expect(await post(body)).toEqual({ status: 200, text: "" });
    expect(presses).toHaveLength(1);
    expect(await post(body)).toEqual({ status: 409, text: "replayed: a request with this signature was already handled" });
    expect(presses).toHaveLength(1);
  });

  it("refuses forged and stale requests without acting, and logs neither the secret nor the signature", async () => {
    const { post, presses, logs } = await start(true);
    const body = form(PRESS);
    const forged = slackSignature("guessed-secret", TIMESTAMP, body);
    expect(await post(body, forged)).toEqual({ status: 401, text: "invalid signature" });
    const old = String(NOW - 600);
    expect(await post(body, slackSignature(SECRET, old, body), old)).toEqual({ status: 401, text: "stale timestamp: more than 5 minutes from now" });
    expect(presses).toEqual([]);
    expect(logs.join("\n")).toContain("invalid signature");
    expect(logs.join("\n")).not.toContain(SECRET);
    expect(logs.join("\n")).not.toContain(forged.slice(3));
  });

  it("answers 400 to a signed request it cannot read, and 404 when Slack is not configured", async () => {
    const { post, presses } = await start(true);
    expect(await post(form("{"))).toEqual({ status: 400, text: "payload is not JSON" });
    expect(presses).toEqual([]);
    const off = await start(false);
    expect(await off.post(form(PRESS))).toEqual({ status: 404, text: "Slack interactivity is not configured: start the controller with --slack-signing-secret-file" });
  });
});
