import { describe, expect, it } from "vitest";
import { slackMessage } from "../../src/notify/slack-message.js";
import { summaryMessage, type SummaryEntry } from "../../src/notify/slack-summary-message.js";
import type { ReleaseEvent } from "../../src/rollout/engine.js";

const commit = { sha: "1a2b3c4d5e6f7a8b9c0d", author: "Ann", subject: "Add 2,000 services" };

function entry(name: string, kind: SummaryEntry["kind"], cause?: string, namespace = "shop"): SummaryEntry {
  const message =
    kind === "adopted" ? `${name}: v1 adopted as stable, 100% of traffic` : `${name}: traffic not applied: no DestinationRule for host ${name} in namespace ${namespace}: subsets v1 are needed`;
  const event: ReleaseEvent = {
    id: "1",
    kind,
    severity: kind === "adopted" ? "normal" : "warning",
    message,
    rollout: { name, namespace },
    version: "v1",
    stableVersion: "v1",
    details: cause ? { cause } : {},
  };
  return { kind, rollout: { name, namespace }, version: "v1", message, ...(cause ? { cause } : {}), commit, alone: slackMessage(event, { commit }) };
}

const many = (count: number, kind: SummaryEntry["kind"], cause?: string) => Array.from({ length: count }, (_, i) => entry(`svc-${i}`, kind, cause));

describe("a summary of a burst in Slack", () => {
  it("names the counts, the failures grouped by cause and the first few Rollouts, in one line", () => {
    const message = summaryMessage([...many(1_790, "adopted"), ...many(1_345, "traffic-failed", "NoDestinationRule")]);
    expect(message.text).toBe("1,790 Rollouts adopted; 1,345 cannot route: no DestinationRule (svc-0, svc-1, svc-2, svc-3, svc-4 and 1,340 more)");
    const blocks = JSON.stringify(message.blocks);
    expect(blocks).toContain("1,790 Rollouts adopted, 1,345 cannot route");
    expect(blocks).toContain("*Cannot route: no DestinationRule* (1,345)");
    expect(blocks).toContain("Add a DestinationRule");
    expect(blocks).toContain("commit `1a2b3c4` by Ann · Add 2,000 services");
  });

  it("sorts Rollouts by name as people count (svc-2 before svc-10) and puts the commonest cause first", () => {
    const entries = [entry("svc-10", "traffic-failed", "NoVirtualService"), entry("svc-2", "traffic-failed", "MissingSubset"), entry("svc-3", "traffic-failed", "MissingSubset")];
    expect(summaryMessage(entries).text).toBe("2 cannot route: DestinationRule subset missing (svc-2, svc-3); 1 cannot route: no VirtualService (svc-10)");
  });

  it("names Rollouts with their namespace when the burst spans namespaces", () => {
    const entries = [entry("reviews", "adopted", undefined, "a"), entry("reviews", "adopted", undefined, "b")];
    expect(JSON.stringify(summaryMessage(entries).blocks)).toContain("`a/reviews`, `b/reviews`");
  });

  it("is the event's own post when the burst holds one event", () => {
    const [single] = many(1, "adopted");
    expect(summaryMessage([single!])).toEqual(single!.alone);
    expect(summaryMessage([single!]).text).toBe("svc-0: v1 adopted as stable, 100% of traffic");
  });

  it("keeps within Slack's limits and escapes names from git", () => {
    const message = summaryMessage([...many(10_000, "traffic-failed", "ApplyFailed"), entry("<!channel>", "adopted")], "#deploys");
    expect(message.text.length).toBeLessThanOrEqual(300);
    expect(JSON.stringify(message)).not.toContain("<!channel>");
    expect(message.channel).toBe("#deploys");
  });
});
