// How long a waiting end spins (re-checking shared memory, no syscall)
// before it goes to sleep. Spinning turns a 20-30 us sleep/wake into a
// sub-microsecond hand-over, but only when the peer answers while we spin:
// on a busy machine the spinner steals the CPU the peer needs, and a fixed
// spin made a loaded round trip 3x slower than not spinning at all
// (docs/BENCHMARKS.md, "Waiting strategy"). So by default the budget adapts,
// as adaptive mutexes and Aeron's backoff idle strategies do: it follows
// the waits that spinning caught and switches spinning off while it keeps
// failing, probing now and then to notice when it would pay again. Whether
// spinning pays is measured on the spins themselves: two machine-load
// signals we tried instead (the kernel's preemptions of this process, and
// the other processes' CPU use from /proc/stat) both turned spinning off
// where it paid most (docs/BENCHMARKS.md, "Waiting strategy").
import { availableParallelism } from "node:os";

/** Largest adaptive budget, microseconds: about two sleep/wake cycles. */
export const MAX_ADAPTIVE_SPIN_US = 50;
/** Smallest budget while spinning is on, microseconds. */
export const MIN_ADAPTIVE_SPIN_US = 10;
/** While spinning is off, every PROBE_EVERY-th wait spins MAX_ADAPTIVE_SPIN_US to re-learn. */
export const PROBE_EVERY = 16;

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
  #score = 4; // > 0: spinning is on; caught spins raise it, failed ones lower it
  #avg = MIN_ADAPTIVE_SPIN_US; // running mean of the spins that caught the event, us
  #limit = 2 * MIN_ADAPTIVE_SPIN_US;
  #sinceProbe = 0;
  #probing = false;
  readonly #never: boolean;

  constructor(cores = availableParallelism()) {
    // One core: the peer can only run when we stop, so spinning never pays.
    this.#never = cores < 2;
  }

  budget(): number {
    this.#probing = false;
    if (this.#never) return 0;
    if (this.#score > 0) return this.#limit;
    if (++this.#sinceProbe < PROBE_EVERY) return 0;
    this.#sinceProbe = 0;
    this.#probing = true;
    return MAX_ADAPTIVE_SPIN_US;
  }

  record(us: number, caught: boolean): void {
    if (caught) {
      this.#avg += (us - this.#avg) / 8;
      // Room for the usual wait and its jitter, within the bounds.
      this.#limit = Math.min(MAX_ADAPTIVE_SPIN_US, Math.max(MIN_ADAPTIVE_SPIN_US, 2 * this.#avg + MIN_ADAPTIVE_SPIN_US));
      this.#score = this.#probing ? 2 : Math.min(8, this.#score + 1);
    } else if (!this.#probing) {
      this.#score -= 2;
    }
  }
}

/** The policy for a `spin` option: undefined or "adaptive" adapts; a number is fixed. */
export function spinPolicy(spin: number | "adaptive" | undefined): SpinPolicy {
  return spin === undefined || spin === "adaptive" ? new AdaptiveSpin() : new FixedSpin(spin);
}
