/**
 * Asking the API server who a bearer token belongs to (TokenReview) and whether that user may do
 * something (SubjectAccessReview): how the controller's dashboard lets a person act only as far as
 * their own RBAC goes. The token is sent to the API server and nowhere else.
 */
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { kubeError } from "./errors.js";

export interface ReviewedUser {
  username: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export interface ResourceAction {
  verb: string;
  group: string;
  resource: string;
  namespace: string;
  name: string;
}

export type AccessVerdict = { allowed: true } | { allowed: false; reason: string };

export class AccessReviews {
  private readonly authentication: AuthenticationV1Api;
  private readonly authorization: AuthorizationV1Api;

  constructor(kc: KubeConfig) {
    this.authentication = kc.makeApiClient(AuthenticationV1Api);
    this.authorization = kc.makeApiClient(AuthorizationV1Api);
  }

  /** The user the API server takes `token` for, or undefined when it does not accept it. Throws when the review itself fails. */
  async authenticate(token: string): Promise<ReviewedUser | undefined> {
    let review;
    try {
      review = await this.authentication.createTokenReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } } });
    } catch (error) {
      throw kubeError(error, "reviewing the bearer token (TokenReview)");
    }
    const user = review.status?.user;
    if (review.status?.authenticated !== true || !user?.username) return undefined;
    return { username: user.username, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups ?? [], extra: user.extra ?? {} };
  }

  /** Whether `user` may do `action`, as the API server's authorizers answer it. Throws when the review itself fails. */
  async authorize(user: ReviewedUser, action: ResourceAction): Promise<AccessVerdict> {
    let review;
    try {
      review = await this.authorization.createSubjectAccessReview({
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: { user: user.username, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups, extra: user.extra, resourceAttributes: { ...action } },
        },
      });
    } catch (error) {
      throw kubeError(error, "reviewing access (SubjectAccessReview)");
    }
    if (review.status?.allowed === true && review.status.denied !== true) return { allowed: true };
    return { allowed: false, reason: review.status?.reason || review.status?.evaluationError || "no RBAC rule allows it" };
  }
}
