/**
 * Prometheus instant queries, answered as a value, nothing, or a short error message: this
 * never throws at query time, and never puts a header value (credentials) in a message.
 */
import { PrometheusDriver } from "prometheus-query";
import { z } from "zod";
import { redact } from "../secrets/redact.js";

export type QueryResult =
  /** One number: a scalar or a one-sample vector. May be NaN or ±Infinity; the caller judges. */
  | { kind: "value"; value: number }
  /** An empty vector: no series matched. */
  | { kind: "empty" }
  | { kind: "error"; message: string };

/** What analysis needs from a metrics source. */
export interface MetricsQuerier {
  query(promql: string): Promise<QueryResult>;
}

export interface PrometheusClientOptions {
  /** Base URL of Prometheus, e.g. "http://prometheus.istio-system:9090". */
  url: string;
  /** Extra request headers, e.g. `Authorization: Bearer ...`; never logged or put in messages. */
  headers?: Readonly<Record<string, string>>;
  /** Milliseconds before a query is given up. Default 10 000. */
  timeoutMs?: number;
}

export const DEFAULT_QUERY_TIMEOUT_MS = 10_000;

/** The plain object prometheus-query 3.5 throws (it never throws an Error for HTTP or network failures). */
const DriverFailure = z.object({
  errorType: z.string().optional(),
  error: z.string().optional(),
  httpStatus: z.number().optional(),
  code: z.string().optional(),
});

const sampleNumber = z.custom<number>((value) => typeof value === "number", "expected a number");
const VectorResult = z.array(z.object({ value: z.object({ value: sampleNumber }) }));
const ScalarResult = z.tuple([z.number(), z.string()]);

export class PrometheusClient implements MetricsQuerier {
  private readonly driver: PrometheusDriver;
  private readonly host: string;
  private readonly secrets: string[];
  private readonly timeoutMs: number;

  constructor(options: PrometheusClientOptions) {
    const url = parseUrl(options.url);
    this.host = url.host;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    const headers = { ...options.headers };
    this.secrets = secretsIn(Object.values(headers));
    this.driver = new PrometheusDriver({
      endpoint: url.href,
      headers,
      timeout: this.timeoutMs,
      responseInterceptor: {
        onFulfilled: (response) => {
          spellInfinities(response.data);
          return response;
        },
        onRejected: (error: unknown) => {
          explainNonApiAnswer(error);
          return Promise.reject(error);
        },
      },
    });
  }

  async query(promql: string): Promise<QueryResult> {
    let answer: { resultType: string; result: unknown };
    try {
      // Prometheus stops evaluating a little before we stop waiting.
      answer = await this.driver.instantQuery(promql, undefined, `${Math.max(1, Math.floor(this.timeoutMs / 1_000))}s`);
    } catch (thrown) {
      return { kind: "error", message: this.redact(this.describeFailure(thrown)) };
    }
    return this.interpret(answer.resultType, answer.result);
  }

  private interpret(resultType: string, result: unknown): QueryResult {
    if (resultType === "scalar") {
      const scalar = ScalarResult.safeParse(result);
      return scalar.success ? { kind: "value", value: parseSample(scalar.data[1]) } : unexpected("a malformed scalar");
    }
    if (resultType !== "vector") {
      return { kind: "error", message: `query returned a ${resultType === "matrix" ? "range vector" : resultType}; expected an instant vector or a scalar` };
    }
    const vector = VectorResult.safeParse(result);
    if (!vector.success) return unexpected("a malformed vector");
    const [first, ...rest] = vector.data;
    if (first === undefined) return { kind: "empty" };
    if (rest.length > 0) return { kind: "error", message: `query returned ${vector.data.length} series; expected one (sum it in the template)` };
    return { kind: "value", value: first.value.value };
  }

  private describeFailure(thrown: unknown): string {
    if (thrown instanceof Error) return `unexpected answer from ${this.host}: ${thrown.message}`;
    const failure = DriverFailure.safeParse(thrown);
    if (!failure.success) return `unexpected failure querying ${this.host}`;
    const { httpStatus, error, code, errorType } = failure.data;
    if (httpStatus !== undefined) return `HTTP ${httpStatus}: ${error || "no error text"}`;
    switch (code) {
      case "ECONNREFUSED":
        return `cannot connect to ${this.host}: connection refused`;
      case "ECONNABORTED":
      case "ETIMEDOUT":
        return `no answer from ${this.host} within ${this.timeoutMs} ms`;
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return `cannot resolve ${this.host}`;
      case "ECONNRESET":
        return `connection to ${this.host} was reset`;
    }
    if (errorType === "client_error") return `unexpected answer from ${this.host}: not Prometheus' query API`;
    return `cannot reach ${this.host}: ${[code, error].filter((part) => part).join(" ") || "network error"}`;
  }

  private redact(message: string): string {
    return redact(message, this.secrets);
  }
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('invalid Prometheus URL: expected "http(s)://host:port"');
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`invalid Prometheus URL: expected http or https, found ${url.protocol}`);
  return url;
}

/** Header values, and the credential after a scheme ("Bearer <token>"), long enough to be secrets. */
/** Each header value, and its credential without the scheme ("Bearer abc" and "abc"). */
function secretsIn(values: string[]): string[] {
  return values.flatMap((value) => [value, value.replace(/^\S+\s+/, "")]);
}

/** Prometheus' number text: "NaN", "+Inf", "-Inf" or a decimal. */
export function parseSample(text: string): number {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

/** The driver reads samples with parseFloat, which reads "+Inf" as NaN: spell infinities its way first. */
function spellInfinities(body: unknown): void {
  const data = isRecord(body) ? body.data : undefined;
  if (!isRecord(data) || data.resultType !== "vector" || !Array.isArray(data.result)) return;
  for (const sample of data.result) {
    const pair = isRecord(sample) ? sample.value : undefined;
    if (Array.isArray(pair) && typeof pair[1] === "string") pair[1] = String(parseSample(pair[1]));
  }
}

/**
 * A proxy's 401 or 502 page is not Prometheus JSON; give the driver an API-shaped body so the
 * failure keeps its HTTP status instead of becoming "unexpected client error".
 */
function explainNonApiAnswer(error: unknown): void {
  const response = isRecord(error) ? error.response : undefined;
  if (!isRecord(response) || (isRecord(response.data) && "status" in response.data)) return;
  const body = typeof response.data === "string" ? (response.data.trim().split("\n")[0] ?? "") : "";
  const statusText = typeof response.statusText === "string" ? response.statusText : "";
  const text = statusText || (body.length > 0 && body.length <= 200 && !body.startsWith("<") ? body : "not Prometheus' query API");
  response.data = { status: "error", errorType: "http_error", error: text };
}

function unexpected(what: string): QueryResult {
  return { kind: "error", message: `unexpected answer: ${what}` };
}
