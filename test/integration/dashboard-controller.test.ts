/**
 * The dashboard served by the controller (`tideway run --dashboard`): the page and its stream are
 * there for anyone who reaches the port, but a button acts only for a bearer token the API server
 * accepts (TokenReview) whose user may patch the Rollout (SubjectAccessReview). Tokens are minted
 * for ServiceAccounts with the TokenRequest API.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorld, type World } from "./release-harness.js";
import { serviceAccountToken } from "./service-accounts.js";
import { kubeConfig } from "./services.js";

const GATED = ["- setWeight: 20", "- pause: {}"];
const admin = kubeConfig();
let world: World;
let base: string;
const tokens: Record<string, string> = {};

/** The page's session: its cookie, its CSRF token and its own Origin. */
async function session(): Promise<Record<string, string>> {
  const response = await fetch(`${base}/`);
  const cookie = (response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const token = /name="csrf-token" content="([^"]+)"/.exec(await response.text())?.[1] ?? "";
  return { cookie, "x-tideway-csrf": token, origin: base };
}

async function abort(bearer?: string): Promise<{ status: number; body: { error?: string; by?: string; value?: string }; authenticate: string | null }> {
  const headers = { "content-type": "application/json", ...(await session()), ...(bearer !== undefined ? { authorization: `Bearer ${bearer}` } : {}) };
  const response = await fetch(`${base}/api/rollouts/${world.namespace}/reviews/abort`, { method: "POST", headers, body: JSON.stringify({ reason: "checkout errors" }) });
  return { status: response.status, body: (await response.json()) as { error?: string }, authenticate: response.headers.get("www-authenticate") };
}

/** What a refused press could have changed: the phase, the commands recorded and Tideway's annotations. */
async function snapshot() {
  const object = await world.rollouts.get(world.namespace, "reviews");
  const status = await world.status();
  return {
    phase: status?.phase,
    commands: status?.commands.length,
    annotations: Object.keys(object.metadata.annotations ?? {}).filter((k) => /^tideway\.io\/(abort|promote|pause|resume|retry|by|claimed)$/.test(k)),
  };
}

beforeAll(async () => {
  world = await createWorld({ controllerArgs: ["--dashboard"] });
  base = world.controller.url.replace(/\/$/, "");
  await world.release("v1");
  await world.waitForStatus((s) => s.phase === "Healthy");
  tokens.reader = await serviceAccountToken(admin, world.namespace, "reader", ["get", "list", "watch"]);
  tokens.operator = await serviceAccountToken(admin, world.namespace, "operator", ["get", "patch"]);
  await world.release("v2", { steps: GATED });
  await world.waitForStatus((s) => s.phase === "Paused" && s.release?.pauseReason === "gate");
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

describe("the dashboard served by the controller", () => {
  it("serves the page and the Rollouts' status on the controller's port, read with the controller's rights", async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('id="bearer-token"');
    const answer = (await (await fetch(`${base}/api/rollouts`)).json()) as { rollouts: { namespace: string; name: string; phase: string }[] };
    expect(answer.rollouts).toContainEqual(expect.objectContaining({ namespace: world.namespace, name: "reviews", phase: "Paused" }));
    // The controller's own endpoints are still there.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("refuses a button without a bearer token (401) or with one the API server does not accept, and writes nothing", async () => {
    const before = await snapshot();
    const anonymous = await abort();
    expect(anonymous.status).toBe(401);
    expect(anonymous.authenticate).toMatch(/^Bearer/);
    expect(anonymous.body.error).toMatch(/^this dashboard is read-only without a bearer token/);
    const forged = await abort("not-a-token-the-api-server-knows");
    expect(forged.status).toBe(401);
    expect(forged.body.error).toMatch(/^the API server does not accept this bearer token/);
    expect(await snapshot()).toEqual(before);
  });

  it("refuses a token whose ServiceAccount may only read Rollouts (403), and writes nothing", async () => {
    const before = await snapshot();
    const reader = await abort(tokens.reader);
    expect(reader.status).toBe(403);
    expect(reader.body.error).toMatch(
      new RegExp(`^system:serviceaccount:${world.namespace}:reader may not abort ${world.namespace}/reviews: .*needs patch on rollouts\\.tideway\\.io in ${world.namespace}`),
    );
    expect(await snapshot()).toEqual(before);
  });

  it("still asks for the page's CSRF token and Origin, whatever the bearer token", async () => {
    const response = await fetch(`${base}/api/rollouts/${world.namespace}/reviews/abort`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tokens.operator}`, origin: base },
      body: JSON.stringify({ reason: "no session" }),
    });
    expect(response.status).toBe(403);
    expect((await snapshot()).annotations).toEqual([]);
  });

  it("aborts for a token whose ServiceAccount may patch the Rollout, recorded as that ServiceAccount", async () => {
    const user = `system:serviceaccount:${world.namespace}:operator`;
    const operator = await abort(tokens.operator);
    expect(operator).toMatchObject({ status: 202, body: { by: user, value: "checkout errors" } });
    const status = await world.waitForStatus((s) => s.phase === "Aborted");
    expect(status.commands.at(-1)).toMatchObject({ command: "abort", value: "checkout errors", user });
    expect(status.history.at(-1)).toMatchObject({ outcome: "aborted", reason: `checkout errors by ${user}` });
    await world.waitForWeights((w) => w.v1 === 100 && (w.v2 ?? 0) === 0);
    // The token went to the API server only: never into the controller's log.
    expect(world.controller.output.join("\n")).not.toContain(tokens.operator);
    expect(world.controller.output.join("\n")).not.toContain(tokens.reader);
  });
});
