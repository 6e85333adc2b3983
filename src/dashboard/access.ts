/**
 * Who a dashboard's button acts as. Run locally (`tideway dashboard`), it is the user of the
 * kubeconfig, and the API server's RBAC judges each write. Served by the controller, the page is
 * read-only unless a request carries a bearer token: the API server says whose it is (TokenReview)
 * and whether they may patch that Rollout (SubjectAccessReview); only then does the controller write.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { AccessReviews } from "../kube/access-review.js";
import type { RolloutStore } from "../kube/rollouts.js";

export interface ActionTarget {
  namespace: string;
  name: string;
  action: string;
}

export type ActionAccess = { ok: true; by: string; rollouts: RolloutStore } | { ok: false; status: 401 | 403 | 502; error: string };

export interface DashboardAccess {
  /** "user": buttons act as `user`; "token": read-only until the page is given a bearer token. */
  kind: "user" | "token";
  user?: string;
  authorize(headers: IncomingHttpHeaders, target: ActionTarget): Promise<ActionAccess>;
}

/** Every button acts as the kubeconfig's user, through its own client: RBAC refuses what it must. */
export function userAccess(user: string, rollouts: RolloutStore): DashboardAccess {
  return { kind: "user", user, authorize: () => Promise.resolve({ ok: true, by: user, rollouts }) };
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "");
  return match?.[1];
}

/** Each button must carry a bearer token whose user may patch the Rollout; the write then goes through `rollouts` (the controller's client). */
export function tokenAccess(reviews: Pick<AccessReviews, "authenticate" | "authorize">, rollouts: RolloutStore): DashboardAccess {
  return {
    kind: "token",
    authorize: async (headers, { namespace, name, action }) => {
      const token = bearerToken(headers);
      if (token === undefined)
        return {
          ok: false,
          status: 401,
          error: "this dashboard is read-only without a bearer token: give one the API server accepts (e.g. kubectl create token <serviceaccount>) in the page's token field",
        };
      try {
        const user = await reviews.authenticate(token);
        if (!user) return { ok: false, status: 401, error: "the API server does not accept this bearer token (expired, revoked or for another audience): give a current one" };
        const verdict = await reviews.authorize(user, { verb: "patch", group: "tideway.io", resource: "rollouts", namespace, name });
        if (!verdict.allowed)
          return { ok: false, status: 403, error: `${user.username} may not ${action} ${namespace}/${name}: ${verdict.reason} (needs patch on rollouts.tideway.io in ${namespace})` };
        return { ok: true, by: user.username, rollouts };
      } catch (error) {
        // The controller's own rights (create on tokenreviews and subjectaccessreviews) are missing, or the API server is away.
        return {
          ok: false,
          status: 502,
          error: `${error instanceof Error ? error.message : String(error)} (the controller needs create on tokenreviews and subjectaccessreviews: chart value dashboard.enabled)`,
        };
      }
    },
  };
}
