/**
 * Promote and Abort pressed in Slack, end to end: a real controller with a Slack app's signing
 * secret posts buttons to the local Slack receiver; presses are signed here as Slack signs them
 * (HMAC-SHA256 with node:crypto, independently of src/) and sent to its /slack/actions.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSlackReceiver, waitUntil, type SlackPost, type SlackReceiver } from "../env/index.js";
import { createWorld, type World } from "./release-harness.js";
import { kubeConfig } from "./services.js";

const SIGNING_SECRET = "slack-signing-secret-do-not-log-5c1e9a";
const GATED = ["- setWeight: 20", "- pause: {}"];
/** No analysis (a gate is the last step: a promote there promotes), and who may press the buttons. */
const APPROVERS = ["  notifications:", "    slack:", '      approvers: [U0ANA, "@bob"]'].join("\n");

const ANA = { id: "U0ANA", username: "ana" };
const BOB = { id: "U0BOB", username: "bob" };
const EVE = { id: "U0EVE", username: "eve" };

interface SlackBody {
  text: string;
  blocks: { type: string; elements?: { action_id?: string; value?: string }[] }[];
}

let world: World;
let slack: SlackReceiver;
let secretDir: string;

beforeAll(async () => {
  secretDir = mkdtempSync(join(tmpdir(), "tideway-slack-secret-"));
  const secretFile = join(secretDir, "signing-secret");
  writeFileSync(secretFile, `${SIGNING_SECRET}\n`);
  slack = await startSlackReceiver();
  world = await createWorld({ controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl }, controllerArgs: ["--slack-signing-secret-file", secretFile] });
  await world.release("v1", { analysis: APPROVERS });
  await world.waitForStatus((s) => s.phase === "Healthy");
}, 120_000);

afterAll(async () => {
  await world?.stop();
  await slack?.stop();
  rmSync(secretDir, { recursive: true, force: true });
});

/** The last message delivered whose text matches, once it is there. */
async function message(text: RegExp): Promise<SlackBody> {
  let found: SlackBody | undefined;
  await waitUntil(
    `a Slack message matching ${text}`,
    async () => {
      found = slack
        .delivered()
        .map((p) => p.body as SlackBody)
        .findLast((b) => text.test(b.text));
      return found !== undefined;
    },
    { timeoutMs: 20_000 },
  );
  return found as SlackBody;
}

function buttonValue(body: SlackBody, actionId: string): string {
  const button = body.blocks.flatMap((b) => (b.type === "actions" ? (b.elements ?? []) : [])).find((e) => e.action_id === actionId);
  if (button?.value === undefined) throw new Error(`no ${actionId} button in ${JSON.stringify(body)}`);
  return button.value;
}

interface Press {
  status: number;
  text: string;
  responseUrl: string;
  /** Sends the very same request again (same body, timestamp and signature), to this controller or another replica. */
  replay(url?: string): Promise<{ status: number; text: string }>;
}

/** Presses a button as Slack reports it: a signed form post of a block_actions payload. */
async function press(
  actionId: string,
  value: string,
  user: { id: string; username: string },
  options: { message?: SlackBody; secret?: string; ageSeconds?: number; unsigned?: boolean } = {},
): Promise<Press> {
  const responseUrl = slack.responseUrl();
  const payload = {
    type: "block_actions",
    user: { ...user, name: user.username, team_id: "T000TEST" },
    api_app_id: "A000TEST",
    team: { id: "T000TEST", domain: "test" },
    container: { type: "message", message_ts: "1764768000.000100", channel_id: "C000TEST" },
    trigger_id: "1.2.3",
    response_url: responseUrl,
    actions: [{ action_id: actionId, block_id: "tideway", value, type: "button", action_ts: "1764768001.000200" }],
    ...(options.message ? { message: options.message } : {}),
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000) - (options.ageSeconds ?? 0));
  const signature = `v0=${createHmac("sha256", options.secret ?? SIGNING_SECRET)
    .update(`v0:${timestamp}:${body}`)
    .digest("hex")}`;
  const headers = { "content-type": "application/x-www-form-urlencoded", ...(options.unsigned ? {} : { "x-slack-request-timestamp": timestamp, "x-slack-signature": signature }) };
  const send = async (url = world.controller.url) => {
    const response = await fetch(`${url}/slack/actions`, { method: "POST", headers, body });
    return { status: response.status, text: (await response.text()).trim() };
  };
  return { ...(await send()), responseUrl, replay: (url) => send(url) };
}

async function answer(responseUrl: string): Promise<{ text: string; replace_original?: boolean; response_type?: string; blocks?: { type: string }[] }> {
  let posts: SlackPost[] = [];
  await waitUntil("the answer at the response_url", async () => (posts = slack.answersTo(responseUrl)).length > 0, { timeoutMs: 30_000 });
  expect(posts).toHaveLength(1);
  return posts[0]?.body as { text: string };
}

/** What a press could have changed: the release's state, the commands recorded, Tideway's annotations. */
async function snapshot() {
  const object = await world.rollouts.get(world.namespace, "reviews");
  const status = await world.status();
  return {
    phase: status?.phase,
    step: status?.step,
    canaryWeight: status?.canaryWeight,
    stableVersion: status?.stableVersion,
    commands: status?.commands.map((c) => c.id),
    annotations: Object.keys(object.metadata.annotations ?? {}).filter((k) => /^tideway\.io\/(abort|promote|pause|resume|retry|by|claimed)$/.test(k)),
  };
}

describe("Slack buttons", () => {
  let gate: SlackBody;

  it("put Promote and Abort on a manual gate's message", async () => {
    await world.release("v2", { steps: GATED, analysis: APPROVERS });
    await world.waitForStatus((s) => s.phase === "Paused" && s.release?.pauseReason === "gate");
    gate = await message(/^reviews v2: paused, waiting at step 2\/2/);
    expect(JSON.parse(buttonValue(gate, "tideway-promote"))).toEqual({ rollout: { namespace: world.namespace, name: "reviews" }, release: 1, version: "v2", step: "2/2" });
    expect(buttonValue(gate, "tideway-abort")).toBe(buttonValue(gate, "tideway-promote"));
    // The running canary's messages carry them too; the adoption of v1 does not.
    expect(buttonValue(await message(/^reviews v2: step 1\/2, 20% to canary$/), "tideway-abort")).toContain('"release":1');
    expect((await message(/^reviews: v1 adopted/)).blocks.some((b) => b.type === "actions")).toBe(false);
  });

  it("refuse forged, stale, unsigned and unknown presses and people not among the approvers, changing nothing", async () => {
    const before = await snapshot();
    const value = buttonValue(gate, "tideway-promote");
    expect(await press("tideway-promote", value, ANA, { secret: "a-guessed-secret" })).toMatchObject({ status: 401, text: "invalid signature" });
    expect(await press("tideway-promote", value, ANA, { ageSeconds: 6 * 60 })).toMatchObject({ status: 401, text: "stale timestamp: more than 5 minutes from now" });
    expect(await press("tideway-promote", value, ANA, { unsigned: true })).toMatchObject({ status: 401, text: "missing X-Slack-Signature or X-Slack-Request-Timestamp" });

    const eve = await press("tideway-promote", value, EVE, { message: gate });
    expect(eve.status).toBe(200);
    expect(await answer(eve.responseUrl)).toEqual({
      response_type: "ephemeral",
      replace_original: false,
      text: `@eve may not promote reviews in ${world.namespace}: its notifications.slack.approvers does not name you. Nothing was changed.`,
    });
    const unknown = await press("deploy-everything", value, ANA, { message: gate });
    expect(unknown.status).toBe(200);
    expect((await answer(unknown.responseUrl)).text).toBe("Tideway does not know this button (deploy-everything). Nothing was changed.");
    const forgedValue = await press("tideway-abort", "not json", ANA, { message: gate });
    expect((await answer(forgedValue.responseUrl)).text).toBe("Tideway does not know this button (tideway-abort). Nothing was changed.");
    expect(await snapshot()).toEqual(before);
  });

  let promoted: Press;

  it("Promote at the gate, pressed by two people at once, promotes the release once and updates the message with who pressed it", async () => {
    const value = buttonValue(gate, "tideway-promote");
    const [byAna, byBob] = await Promise.all([press("tideway-promote", value, ANA, { message: gate }), press("tideway-promote", value, BOB, { message: gate })]);
    expect([byAna.status, byBob.status]).toEqual([200, 200]);
    const status = await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2");
    expect(status.history.at(-1)).toMatchObject({ version: "v2", outcome: "promoted" });
    const promotes = status.commands.filter((c) => c.command === "promote");
    expect(promotes).toHaveLength(1);
    expect(promotes[0]).toMatchObject({ value: "step", source: "annotation", result: "completed step 2/2" });
    const winner = promotes[0]?.user === "slack:@ana (U0ANA)" ? "ana" : "bob";
    expect(promotes[0]?.user).toBe(winner === "ana" ? "slack:@ana (U0ANA)" : "slack:@bob (U0BOB)");
    promoted = winner === "ana" ? byAna : byBob;
    await world.waitForWeights((w) => w.v2 === 100);
    const updated = await answer(promoted.responseUrl);
    expect(updated).toMatchObject({ replace_original: true, text: `Promoted by @${winner}: completed step 2/2` });
    // The message keeps what it said, loses its buttons and says who pressed one.
    expect(JSON.stringify(updated.blocks)).toContain("waiting at step 2/2");
    expect(updated.blocks?.some((b) => b.type === "actions")).toBe(false);
    expect(updated.blocks?.at(-1)).toEqual({ type: "context", elements: [{ type: "mrkdwn", text: `Promoted by @${winner}: completed step 2/2` }] });
    // The other press is told it came second (or, if it came after the promotion, that the release moved on).
    const other = await answer((winner === "ana" ? byBob : byAna).responseUrl);
    expect(other).toMatchObject({ response_type: "ephemeral" });
    expect(other.text).toMatch(new RegExp(`^(@${winner} already pressed Promote on this message of reviews v2\\. Nothing more was changed\\.|this release has moved on: .*)$`));
    expect((await snapshot()).annotations).toEqual([]);
  });

  it("the same request replayed is refused, by any replica, and a button of a release that moved on changes nothing", async () => {
    const before = await snapshot();
    expect(await promoted.replay()).toEqual({ status: 409, text: "replayed: a request with this signature was already handled" });
    const replica = await world.startReplica();
    try {
      expect(await promoted.replay(replica.url)).toEqual({ status: 409, text: "replayed: a request with this signature was already handled" });
    } finally {
      await replica.stop();
    }
    const stale = await press("tideway-abort", buttonValue(gate, "tideway-abort"), BOB, { message: gate });
    expect(stale.status).toBe(200);
    expect((await answer(stale.responseUrl)).text).toMatch(/^this release has moved on: reviews v2 \(release #1\) is no longer in flight; reviews is Healthy on v2 .*Nothing was changed\.$/);
    expect(await snapshot()).toEqual(before);
  });

  it("Abort sends all traffic back to stable, and a button of the release before says it moved on", async () => {
    await world.release("v3", { steps: GATED, analysis: APPROVERS });
    await world.waitForStatus((s) => s.phase === "Paused" && s.canaryVersion === "v3");
    const v3Gate = await message(/^reviews v3: paused, waiting at step 2\/2/);
    const old = await press("tideway-promote", buttonValue(gate, "tideway-promote"), ANA, { message: gate });
    expect((await answer(old.responseUrl)).text).toBe("this release has moved on: reviews is releasing v3 (release #2) now, not reviews v2 (release #1). Nothing was changed.");
    expect((await world.status())?.phase).toBe("Paused");

    const abort = await press("tideway-abort", buttonValue(v3Gate, "tideway-abort"), BOB, { message: v3Gate });
    expect(abort.status).toBe(200);
    const status = await world.waitForStatus((s) => s.phase === "Aborted");
    expect(status).toMatchObject({ stableVersion: "v2", canaryWeight: 0 });
    expect(status.history.at(-1)).toMatchObject({ version: "v3", outcome: "aborted", reason: "aborted from Slack by slack:@bob (U0BOB)" });
    await world.waitForWeights((w) => w.v2 === 100 && (w.v3 ?? 0) === 0);
    expect(await answer(abort.responseUrl)).toMatchObject({ replace_original: true, text: "Abort requested by @bob: aborted from Slack (aborted v3)" });
  });

  it("never show the signing secret in logs, status, Events or messages", async () => {
    const object = await world.rollouts.get(world.namespace, "reviews");
    const events = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: world.namespace });
    expect(events.items.length).toBeGreaterThan(0);
    for (const [where, text] of [
      ["the controller's output", world.controller.output.join("\n")],
      ["the Rollout", JSON.stringify(object)],
      ["the Events", JSON.stringify(events.items)],
      ["Slack", JSON.stringify(slack.posts.map((p) => p.body))],
    ] as const) {
      expect(text, where).not.toContain(SIGNING_SECRET);
    }
    expect(world.controller.logs().some((l) => l.msg === "slack press: command written")).toBe(true);
  });
});
