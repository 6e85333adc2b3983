/**
 * Bursts of summarized events (SUMMARIZED_KINDS), kept in Redis so that every replica adds to
 * the same one. The first event after `aloneAfterMs` without any is told alone, at once, as it
 * always was; the ones that follow gather in a batch, told as one summary when the burst goes
 * quiet (or some time after the batch opened, in a long burst: see NotificationQueue.summarize). Each step is one
 * Lua script, so two replicas never open two batches, and an event never joins a batch already
 * being told. An event is admitted once: told again (an outbox replayed), it gets the same verdict.
 */
import type { Redis } from "ioredis";
import { z } from "zod";
import type { SlackMessage } from "./slack-blocks.js";
import { SUMMARIZED_KINDS, type SummaryEntry } from "./slack-summary-message.js";

/** Where an admitted event goes: alone, at once; or into the batch named. */
export type BurstVerdict = { alone: true } | { alone: false; batch: string };

export interface BurstState {
  /** Whether events still join the batch. */
  open: boolean;
  /** When the last event of the burst came, and when the batch opened (Redis's clock, ms). */
  lastAt: number;
  openedAt: number;
  now: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: burst, seen. ARGV: aloneAfterMs, event key, entry, ttlMs.
const ADMIT = `${NOW}
local seen = redis.call('GET', KEYS[2])
if seen then return seen end
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
redis.call('HSET', KEYS[1], 'last', now)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local verdict = 'alone'
if last and now - last <= tonumber(ARGV[1]) then
  verdict = redis.call('HGET', KEYS[1], 'batch')
  if not verdict then
    verdict = now .. '-' .. redis.call('HINCRBY', KEYS[1], 'seq', 1)
    redis.call('HSET', KEYS[1], 'batch', verdict, 'opened', now)
  end
  local entries = KEYS[1] .. ':' .. verdict
  redis.call('HSET', entries, ARGV[2], ARGV[3])
  redis.call('PEXPIRE', entries, ARGV[4])
end
redis.call('SET', KEYS[2], verdict, 'PX', ARGV[4])
return verdict`;

// KEYS: burst. ARGV: batch. Returns open (0/1), last, opened, now.
const STATE = `${NOW}
local open = redis.call('HGET', KEYS[1], 'batch') == ARGV[1] and 1 or 0
return { open, tonumber(redis.call('HGET', KEYS[1], 'last')) or 0, tonumber(redis.call('HGET', KEYS[1], 'opened')) or 0, now }`;

// KEYS: burst. ARGV: batch. Later events open another batch.
const CLOSE = `if redis.call('HGET', KEYS[1], 'batch') == ARGV[1] then redis.call('HDEL', KEYS[1], 'batch', 'opened') end return 1`;

const SlackMessageSchema = z.object({ text: z.string(), blocks: z.array(z.object({ type: z.string() })), channel: z.string().optional() });

const EntrySchema = z.object({
  kind: z.enum(SUMMARIZED_KINDS),
  rollout: z.object({ namespace: z.string(), name: z.string() }),
  version: z.string(),
  message: z.string(),
  cause: z.string().optional(),
  commit: z.object({ sha: z.string(), author: z.string().optional(), subject: z.string().optional() }).optional(),
  // Built by slackMessage and written by this class; only its outline is checked.
  alone: z.custom<SlackMessage>((value) => SlackMessageSchema.safeParse(value).success),
});

export class Bursts {
  constructor(
    private readonly redis: Redis,
    /** Redis key prefix, e.g. "tideway:notify-burst". */
    private readonly prefix: string,
    private readonly ttlMs = DAY_MS,
  ) {}

  /** Adds an event (its key, and what its summary line needs) to the burst of `scope`. */
  async admit(scope: string, eventKey: string, entry: SummaryEntry, aloneAfterMs: number): Promise<BurstVerdict> {
    const verdict = await this.redis.eval(ADMIT, 2, this.key(scope), `${this.key(scope)}:seen:${eventKey}`, aloneAfterMs, eventKey, JSON.stringify(entry), this.ttlMs);
    const batch = String(verdict);
    return batch === "alone" ? { alone: true } : { alone: false, batch };
  }

  async state(scope: string, batch: string): Promise<BurstState> {
    const reply = await this.redis.eval(STATE, 1, this.key(scope), batch);
    const [open, lastAt, openedAt, now] = z.array(z.coerce.number()).length(4).parse(reply);
    return { open: open === 1, lastAt: lastAt ?? 0, openedAt: openedAt ?? 0, now: now ?? 0 };
  }

  /** Closes the batch: what it holds now is what its summary tells, however often that is tried. */
  async close(scope: string, batch: string): Promise<void> {
    await this.redis.eval(CLOSE, 1, this.key(scope), batch);
  }

  /** The batch's events; an entry that cannot be read is left out rather than losing the summary. */
  async entries(scope: string, batch: string): Promise<SummaryEntry[]> {
    const raw = await this.redis.hvals(`${this.key(scope)}:${batch}`);
    return raw.flatMap((text) => {
      try {
        const parsed = EntrySchema.safeParse(JSON.parse(text));
        return parsed.success ? [parsed.data] : [];
      } catch {
        return [];
      }
    });
  }

  /** Drops a told batch. */
  async forget(scope: string, batch: string): Promise<void> {
    await this.redis.del(`${this.key(scope)}:${batch}`);
  }

  private key(scope: string): string {
    return `${this.prefix}:${scope}`;
  }
}
