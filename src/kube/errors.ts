/** Errors from the API server, with the server's own message pulled out of the raw body. */

export class KubeError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

interface StatusBody {
  message?: unknown;
  reason?: unknown;
}

/** Turns an ApiException (whose body is a raw JSON string) or anything thrown into a KubeError. */
export function kubeError(error: unknown, context: string): KubeError {
  if (error instanceof KubeError) return error;
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "number") {
    const rawBody = "body" in error ? error.body : undefined;
    let body: StatusBody = {};
    if (typeof rawBody === "string") {
      try {
        body = JSON.parse(rawBody) as StatusBody;
      } catch {
        body = { message: rawBody.slice(0, 200) };
      }
    } else if (typeof rawBody === "object" && rawBody !== null) {
      body = rawBody as StatusBody;
    }
    const message = typeof body.message === "string" ? body.message : `HTTP ${error.code}`;
    return new KubeError(error.code, `${context}: ${message}`, typeof body.reason === "string" ? body.reason : undefined);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new KubeError(0, `${context}: ${message}`);
}

export function isConflict(error: unknown): boolean {
  return error instanceof KubeError && error.code === 409;
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeError && error.code === 404;
}
