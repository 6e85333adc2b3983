/**
 * Error rates that wander over time, as a real service's do when its load or a shared dependency
 * varies: one factor for every version, whose log follows a mean-reverting random walk (an
 * Ornstein-Uhlenbeck process), seeded so runs repeat. Versions keep their ratio to each other,
 * so a canary as good as stable stays as good as stable, but any fixed threshold sees it move.
 */

/** How the error rates drift together. */
export interface ErrorDrift {
  /** Standard deviation of the factor's log: 0.3 keeps the factor mostly within 0.55x..1.8x. */
  spread: number;
  /** How long a deviation lasts (the walk's mean-reversion time), in seconds. Default 20. */
  timescaleSeconds?: number;
}

export interface ErrorFactor {
  /** The factor now; its mean over time is 1. */
  readonly value: number;
  /** Moves the walk on by `seconds`. */
  advance(seconds: number): void;
}

/** A factor that never moves: no drift configured. */
export const STEADY: ErrorFactor = { value: 1, advance: () => undefined };

export function checkErrorDrift(drift: ErrorDrift): Required<ErrorDrift> {
  const { spread, timescaleSeconds = 20 } = drift;
  if (!(spread >= 0 && Number.isFinite(spread))) throw new RangeError(`errorDrift.spread must be a finite number >= 0, got ${spread}`);
  if (!(timescaleSeconds > 0 && Number.isFinite(timescaleSeconds))) throw new RangeError(`errorDrift.timescaleSeconds must be > 0, got ${timescaleSeconds}`);
  return { spread, timescaleSeconds };
}

/** A drifting factor driven by `random` (uniform in [0, 1)); it starts from the walk's stationary spread. */
export function driftingErrorFactor(drift: ErrorDrift, random: () => number): ErrorFactor {
  const { spread, timescaleSeconds } = checkErrorDrift(drift);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  let log = spread * normal();
  return {
    get value() {
      // Minus spread^2/2: the log-normal factor's mean is 1, so errorRate stays the mean rate.
      return Math.exp(log - (spread * spread) / 2);
    },
    advance(seconds) {
      if (!(seconds > 0)) return;
      const keep = Math.exp(-seconds / timescaleSeconds);
      log = log * keep + spread * Math.sqrt(1 - keep * keep) * normal();
    },
  };
}

/** mulberry32: a small, fast, seeded generator of uniforms in [0, 1), so simulated traffic repeats. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
