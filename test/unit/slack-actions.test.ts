/** The Promote and Abort buttons on Slack messages, and what a press of one comes to. */
import { describe, expect, it } from "vitest";
import { actionButtons, answeredBlocks, ButtonValueSchema, judgeAction, mayApprove, outcomeLine, slackUser, type ButtonValue } from "../../src/notify/slack-actions.js";
import type { SlackButton } from "../../src/notify/slack-blocks.js";
import { slackMessage } from "../../src/notify/slack-message.js";
import type { ReleaseEvent } from "../../src/rollout/engine.js";
import { RELEASE_EVENT_KINDS, RolloutSpecSchema, type ReleaseEventKind } from "../../src/rollout/schema.js";
import { emptyCounts, type RolloutStatus } from "../../src/rollout/status.js";

function event(kind: ReleaseEventKind, details: ReleaseEvent["details"] = {}): ReleaseEvent {
  return { id: "9", kind, severity: "normal", message: `reviews v2: ${kind}`, details, rollout: { name: "reviews", namespace: "bookinfo" }, version: "v2", stableVersion: "v1", releaseId: 7 };
}

const buttonsOf = (e: ReleaseEvent): SlackButton[] => {
  const block = actionButtons(e);
  return block?.type === "actions" ? block.elements : [];
};

describe("buttons on Slack messages", () => {
  it("a manual gate's message carries Promote and Abort, naming the Rollout, the release, its version and step", () => {
    const [promote, abort] = buttonsOf(event("paused", { reason: "gate", step: "2/4" }));
    expect(promote).toMatchObject({ action_id: "tideway-promote", text: { text: "Promote" }, style: "primary" });
    // At the gate a promote is what the release waits for: no dialog in the way.
    expect(promote?.confirm).toBeUndefined();
    expect(abort).toMatchObject({ action_id: "tideway-abort", text: { text: "Abort" }, style: "danger", confirm: { text: { text: "Sends 100% of traffic back to v1 and marks v2 aborted." } } });
    const value: ButtonValue = ButtonValueSchema.parse(JSON.parse(promote?.value ?? ""));
    expect(value).toEqual({ rollout: { namespace: "bookinfo", name: "reviews" }, release: 7, version: "v2", step: "2/4" });
    expect(abort?.value).toBe(promote?.value);
  });

  it.each([
    ["started", { steps: 4 }, "1/4"],
    ["step", { step: "1/4", weight: 20 }, "1/4"],
    ["resumed", { step: "3/4" }, "3/4"],
    ["waiting", { step: "3/4", waitingFor: "v2: 0/1 pods ready" }, "3/4"],
    ["paused", { reason: "inconclusive", step: "2/4" }, "2/4"],
  ] as const)("a running canary's %s message carries them, a promote confirmed first", (kind, details, step) => {
    const [promote, abort] = buttonsOf(event(kind, details));
    expect(JSON.parse(promote?.value ?? "")).toMatchObject({ step });
    expect(promote?.confirm?.text.text).toContain(`Completes step ${step} at once`);
    expect(abort?.action_id).toBe("tideway-abort");
  });

  it.each(RELEASE_EVENT_KINDS.filter((k) => !["started", "step", "resumed", "waiting", "paused"].includes(k)))("a %s message carries none", (kind) => {
    expect(actionButtons(event(kind))).toBeUndefined();
  });

  it("are posted only when the controller answers them (it has a signing secret)", () => {
    const gate = event("paused", { reason: "gate", step: "2/4" });
    expect(slackMessage(gate).blocks.some((b) => b.type === "actions")).toBe(false);
    expect(slackMessage(gate, {}, { buttons: true }).blocks.at(-1)?.type).toBe("actions");
  });
});

function status(overrides: Partial<RolloutStatus> = {}, release: Partial<NonNullable<RolloutStatus["release"]>> = {}): RolloutStatus {
  return {
    phase: "Paused",
    message: "v2 paused",
    stableVersion: "v1",
    canaryVersion: "v2",
    canaryWeight: 20,
    step: "2/4",
    releaseCount: 7,
    release: {
      id: 7,
      version: "v2",
      startedAt: "2026-12-03T10:00:00.000Z",
      stepIndex: 1,
      canaryWeight: 20,
      headerRoute: false,
      trafficApplied: true,
      stepChecks: emptyCounts(),
      checks: emptyCounts(),
      inconclusiveStreak: 0,
      errorStreak: 0,
      metrics: [],
      ...release,
    },
    conditions: [],
    history: [],
    commands: [],
    ...overrides,
  };
}

const BUTTON: ButtonValue = { rollout: { namespace: "bookinfo", name: "reviews" }, release: 7, version: "v2", step: "2/4" };
const ANA = { id: "U024BE7LH", username: "ana" };

describe("a press of a button", () => {
  it("promotes the step it was sent for, and records who pressed it", () => {
    expect(judgeAction({ action: "promote", button: BUTTON, presser: ANA, approvers: undefined, status: status(), exists: true })).toEqual({
      give: { command: "promote", value: "step", by: "slack:@ana (U024BE7LH)" },
    });
  });

  it("aborts the release it was sent for, from any step of it", () => {
    expect(judgeAction({ action: "abort", button: BUTTON, presser: ANA, approvers: undefined, status: status({ step: "3/4" }, { stepIndex: 2 }), exists: true })).toEqual({
      give: { command: "abort", value: "aborted from Slack", by: "slack:@ana (U024BE7LH)" },
    });
  });

  it.each([
    [
      "the release ended",
      status({ phase: "Healthy", stableVersion: "v2", message: "v2 promoted", release: undefined }),
      "abort",
      "this release has moved on: reviews v2 (release #7) is no longer in flight; reviews is Healthy on v2 (v2 promoted).",
    ],
    ["a newer version is releasing", status({}, { id: 8, version: "v3" }), "abort", "this release has moved on: reviews is releasing v3 (release #8) now, not reviews v2 (release #7)."],
    ["the same version was retried", status({}, { id: 8 }), "promote", "this release has moved on: reviews is releasing v2 (release #8) now, not reviews v2 (release #7)."],
    ["a promote's step is done", status({ step: "3/4" }, { stepIndex: 2 }), "promote", "this release has moved on: reviews v2 is at step 3/4 now, not 2/4; promote from its latest message."],
    ["the Rollout has no status", undefined, "promote", "this release has moved on: reviews v2 (release #7) is no longer in flight; reviews has no status yet."],
  ] as const)("changes nothing when %s", (_, live, action, answer) => {
    expect(judgeAction({ action, button: BUTTON, presser: ANA, approvers: undefined, status: live, exists: true })).toEqual({ refuse: `${answer} Nothing was changed.` });
  });

  it("changes nothing when the Rollout is gone", () => {
    expect(judgeAction({ action: "abort", button: BUTTON, presser: ANA, approvers: ["@ana"], status: undefined, exists: false })).toEqual({
      refuse: "this release has moved on: Rollout bookinfo/reviews no longer exists. Nothing was changed.",
    });
  });

  it.each([
    [["U024BE7LH"], true],
    [["@ana"], true],
    [["ana"], true],
    [["W0123ANA"], false],
    [["@anna", "U999"], false],
  ])("with approvers %j, @ana (U024BE7LH) may press: %s", (approvers, allowed) => {
    expect(mayApprove(ANA, approvers)).toBe(allowed);
    const verdict = judgeAction({ action: "promote", button: BUTTON, presser: ANA, approvers, status: status(), exists: true });
    expect(verdict).toEqual(
      allowed
        ? { give: expect.objectContaining({ command: "promote" }) as unknown }
        : { refuse: "@ana may not promote reviews in bookinfo: its notifications.slack.approvers does not name you. Nothing was changed." },
    );
  });

  it("a presser without a user name is named by id, and never matches a name", () => {
    expect(slackUser({ id: "U1" })).toBe("slack:U1");
    expect(mayApprove({ id: "U1" }, ["@ana"])).toBe(false);
  });
});

describe("the answered message", () => {
  it("says who did what, and loses its buttons", () => {
    expect(outcomeLine("promote", ANA, "completed step 2/4")).toBe("Promoted by @ana: completed step 2/4");
    expect(outcomeLine("abort", ANA, "aborted v2")).toBe("Abort requested by @ana: aborted from Slack (aborted v2)");
    const blocks = answeredBlocks([{ type: "header" }, { type: "actions", elements: [] }], "Promoted by @ana <x>");
    expect(blocks).toEqual([{ type: "header" }, { type: "context", elements: [{ type: "mrkdwn", text: "Promoted by @ana &lt;x&gt;" }] }]);
  });
});

describe("notifications.slack.approvers", () => {
  const spec = (approvers: unknown) =>
    RolloutSpecSchema.safeParse({
      service: "reviews",
      version: "v2",
      trafficRouting: { istio: { virtualService: { name: "reviews" } } },
      steps: [{ setWeight: 10 }],
      notifications: { slack: { approvers } },
    });

  it("takes Slack user ids and names", () => {
    expect(spec(["U024BE7LH", "W0123ABC", "@ana", "bob.smith"]).success).toBe(true);
  });

  it.each([
    [[], "expected at least one Slack user id or name"],
    [["Ana Smith"], 'expected a Slack user id such as "U024BE7LH" or a user name such as "@ana"'],
    [["<@U024BE7LH>"], 'expected a Slack user id such as "U024BE7LH" or a user name such as "@ana"'],
  ])("refuses %j with the fix", (approvers, message) => {
    const result = spec(approvers);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain(message);
  });
});
