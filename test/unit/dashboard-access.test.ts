import { describe, expect, it } from "vitest";
import { bearerToken, tokenAccess, userAccess } from "../../src/dashboard/access.js";
import type { ResourceAction, ReviewedUser } from "../../src/kube/access-review.js";
import type { RolloutStore } from "../../src/kube/rollouts.js";

const store = {} as RolloutStore;
const ANA: ReviewedUser = { username: "system:serviceaccount:ops:ana", groups: ["system:serviceaccounts"], extra: {} };
const target = { namespace: "shop", name: "reviews", action: "abort" };

/** Reviews that know one token ("ana-token") and allow what `allow` says; `asked` records each SubjectAccessReview. */
function reviews(allow: boolean | "fails") {
  const asked: ResourceAction[] = [];
  return {
    asked,
    authenticate: (token: string) =>
      allow === "fails" ? Promise.reject(new Error("reviewing the bearer token (TokenReview): tokenreviews is forbidden")) : Promise.resolve(token === "ana-token" ? ANA : undefined),
    authorize: (_user: ReviewedUser, action: ResourceAction) => {
      asked.push(action);
      return Promise.resolve(allow === true ? ({ allowed: true } as const) : ({ allowed: false, reason: "no RBAC rule allows it" } as const));
    },
  };
}

describe("the bearer token of a request", () => {
  it.each([
    [{ authorization: "Bearer abc.def" }, "abc.def"],
    [{ authorization: "bearer abc" }, "abc"],
    [{ authorization: "Basic YWJj" }, undefined],
    [{ authorization: "Bearer " }, undefined],
    [{ authorization: "Bearer a b" }, undefined],
    [{}, undefined],
  ])("of %j is %s", (headers, token) => {
    expect(bearerToken(headers)).toBe(token);
  });
});

describe("who a dashboard button acts as", () => {
  it("is the kubeconfig's user for tideway dashboard, whatever the request carries", async () => {
    expect(await userAccess("ana@example.com", store).authorize({}, target)).toEqual({ ok: true, by: "ana@example.com", rollouts: store });
  });

  it.each([
    ["no token", {}, true, { ok: false, status: 401, error: expect.stringMatching(/^this dashboard is read-only without a bearer token/) }],
    ["a token the API server does not accept", { authorization: "Bearer forged" }, true, { ok: false, status: 401, error: expect.stringMatching(/^the API server does not accept this bearer token/) }],
    [
      "a user who may not patch the Rollout",
      { authorization: "Bearer ana-token" },
      false,
      { ok: false, status: 403, error: "system:serviceaccount:ops:ana may not abort shop/reviews: no RBAC rule allows it (needs patch on rollouts.tideway.io in shop)" },
    ],
    ["a user who may patch it", { authorization: "Bearer ana-token" }, true, { ok: true, by: "system:serviceaccount:ops:ana", rollouts: store }],
    [
      "a review the controller may not make",
      { authorization: "Bearer ana-token" },
      "fails",
      { ok: false, status: 502, error: expect.stringMatching(/tokenreviews is forbidden .*dashboard\.enabled/) },
    ],
  ] as const)("served by the controller, with %s", async (_case, headers, allow, expected) => {
    expect(await tokenAccess(reviews(allow), store).authorize(headers, target)).toEqual(expected);
  });

  it("asks whether the token's user may patch that Rollout in its namespace", async () => {
    const review = reviews(true);
    await tokenAccess(review, store).authorize({ authorization: "Bearer ana-token" }, target);
    expect(review.asked).toEqual([{ verb: "patch", group: "tideway.io", resource: "rollouts", namespace: "shop", name: "reviews" }]);
  });
});
