/** Who the API server takes the kubeconfig's credentials for: the user a command is recorded as. */
import { AuthenticationV1Api, type KubeConfig } from "@kubernetes/client-node";

/**
 * The user name the API server authenticates (a SelfSubjectReview, Kubernetes 1.28+), else the
 * kubeconfig's user entry's name; undefined when neither is known.
 */
export async function authenticatedUser(kc: KubeConfig): Promise<string | undefined> {
  try {
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
    const name = review.status?.userInfo?.username;
    if (name) return name;
  } catch {
    // an older API server, or one that refuses the review: fall back to the kubeconfig's name
  }
  return kc.getCurrentUser()?.name || undefined;
}
