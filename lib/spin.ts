// How long a waiting end spins (re-checking shared memory, no syscall)
// before it goes to sleep. Spinning turns a 20-30 us sleep/wake into a
// sub-microsecond hand-over, but only when the peer answers while we spin:
// on a busy machine the spinner steals the CPU the peer needs, and a fixed
// spin made a loaded round trip 3x slower than not spinning at all
// (docs/BENCHMARKS.md, "Waiting strategy"). So by default the budget adapts,
// as adaptive mutexes and Aeron's backoff idle strategies do: it follows
// the waits that spinning caught, shrinks when spinning fails, and switches
// spinning off while it keeps failing, probing now and then to notice when
// it would pay again.
import { availableParallelism } from "node:os";

/** Largest adaptive budget, microseconds: about two sleep/wake cycles. */
export const MAX_ADAPTIVE_SPIN_US = 50;
/** Budget an adaptive policy starts with, microseconds. */
export const INITIAL_ADAPTIVE_SPIN_US = 20;
/** While spinning is off, every PROBE_EVERY-th wait spins PROBE_US to re-learn. */
export const PROBE_EVERY = 16;
export const PROBE_US = 10;

export interface SpinPolicy {
  /** Microseconds to spin on the next wait (0: sleep at once; Infinity: never sleep). */
  budget(): number;
  /** Reports how the spin of one wait went: `us` spun, and whether it caught the event. */
  record(us: number, caught: boolean): void;
  /** "adaptive", or the fixed number of microseconds. */
  readonly kind: "adaptive" | number;
}

export class FixedSpin implements SpinPolicy {
  readonly kind: number;
  constructor(us: number) {
    this.kind = us;
  }
  budget(): number {
    return this.kind;
  }
  record(): void {}
}

export class AdaptiveSpin implements SpinPolicy {
  readonly kind = "adaptive" as const;
  #limit: number; // current budget, us; 0 = spinning is off
  #avg = INITIAL_ADAPTIVE_SPIN_US / 2; // running mean of the spins that caught the event, us
  #sinceProbe = 0;
  #probing = false;

  constructor(cores = availableParallelism()) {
    // One core: the peer can only run when we stop, so spinning never pays.
    this.#limit = cores < 2 ? 0 : INITIAL_ADAPTIVE_SPIN_US;
    if (cores < 2) this.#sinceProbe = -Infinity;
  }

  budget(): number {
    this.#probing = false;
    if (this.#limit > 0) return this.#limit;
    if (++this.#sinceProbe < PROBE_EVERY) return 0;
    this.#sinceProbe = 0;
    this.#probing = true;
    return PROBE_US;
  }

  record(us: number, caught: boolean): void {
    if (caught) {
      this.#avg += (us - this.#avg) / 8;
      // Room for the usual wait and its jitter, within the cap.
      this.#limit = Math.min(MAX_ADAPTIVE_SPIN_US, Math.max(4, 2 * this.#avg + 4));
    } else if (!this.#probing) {
      // The event came later than we spun: halve, and stop below 2 us.
      this.#limit = this.#limit / 2 < 2 ? 0 : this.#limit / 2;
    }
  }
}

/** The policy for a `spin` option: undefined or "adaptive" adapts; a number is fixed. */
export function spinPolicy(spin: number | "adaptive" | undefined): SpinPolicy {
  return spin === undefined || spin === "adaptive" ? new AdaptiveSpin() : new FixedSpin(spin);
}
