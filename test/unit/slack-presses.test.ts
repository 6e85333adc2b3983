/**
 * A button press carried out, against Rollouts held in memory and the local Slack receiver (for
 * the response_url): what gets written, and what the presser is told when it is not.
 */
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SlackPresses, type ButtonClaim } from "../../src/controller/slack-presses.js";
import type { SlackButtonPress } from "../../src/http/slack-requests.js";
import { KubeError } from "../../src/kube/errors.js";
import type { RolloutObject, RolloutStore } from "../../src/kube/rollouts.js";
import { emptyCounts, type RolloutStatus } from "../../src/rollout/status.js";
import { startSlackReceiver, type SlackReceiver } from "../env/slack.js";

const GATE: RolloutStatus = {
  phase: "Paused",
  message: "v2 paused at a manual gate",
  stableVersion: "v1",
  canaryVersion: "v2",
  canaryWeight: 20,
  step: "2/2",
  releaseCount: 4,
  release: {
    id: 4,
    version: "v2",
    startedAt: "2026-12-03T10:00:00.000Z",
    stepIndex: 1,
    pauseReason: "gate",
    canaryWeight: 20,
    headerRoute: false,
    trafficApplied: true,
    stepChecks: emptyCounts(),
    checks: emptyCounts(),
    inconclusiveStreak: 0,
    errorStreak: 0,
    metrics: [],
  },
  conditions: [],
  history: [],
  commands: [],
};

/** One Rollout in memory; nothing acts on its annotations (no controller runs here). */
class OneRollout implements RolloutStore {
  object: RolloutObject = {
    apiVersion: "tideway.io/v1alpha1",
    kind: "Rollout",
    metadata: { name: "reviews", namespace: "bookinfo", resourceVersion: "1", annotations: {} },
    spec: { service: "reviews", version: "v2", trafficRouting: { istio: { virtualService: { name: "reviews" } } }, steps: [{ setWeight: 20 }, { pause: {} }] },
    status: GATE,
  };
  refuseWrites = false;

  get(): Promise<RolloutObject> {
    return Promise.resolve(structuredClone(this.object));
  }

  replaceStatus(): Promise<RolloutObject> {
    return Promise.reject(new Error("not written here"));
  }

  patchMetadata(namespace: string, name: string, metadata: Record<string, unknown>): Promise<RolloutObject> {
    if (this.refuseWrites) return Promise.reject(new KubeError(403, `patching Rollout ${namespace}/${name}: rollouts.tideway.io "reviews" is forbidden`));
    const annotations = { ...this.object.metadata.annotations, ...(metadata.annotations as Record<string, string>) };
    this.object = { ...this.object, metadata: { ...this.object.metadata, annotations, resourceVersion: String(Number(this.object.metadata.resourceVersion) + 1) } };
    return this.get();
  }
}

let slack: SlackReceiver;
let store: OneRollout;
let claims: Map<string, string>;
let presses: SlackPresses;

beforeEach(async () => {
  slack = await startSlackReceiver();
  store = new OneRollout();
  claims = new Map();
  const claimButton = (button: string, presser: string): Promise<ButtonClaim> => {
    const holder = claims.get(button);
    if (holder !== undefined) return Promise.resolve({ takenBy: holder });
    claims.set(button, presser);
    return Promise.resolve({ taken: true, undo: () => Promise.resolve(void claims.delete(button)) });
  };
  presses = new SlackPresses({ rollouts: store, claimButton, log: pino({ level: "silent" }), ackTimeoutMs: 300 });
});

afterEach(async () => {
  await presses.close();
  await slack.stop();
});

const VALUE = JSON.stringify({ rollout: { namespace: "bookinfo", name: "reviews" }, release: 4, version: "v2", step: "2/2" });

function press(user: { id: string; username: string }, actionId = "tideway-promote"): SlackButtonPress {
  return { actionId, value: VALUE, user, responseUrl: slack.responseUrl() };
}

async function answerTo(p: SlackButtonPress): Promise<{ text: string; response_type?: string }> {
  await presses.close();
  const [answer, ...more] = slack.answersTo(p.responseUrl);
  expect(more).toEqual([]);
  return answer?.body as { text: string };
}

describe("a Slack button press", () => {
  it("writes the CLI's annotation with the presser as tideway.io/by, and says so when the controller has not acted yet", async () => {
    const ana = press({ id: "U0ANA", username: "ana" });
    await presses.handle(ana);
    expect(store.object.metadata.annotations).toEqual({ "tideway.io/promote": "step", "tideway.io/by": "slack:@ana (U0ANA)" });
    expect(await answerTo(ana)).toEqual({
      response_type: "ephemeral",
      replace_original: false,
      text: "@ana's promote of reviews is written but not acted on yet; `tideway status reviews -n bookinfo` shows when it is.",
    });
  });

  it("pressed twice before the controller acts (a double click, two people at once) is given once", async () => {
    await presses.handle(press({ id: "U0ANA", username: "ana" }));
    const bob = press({ id: "U0BOB", username: "bob" });
    await presses.handle(bob);
    expect(store.object.metadata.annotations).toEqual({ "tideway.io/promote": "step", "tideway.io/by": "slack:@ana (U0ANA)" });
    expect((await answerTo(bob)).text).toBe("@ana already pressed Promote on this message of reviews v2. Nothing more was changed.");
    // Abort is a button of its own.
    await presses.handle(press({ id: "U0BOB", username: "bob" }, "tideway-abort"));
    expect(store.object.metadata.annotations).toMatchObject({ "tideway.io/abort": "aborted from Slack", "tideway.io/by": "slack:@bob (U0BOB)" });
  });

  it("that cannot be written says why and leaves the button to press again", async () => {
    store.refuseWrites = true;
    const ana = press({ id: "U0ANA", username: "ana" });
    await presses.handle(ana);
    expect((await answerTo(ana)).text).toBe(
      'Tideway could not promote reviews: patching Rollout bookinfo/reviews: rollouts.tideway.io "reviews" is forbidden. Try again, or use `tideway promote reviews -n bookinfo`.',
    );
    expect(claims.size).toBe(0);
    store.refuseWrites = false;
    await presses.handle(press({ id: "U0ANA", username: "ana" }));
    expect(store.object.metadata.annotations).toMatchObject({ "tideway.io/promote": "step" });
  });
});
