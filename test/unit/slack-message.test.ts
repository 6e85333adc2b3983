import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSlackWebhookUrl, targetHears } from "../../src/notify/delivery.js";
import { parseRetryAfter } from "../../src/notify/post.js";
import { slackMessage, type SlackMessage } from "../../src/notify/slack-message.js";
import { webhookMessage } from "../../src/notify/webhook-message.js";
import type { ReleaseEvent } from "../../src/rollout/engine.js";
import type { Rollout } from "../../src/rollout/model.js";
import { RELEASE_EVENT_KINDS, RolloutSpecSchema, type ReleaseEventKind, type RolloutSpecInput } from "../../src/rollout/schema.js";
import { invalidFileEvent, unverifiedCommitEvent } from "../../src/git/sync-events.js";

function rollout(notifications?: RolloutSpecInput["notifications"]): Rollout {
  const spec = RolloutSpecSchema.parse({
    service: "reviews",
    version: "v2",
    trafficRouting: { istio: { virtualService: { name: "reviews" } } },
    steps: [{ setWeight: 10 }, { pause: "1m" }, { setWeight: 50 }, { pause: "1m" }, { pause: {} }],
    analysis: {
      metrics: [
        { name: "success-rate", min: 0.99 },
        { name: "latency-p99", max: 500 },
      ],
    },
    ...(notifications ? { notifications } : {}),
  });
  return { name: "reviews", namespace: "bookinfo", spec };
}

const failing = [
  { name: "success-rate", outcome: "fail", value: 0.91, message: "0.91 < 0.99" },
  { name: "latency-p99", outcome: "pass", value: 212.4567, message: "212.5 <= 500" },
] as const;

function event(id: number, kind: ReleaseEventKind, message: string, details: ReleaseEvent["details"] = {}, severity: ReleaseEvent["severity"] = "normal"): ReleaseEvent {
  const inRelease = !["adopted", "command-ignored", "traffic-failed", "refused", "stable-unready"].includes(kind);
  return {
    id: String(id),
    kind,
    severity,
    message,
    details,
    rollout: { name: "reviews", namespace: "bookinfo" },
    version: kind === "adopted" ? "v1" : "v2",
    stableVersion: "v1",
    ...(inRelease ? { releaseId: 3 } : {}),
  };
}

interface Case {
  event: ReleaseEvent;
  /** The plain fallback line starts with this. */
  text: string;
  /** Somewhere in the blocks. */
  shows: string[];
}

const CASES: Record<ReleaseEventKind, Case> = {
  adopted: { event: event(1, "adopted", "reviews: v1 adopted as stable, 100% of traffic"), text: "reviews: v1 adopted", shows: ["*Stable*\n`v1`"] },
  started: { event: event(2, "started", "reviews v2: canary started (stable v1)", { steps: 5 }), text: "reviews v2: canary started", shows: ["`v1` → `v2`", "5 steps", "*Release*\n#3"] },
  step: { event: event(3, "step", "reviews v2: step 2/5, 50% to canary", { step: "2/5", weight: 50 }), text: "reviews v2: step 2/5", shows: ["▰▰▱▱▱ 2/5", "50%"] },
  "check-failed": {
    event: event(4, "check-failed", "reviews v2: check failed: success-rate 0.91 < 0.99", { step: "2/5", weight: 50, results: [...failing] }, "warning"),
    text: "reviews v2: check failed: success-rate 0.91 < 0.99",
    shows: [":x: *success-rate*: `0.91` (min 0.99): 0.91 < 0.99", ":white_check_mark: *latency-p99*: `212.5` (max 500)"],
  },
  "check-inconclusive": {
    event: event(5, "check-inconclusive", "reviews v2: check inconclusive: success-rate 12 requests < 20", {
      step: "1/5",
      weight: 10,
      results: [{ name: "success-rate", outcome: "inconclusive", value: null, message: "12 requests < 20" }],
    }),
    text: "reviews v2: check inconclusive",
    shows: [":grey_question: *success-rate*: no data (min 0.99): 12 requests < 20"],
  },
  "check-error": {
    event: event(
      6,
      "check-error",
      "reviews v2: analysis error: success-rate prometheus unreachable",
      { step: "1/5", weight: 10, results: [{ name: "success-rate", outcome: "error", value: null, message: "prometheus unreachable" }] },
      "warning",
    ),
    text: "reviews v2: analysis error",
    shows: [":warning: *success-rate*: no data (min 0.99): prometheus unreachable"],
  },
  paused: {
    event: event(7, "paused", "reviews v2: paused, waiting at a manual gate", { reason: "gate", step: "5/5" }),
    text: "reviews v2: paused",
    shows: [
      "kubectl annotate rollout reviews -n bookinfo tideway.io/promote=step",
      "tideway promote reviews -n bookinfo",
      'kubectl annotate rollout reviews -n bookinfo tideway.io/abort="stopped by hand"',
      "tideway abort reviews -n bookinfo",
      "▰▰▰▰▰ 5/5",
    ],
  },
  resumed: { event: event(8, "resumed", "reviews v2: resumed at step 3/5"), text: "reviews v2: resumed", shows: [] },
  promoted: { event: event(9, "promoted", "reviews v2 promoted: 100% of traffic, now stable (was v1)", { reason: "all steps passed" }), text: "reviews v2 promoted", shows: ["all steps passed"] },
  "rolled-back": {
    event: event(10, "rolled-back", "reviews v2 rolled back: success-rate 0.91 < 0.99; 100% to v1", { reason: "success-rate 0.91 < 0.99", failedChecks: 2, failureLimit: 1 }, "warning"),
    text: "reviews v2 rolled back: success-rate 0.91 < 0.99",
    shows: ["*Reason*\nsuccess-rate 0.91 < 0.99", "*Failed checks*\n2 (limit 1)", "100% to `v1`", "tideway retry reviews -n bookinfo"],
  },
  aborted: {
    event: event(11, "aborted", "reviews v2 aborted: bad latency by alice; 100% to v1", { reason: "bad latency by alice", by: "alice" }, "warning"),
    text: "reviews v2 aborted: bad latency",
    shows: ["*Reason*\nbad latency by alice", "*By*\nalice"],
  },
  superseded: { event: event(12, "superseded", "reviews v2 superseded: v3 committed; 100% to v1", { reason: "v3 committed" }), text: "reviews v2 superseded", shows: ["*Reason*\nv3 committed"] },
  reverted: {
    event: event(13, "reverted", "reviews v2 reverted: spec.version is v1 again; 100% to v1", { reason: "spec.version is v1 again" }),
    text: "reviews v2 reverted",
    shows: ["*Reason*\nspec.version is v1 again"],
  },
  removed: { event: event(14, "removed", "reviews v2 removed: deleted from git; 100% to v1", { reason: "deleted from git" }), text: "reviews v2 removed", shows: ["removed from git"] },
  retried: { event: event(15, "retried", "reviews v2: retry requested by alice"), text: "reviews v2: retry requested", shows: [] },
  held: {
    event: event(16, "held", "reviews v2: not started, held aborted in git (known bad build)", { reason: "known bad build" }, "warning"),
    text: "reviews v2: not started",
    shows: ["*Reason*\nknown bad build"],
  },
  "command-ignored": { event: event(17, "command-ignored", "reviews: retry ignored: nothing to retry", { command: "retry" }), text: "reviews: retry ignored", shows: ["*Command*\n`retry`"] },
  "traffic-failed": {
    event: event(18, "traffic-failed", "reviews: traffic not applied: VirtualService reviews not found", {}, "warning"),
    text: "reviews: traffic not applied",
    shows: ["VirtualService reviews not found"],
  },
  refused: {
    event: event(20, "refused", "reviews: refused: route primary of VirtualService reviews is managed by Rollout bookinfo/reviews-a: name another route", { owner: "bookinfo/reviews-a" }, "warning"),
    text: "reviews: refused: route primary of VirtualService reviews is managed by Rollout bookinfo/reviews-a",
    shows: ["*Version in git*\n`v2`", "*Managed by*\nRollout `bookinfo/reviews-a`"],
  },
  waiting: {
    event: event(21, "waiting", "reviews v2: step 1/5 waits for v2: 0/3 pods ready", { step: "1/5", weight: 0, waitingFor: "v2: 0/3 pods ready" }, "warning"),
    text: "reviews v2: step 1/5 waits for v2: 0/3 pods ready",
    shows: ["*Waiting for*\nv2: 0/3 pods ready", "▰▱▱▱▱ 1/5"],
  },
  "stable-unready": {
    event: event(22, "stable-unready", "reviews: stable v1 has no ready pods (0/2): 100% of traffic goes to a version that cannot serve", { reason: "v1: 0/2 pods ready" }, "warning"),
    text: "reviews: stable v1 has no ready pods",
    shows: ["*Reason*\nv1: 0/2 pods ready"],
  },
};

/** What Slack shows for mrkdwn: its three escapes undone. */
function shown(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** Every piece of text in the blocks, joined: what a person would read. */
function blockText(message: SlackMessage): string {
  return shown(JSON.stringify(message.blocks).replace(/\\n/g, "\n").replace(/\\"/g, '"'));
}

describe("a Slack message for each kind of release event", () => {
  it("has a case for every kind Tideway announces", () => {
    expect(Object.keys(CASES).sort()).toEqual([...RELEASE_EVENT_KINDS].sort());
  });

  it.each(RELEASE_EVENT_KINDS.map((kind) => [kind, CASES[kind]] as const))("%s: one plain line, a header naming the Rollout, and the details", (_kind, { event, text, shows }) => {
    const message = slackMessage(event, { rollout: rollout() });
    expect(shown(message.text).startsWith(text)).toBe(true);
    expect(message.text).not.toContain("\n");
    expect(message.blocks[0]).toMatchObject({ type: "header", text: { type: "plain_text" } });
    const readable = blockText(message);
    expect(readable).toContain("*Rollout*\n`reviews` in `bookinfo`");
    for (const fragment of shows) expect(readable).toContain(fragment);
  });

  it("draws a progress bar and the canary weight for a step", () => {
    const message = slackMessage(CASES.step.event, {});
    expect(message.blocks).toContainEqual({
      type: "section",
      fields: [
        { type: "mrkdwn", text: "*Progress*\n▰▰▱▱▱ 2/5" },
        { type: "mrkdwn", text: "*Canary weight*\n50%" },
      ],
    });
  });

  it("still shows each metric's value without the Rollout, leaving out the threshold it cannot know", () => {
    const readable = blockText(slackMessage(CASES["check-failed"].event, {}));
    expect(readable).toContain(":x: *success-rate*: `0.91`: 0.91 < 0.99");
  });

  it("offers resume, not promote, when a release is paused by hand", () => {
    const paused = event(20, "paused", "reviews v2: paused, paused by hand by alice", { reason: "manual", step: "2/5" });
    const readable = blockText(slackMessage(paused, {}));
    expect(readable).toContain("kubectl annotate rollout reviews -n bookinfo tideway.io/resume=true");
    expect(readable).not.toContain("tideway.io/promote");
  });

  it("names the commit that carried the change: short SHA, author and the first line of its message", () => {
    const commit = { sha: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d", author: "Ann Example", subject: "Release reviews v2\n\nLonger body that is not shown" };
    const message = slackMessage(CASES.started.event, { commit });
    expect(message.blocks.at(-1)).toEqual({ type: "context", elements: [{ type: "mrkdwn", text: "commit `1a2b3c4` by Ann Example · Release reviews v2" }] });
    expect(blockText(message)).not.toContain("Longer body");
  });

  it("leaves out the commit context when the commit is unknown", () => {
    expect(slackMessage(CASES.started.event, {}).blocks.some((b) => b.type === "context")).toBe(false);
  });

  it("posts to the Rollout's channel when it names one, and to the webhook's own channel otherwise", () => {
    expect(slackMessage(CASES.started.event, { rollout: rollout({ slack: { channel: "#deploys" } }) }).channel).toBe("#deploys");
    expect(slackMessage(CASES.started.event, { rollout: rollout() })).not.toHaveProperty("channel");
  });

  it("cannot be made to ping @channel or forge a link by text from git", () => {
    const hostile = event(21, "aborted", "reviews v2 aborted: <!channel> <https://evil.example|click>", { reason: "<!channel>", by: "mallory" });
    const message = slackMessage(hostile, { commit: { sha: "abcdef0123", subject: "<!here> fix" } });
    expect(JSON.stringify(message)).not.toMatch(/<!channel>|<!here>|<https:/);
  });

  it("keeps the header within Slack's 150 characters however long the version", () => {
    const long = { ...CASES.started.event, version: "v".repeat(200) };
    const headerBlock = slackMessage(long, {}).blocks[0];
    expect(headerBlock?.type === "header" && headerBlock.text.text.length).toBeLessThanOrEqual(150);
  });
});

const commit = { sha: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d", author: "Ann Example", subject: "add ratings" };
const badFile = invalidFileEvent(
  { file: "rollouts/reviews.yaml", line: 12, column: 7, path: "spec.steps[0].setWeight", message: "expected a number <= 100, found 150", rollout: { name: "reviews", namespace: "bookinfo" } },
  commit,
  "tideway",
);
const unsigned = unverifiedCommitEvent(commit, "the commit is not signed", "tideway");

describe("a Slack message for a problem of the git sync", () => {
  it("invalid: one plain line with file:line:column, the Rollout, the field and the problem quoted, and the commit", () => {
    const message = slackMessage(badFile);
    expect(shown(message.text)).toBe("rollouts/reviews.yaml:12:7: spec.steps[0].setWeight: expected a number <= 100, found 150");
    expect(message.blocks[0]).toEqual({ type: "header", text: { type: "plain_text", text: ":no_entry: reviews: invalid Rollout in git", emoji: true } });
    const readable = blockText(message);
    for (const fragment of [
      "*Rollout*\n`reviews` in `bookinfo`",
      "`rollouts/reviews.yaml:12:7` `spec.steps[0].setWeight`",
      "> expected a number <= 100, found 150",
      "commit `1a2b3c4` by Ann Example · add ratings",
    ]) {
      expect(readable).toContain(fragment);
    }
  });

  it("invalid: a problem that names no Rollout is told on git in the controller's namespace", () => {
    const unnamed = invalidFileEvent({ file: "rollouts/x.yaml", line: 1, column: 1, path: "", message: "not YAML" }, commit, "tideway");
    expect(unnamed.rollout).toEqual({ namespace: "tideway", name: "git" });
    expect(blockText(slackMessage(unnamed))).toContain("*Rollout*\n`git` in `tideway`");
  });

  it("unverified: says which commit was not applied, why, and what to do", () => {
    const message = slackMessage(unsigned);
    expect(message.text).toBe("commit 1a2b3c4 not applied: the commit is not signed");
    const readable = blockText(message);
    for (const fragment of ["signature not verified", "*Commit*\n`1a2b3c4`", "*Why*\nthe commit is not signed", "push a commit signed by an allowed key"]) expect(readable).toContain(fragment);
  });

  it("has an id derived from the problem: the same problem, the same id, at any commit", () => {
    const later = invalidFileEvent(
      { file: "rollouts/reviews.yaml", line: 12, column: 7, path: "spec.steps[0].setWeight", message: "expected a number <= 100, found 150", rollout: { name: "reviews", namespace: "bookinfo" } },
      { sha: "ffff" },
      "tideway",
    );
    expect(later.id).toBe(badFile.id);
    expect(badFile.id).toMatch(/^invalid-[0-9a-f]{16}$/);
    expect(unsigned.id).toBe(`unverified-${commit.sha}`);
  });
});

describe("who hears what", () => {
  it("Slack hears every release event when the Rollout lists no events", () => {
    for (const kind of RELEASE_EVENT_KINDS) expect(targetHears("slack", CASES[kind].event, rollout())).toBe(true);
    expect(targetHears("slack", CASES.step.event)).toBe(true);
  });

  it("Slack hears only the kinds in spec.notifications.slack.events", () => {
    const picky = rollout({ slack: { events: ["promoted", "rolled-back", "paused"] } });
    const allowed = RELEASE_EVENT_KINDS.filter((kind) => targetHears("slack", CASES[kind].event, picky));
    expect(allowed).toEqual(["paused", "promoted", "rolled-back"]);
  });

  it("Slack hears every problem of the git sync, whatever a Rollout's filter", () => {
    const picky = rollout({ slack: { events: ["promoted"] } });
    expect(targetHears("slack", badFile, picky)).toBe(true);
    expect(targetHears("slack", unsigned, picky)).toBe(true);
  });

  it("the generic webhook hears everything, whatever the filter", () => {
    const picky = rollout({ slack: { events: ["promoted"] } });
    for (const kind of RELEASE_EVENT_KINDS) expect(targetHears("webhook", CASES[kind].event, picky)).toBe(true);
    expect(targetHears("webhook", badFile, picky)).toBe(true);
  });
});

describe("a generic webhook body", () => {
  it("carries the event flat, with an id unique across Rollouts and the commit", () => {
    const body = webhookMessage(CASES["rolled-back"].event, { commit: { sha: "1a2b3c4d", author: "Ann" } });
    expect(body).toEqual({
      id: "bookinfo/reviews/10",
      kind: "rolled-back",
      severity: "warning",
      message: "reviews v2 rolled back: success-rate 0.91 < 0.99; 100% to v1",
      rollout: "reviews",
      namespace: "bookinfo",
      version: "v2",
      stableVersion: "v1",
      releaseId: 3,
      details: { reason: "success-rate 0.91 < 0.99", failedChecks: 2, failureLimit: 1 },
      commit: { sha: "1a2b3c4d", author: "Ann" },
    });
  });

  it("carries a sync problem with its commit, and no version", () => {
    expect(webhookMessage(unsigned)).toEqual({
      id: `tideway/git/unverified-${commit.sha}`,
      kind: "unverified",
      severity: "warning",
      message: "commit 1a2b3c4 not applied: the commit is not signed",
      rollout: "git",
      namespace: "tideway",
      version: "",
      stableVersion: "",
      releaseId: null,
      details: { reason: "the commit is not signed" },
      commit,
    });
  });
});

describe("Retry-After", () => {
  const now = Date.parse("2025-01-01T12:00:00Z");

  it.each([
    ["2", 2_000],
    ["0.5", 500],
    ["Wed, 01 Jan 2025 12:00:30 GMT", 30_000],
    ["Wed, 01 Jan 2025 11:00:00 GMT", 0],
    ["86400", 3_600_000],
  ])("reads %j as %i ms (at most an hour)", (header, ms) => {
    expect(parseRetryAfter(header, now)).toBe(ms);
  });

  it.each([null, "", "soon", "-1"])("ignores %j, leaving the delay to the backoff", (header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined();
  });
});

describe("loadSlackWebhookUrl", () => {
  const url = "https://hooks.slack.com/services/T000/B000/secret-token-123";
  const withFile = (text: string, run: (file: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), "tideway-slack-"));
    try {
      const file = join(dir, "url");
      writeFileSync(file, text);
      run(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("reads the mounted Secret file, trimmed, before the environment", () => {
    withFile(`${url}\n`, (file) => expect(loadSlackWebhookUrl({ file, env: "https://other.example/hook" })).toBe(url));
  });

  it("falls back to the environment, and to nothing", () => {
    expect(loadSlackWebhookUrl({ env: url })).toBe(url);
    expect(loadSlackWebhookUrl({ env: "" })).toBeUndefined();
    expect(loadSlackWebhookUrl({})).toBeUndefined();
  });

  it("names the file, never the value, when the file is missing or holds no URL", () => {
    expect(() => loadSlackWebhookUrl({ file: "/nonexistent/slack-url" })).toThrow("cannot read /nonexistent/slack-url");
    withFile("hooks.slack.com/services/T000/B000/secret-token-123", (file) => {
      expect(() => loadSlackWebhookUrl({ file })).toThrow(`Slack webhook URL from ${file} is not a URL`);
      try {
        loadSlackWebhookUrl({ file });
      } catch (error) {
        expect(String(error)).not.toContain("secret-token-123");
      }
    });
  });
});
