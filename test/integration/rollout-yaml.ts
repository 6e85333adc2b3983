/** Rollout files as people write them, for tests. */

export interface RolloutYamlOptions {
  name: string;
  namespace: string;
  version: string;
  service?: string;
  annotations?: Record<string, string>;
  /** YAML for `steps:` items, indented by 4; a short healthy sequence by default. */
  steps?: string[];
  /** Names of the managed http routes. */
  routes?: string[];
  /** A destination host per version, e.g. "reviews-{{ version }}", instead of subsets. */
  host?: string;
  /** The router: istio (default, a VirtualService named as the service) or gatewayAPI (an HTTPRoute named as the service). */
  router?: "istio" | "gatewayAPI";
  /** Extra YAML under spec (indented by 2), e.g. an analysis block. */
  specExtra?: string;
}

export function rolloutYaml(options: RolloutYamlOptions): string {
  const steps = options.steps ?? ["- setWeight: 20", "- pause: 2s", "- setWeight: 60", "- pause: 2s"];
  const annotations = Object.entries(options.annotations ?? {});
  return [
    "apiVersion: tideway.io/v1alpha1",
    "kind: Rollout",
    "metadata:",
    `  name: ${options.name}`,
    `  namespace: ${options.namespace}`,
    ...(annotations.length > 0 ? ["  annotations:", ...annotations.map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)] : []),
    "spec:",
    `  service: ${options.service ?? options.name}`,
    `  version: ${options.version}`,
    "  trafficRouting:",
    ...(options.router === "gatewayAPI"
      ? ["    gatewayAPI:", `      httpRoute: { name: ${options.service ?? options.name}${options.routes ? `, rules: [${options.routes.join(", ")}]` : ""} }`]
      : ["    istio:", `      virtualService: { name: ${options.service ?? options.name}${options.routes ? `, routes: [${options.routes.join(", ")}]` : ""} }`]),
    ...(options.host ? [`      host: ${JSON.stringify(options.host)}`] : []),
    "  steps:",
    ...steps.map((s) => `    ${s}`),
    ...(options.specExtra ? [options.specExtra] : []),
    "",
  ].join("\n");
}
