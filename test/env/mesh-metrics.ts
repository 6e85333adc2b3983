/**
 * What the mesh simulator reports, as Istio's sidecars would: `istio_requests_total` and
 * `istio_request_duration_milliseconds` with the standard labels, on its own prom-client
 * Registry, served at http://127.0.0.1:<port>/metrics. A served request is reported by the
 * destination sidecar; a request the caller's Envoy failed itself (no healthy upstream) only by
 * the source sidecar, since it reached no destination.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Histogram, Registry } from "prom-client";

/** source_workload of every simulated request. */
export const SOURCE_WORKLOAD = "mesh-simulator";
/** Istio's default buckets for istio_request_duration_milliseconds (its stats plugin's list). */
export const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** The standard labels a sidecar puts on both metrics. */
export const ISTIO_LABELS = [
  "reporter",
  "source_workload",
  "source_workload_namespace",
  "source_app",
  "destination_service",
  "destination_service_name",
  "destination_service_namespace",
  "destination_workload",
  "destination_workload_namespace",
  "destination_app",
  "destination_version",
  "request_protocol",
  "response_code",
  "response_flags",
  "connection_security_policy",
] as const;
type IstioLabels = Record<(typeof ISTIO_LABELS)[number], string>;

export interface MeshTelemetry {
  /** host:port of /metrics. */
  readonly target: string;
  /** `shadow`: a mirrored copy, which Istio reports under the host with "-shadow" appended. */
  record(version: string, responseCode: string, latencyMs: number, shadow?: boolean): void;
  /** A request for `version` the calling sidecar answered with 503 itself, e.g. flag "UH". */
  recordUpstreamFailure(version: string, responseFlag: string): void;
  close(): Promise<void>;
}

export async function startMeshTelemetry(options: {
  namespace: string;
  service: string;
  port?: number;
  /** With a Service per version (host mode), Istio names that Service, e.g. "reviews-v2". */
  serviceFor?: (version: string) => string;
}): Promise<MeshTelemetry> {
  const { namespace } = options;
  const serviceFor = options.serviceFor ?? (() => options.service);
  const registry = new Registry();
  const requestsTotal = new Counter({ name: "istio_requests_total", help: "Requests, as Istio's destination sidecar counts them", labelNames: ISTIO_LABELS, registers: [registry] });
  const requestDuration = new Histogram({
    name: "istio_request_duration_milliseconds",
    help: "Request duration, as Istio's destination sidecar measures it",
    labelNames: ISTIO_LABELS,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const labelsFor = (version: string, responseCode: string): IstioLabels => ({
    reporter: "destination",
    source_workload: SOURCE_WORKLOAD,
    source_workload_namespace: namespace,
    source_app: SOURCE_WORKLOAD,
    destination_service: `${serviceFor(version)}.${namespace}.svc.cluster.local`,
    destination_service_name: serviceFor(version),
    destination_service_namespace: namespace,
    destination_workload: `${options.service}-${version}`,
    destination_workload_namespace: namespace,
    destination_app: options.service,
    destination_version: version,
    request_protocol: "http",
    response_code: responseCode,
    response_flags: "-",
    connection_security_policy: "mutual_tls",
  });

  // Envoy picked no pod: no destination workload or version, just the Service it was headed for.
  const upstreamFailureLabels = (version: string, responseFlag: string): IstioLabels => ({
    ...labelsFor(version, "503"),
    reporter: "source",
    destination_workload: "unknown",
    destination_app: "unknown",
    destination_version: "unknown",
    response_flags: responseFlag,
  });

  const server = createServer((request, response) => {
    if (request.url !== "/metrics") {
      response.statusCode = 404;
      response.end();
      return;
    }
    registry.metrics().then(
      (body) => {
        response.setHeader("content-type", registry.contentType);
        response.end(body);
      },
      (error: unknown) => {
        response.statusCode = 500;
        response.end(String(error));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });

  let closing: Promise<void> | undefined;
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    record(version, responseCode, latencyMs, shadow = false) {
      const live = labelsFor(version, responseCode);
      const labels = shadow ? { ...live, destination_service: `${serviceFor(version)}-shadow.${namespace}.svc.cluster.local`, destination_service_name: `${serviceFor(version)}-shadow` } : live;
      requestsTotal.inc(labels);
      requestDuration.observe(labels, latencyMs);
    },
    recordUpstreamFailure(version, responseFlag) {
      const labels = upstreamFailureLabels(version, responseFlag);
      requestsTotal.inc(labels);
      requestDuration.observe(labels, 0);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // Prometheus keeps its scrape connection alive
      });
      return closing;
    },
  };
}
