/** ServiceAccounts with a Role on Rollouts, and tokens for them from the TokenRequest API: users for RBAC tests. */
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";

/** ServiceAccount `name` in `namespace`, allowed `verbs` on rollouts.tideway.io there, and a token for it (valid an hour). */
export async function serviceAccountToken(admin: KubeConfig, namespace: string, name: string, verbs: string[]): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules: [{ apiGroups: ["tideway.io"], resources: ["rollouts"], verbs }] } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: { metadata: { name }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name }, subjects: [{ kind: "ServiceAccount", name, namespace }] },
  });
  const request = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const token = request.status?.token;
  if (!token) throw new Error(`no token for ServiceAccount ${namespace}/${name}`);
  return token;
}
