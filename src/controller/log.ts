/** JSON logs (pino) that never carry a secret: every string is scrubbed before it is written. */
import { pino, type Logger } from "pino";
import { redact } from "../secrets/redact.js";

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Where to write; stdout by default (tests capture it). */
  destination?: NodeJS.WritableStream;
}

export class Secrets {
  private readonly values = new Set<string>();

  /** Adds values to scrub; any non-empty one, whatever its length (see redact). */
  add(...secrets: (string | undefined)[]): void {
    for (const secret of secrets) if (secret) this.values.add(secret);
  }

  scrub(text: string): string {
    return redact(text, this.values);
  }

  /** A deep copy of `value` with every string scrubbed. */
  scrubValue(value: unknown): unknown {
    if (typeof value === "string") return this.scrub(value);
    if (value instanceof Error) return { type: value.name, message: this.scrub(value.message) };
    if (Array.isArray(value)) return value.map((v) => this.scrubValue(v));
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.scrubValue(v)]));
    }
    return value;
  }
}

export function createLogger(secrets: Secrets, options: LogOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { component: "tideway" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => secrets.scrubValue(a)) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
    },
    options.destination ?? process.stdout,
  );
}
