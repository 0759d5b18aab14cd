// How one end of a channel waits for the other: an optional bounded spin
// (no syscall, lowest latency, burns CPU), then an eventcount sleep on its
// wait line, on the event loop (Waiter) or blocking the thread (futex).
// Each call is one bounded cycle; the caller loops, and between cycles it
// checks what no wakeup can announce: that the peer process died.
import { Waiter, type WaitLine, type WaitMode } from "./notify.js";

/**
 * Longest a waiting end goes without re-checking on its own: the bound on
 * noticing a dead peer (EPEERDEAD), or a wakeup lost to a corrupted segment.
 * Costs one timer per interval while asleep; nothing while busy.
 */
export const RECHECK_MS = 100;

/**
 * The re-check interval while the peer's process is watched through a pidfd
 * (its death then wakes us at once): only a safety net against wakeups lost
 * to a corrupted segment. Keeps an idle channel's timer cost low.
 */
export const RECHECK_WATCHED_MS = 1000;

export class Parker {
  readonly line: WaitLine;
  readonly mode: WaitMode;
  /** Microseconds to spin before sleeping; Infinity never sleeps. */
  readonly spinUs: number;
  #waiter: Waiter | null = null;
  /** Times this end actually went to sleep. */
  sleeps = 0;

  constructor(line: WaitLine, mode: WaitMode, spinUs: number) {
    this.line = line;
    this.mode = mode;
    this.spinUs = spinUs;
  }

  /** Spins until ready() or the spin budget (at most RECHECK_MS, and `deadline`) runs out. */
  #spin(ready: () => boolean, deadline: number): boolean {
    if (this.spinUs <= 0) return ready();
    const end = Math.min(deadline, performance.now() + Math.min(this.spinUs / 1000, RECHECK_MS));
    for (;;) {
      if (ready()) return true;
      if (performance.now() >= end) return false;
    }
  }

  /**
   * One wait cycle on the event loop: spin, then sleep until the peer
   * notifies the line or RECHECK_MS pass. Resolves true if ready() was seen,
   * false if the cycle ended without it (the caller re-checks and loops).
   * `watched`: the peer's death wakes us by itself (a pidfd watch), so the
   * re-check can wait RECHECK_WATCHED_MS.
   */
  async park(ready: () => boolean, watched = false): Promise<boolean> {
    if (this.#spin(ready, Infinity)) return true;
    if (this.spinUs === Infinity) return false;
    // The waiter's mode, not ours: a doorbell it could not use safely fell back to the futex.
    this.#waiter ??= new Waiter(this.line, this.mode);
    const seq = this.line.prepare(this.#waiter.mode);
    try {
      if (ready()) return true;
      this.sleeps++;
      await this.#waiter.wait(seq, watched ? RECHECK_WATCHED_MS : RECHECK_MS);
    } finally {
      this.line.finish();
    }
    return ready();
  }

  /**
   * One blocking wait cycle (futex) for worker threads, ending by `deadline`
   * (a performance.now() time) at the latest. Returns whether ready() was seen.
   */
  parkSync(ready: () => boolean, deadline: number): boolean {
    if (this.#spin(ready, deadline)) return true;
    if (this.spinUs === Infinity) return false;
    const seq = this.line.prepare("sync");
    try {
      if (ready()) return true;
      const left = Math.min(deadline - performance.now(), RECHECK_MS);
      if (left <= 0) return false;
      this.sleeps++;
      this.line.waitSync(seq, left);
    } finally {
      this.line.finish();
    }
    return ready();
  }

  /** Ends a pending park(): it rejects with ECLOSED. */
  close(): void {
    this.#waiter?.close();
    this.#waiter = null;
  }
}
