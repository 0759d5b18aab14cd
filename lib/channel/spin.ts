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
import { cpus } from "node:os";

/**
 * Budget while spinning is on, microseconds: about two sleep/wake cycles.
 * Measured (docs/BENCHMARKS.md): a budget fitted to the mean catch time
 * (2x mean + 10 us) failed on the tail of a noisy VM's catch times, and each
 * failure makes the peer pay a wake-up; a failed spin costs only CPU.
 */
export const ADAPTIVE_SPIN_US = 50;
/**
 * Spinning stays on while at least ON_RATE of the recent spins (a running
 * mean over about RATE_WINDOW of them) caught the event: failures come in
 * bursts (the peer descheduled for a while), and a burst must not switch
 * off a spin that catches most of the time.
 */
export const ON_RATE = 0.5;
export const RATE_WINDOW = 16;
/** While spinning is off, every PROBE_EVERY-th wait probes: spins long enough to catch a sleeping peer's answer. */
export const PROBE_EVERY = 8;
/** Bounds of a probe's spin, microseconds: 1.5 times the usual sleep-to-ready time, within these. */
export const MIN_PROBE_US = 50;
export const MAX_PROBE_US = 250;

export interface SpinPolicy {
  /** Microseconds to spin on the next wait (0: sleep at once; Infinity: never sleep). */
  budget(): number;
  /** Reports how the spin of one wait went: `us` spun, and whether it caught the event. */
  record(us: number, caught: boolean): void;
  /** Reports a wait that had to sleep: `us` from its start until the event. */
  slept(us: number): void;
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
  slept(): void {}
}

export class AdaptiveSpin implements SpinPolicy {
  readonly kind = "adaptive" as const;
  #rate = 1; // running share of spins that caught the event; spinning is on while >= ON_RATE
  #slept = MIN_PROBE_US; // running mean of a sleeping wait's duration, us
  #sinceProbe = 0;
  #probing = false;
  #trial = 0; // waits left that spin a probe's budget after a probe caught
  readonly #never: boolean;

  constructor(cores = cpus().length) {
    // One core: the peer can only run when we stop, so spinning never pays.
    // The machine's cores, not this process's affinity: a process pinned to
    // one core (taskset, bench --pin) with its peer pinned to another gains
    // the most from spinning, and availableParallelism() would say 1 (it
    // switched spinning off in every pinned benchmark: 60 us round trips).
    // Two ends pinned to one core are caught by the spins failing.
    this.#never = cores < 2;
  }

  /** Long enough to catch the answer of a peer that sleeps too (its wake-up included). */
  #probeBudget(): number {
    return Math.min(MAX_PROBE_US, Math.max(MIN_PROBE_US, 1.5 * this.#slept));
  }

  budget(): number {
    this.#probing = false;
    if (this.#never) return 0;
    if (this.#trial > 0) {
      this.#trial--;
      return this.#probeBudget();
    }
    if (this.#rate >= ON_RATE) return ADAPTIVE_SPIN_US;
    if (++this.#sinceProbe < PROBE_EVERY) return 0;
    this.#sinceProbe = 0;
    this.#probing = true;
    return this.#probeBudget();
  }

  record(_us: number, caught: boolean): void {
    if (caught) {
      if (this.#probing) {
        // Both ends asleep is a trap: each one's answer comes late because
        // the other sleeps. Keep spinning for a probe interval, so the
        // peer's own probe finds us quick and it starts spinning too.
        this.#trial = PROBE_EVERY + 1;
        this.#rate = ON_RATE + 0.1;
      } else {
        this.#rate += (1 - this.#rate) / RATE_WINDOW;
      }
    } else if (!this.#probing && this.#trial === 0) {
      this.#rate -= this.#rate / RATE_WINDOW;
    }
  }

  slept(us: number): void {
    this.#slept += (us - this.#slept) / 8;
  }
}

/** The policy for a `spin` option: undefined or "adaptive" adapts; a number is fixed. */
export function spinPolicy(spin: number | "adaptive" | undefined): SpinPolicy {
  return spin === undefined || spin === "adaptive" ? new AdaptiveSpin() : new FixedSpin(spin);
}
