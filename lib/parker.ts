// How one end of a channel waits for the other: an optional bounded spin
// (no syscall, lowest latency, burns CPU), then an eventcount sleep on its
// wait line, on the event loop (Waiter) or blocking the thread (futex).
import { Waiter, type WaitLine, type WaitMode } from "./notify.js";

/**
 * A sleeping end wakes at least this often to re-check on its own, so that
 * a lost or corrupted wakeup, or a dead peer, can never leave it asleep for
 * good. Costs one timer per interval while asleep; nothing while awake.
 */
export const RECHECK_MS = 250;

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

  #spin(ready: () => boolean, deadline: number): boolean {
    if (this.spinUs <= 0) return ready();
    const end = Math.min(deadline, performance.now() + this.spinUs / 1000);
    for (;;) {
      if (ready()) return true;
      if (performance.now() >= end) return false;
    }
  }

  /**
   * Returns once ready() may have become true (the caller re-checks): spins,
   * then sleeps on the event loop until the peer notifies the line or
   * RECHECK_MS pass.
   */
  async park(ready: () => boolean): Promise<void> {
    if (this.#spin(ready, Infinity)) return;
    const seq = this.line.prepare(this.mode);
    try {
      if (ready()) return;
      this.#waiter ??= new Waiter(this.line, this.mode);
      this.sleeps++;
      await this.#waiter.wait(seq, RECHECK_MS);
    } finally {
      this.line.finish();
    }
  }

  /**
   * Blocking variant for worker threads: returns false if `deadline`
   * (performance.now() time) passed without ready() becoming true.
   */
  parkSync(ready: () => boolean, deadline: number): boolean {
    if (this.#spin(ready, deadline)) return true;
    for (;;) {
      const seq = this.line.prepare("sync");
      try {
        if (ready()) return true;
        const left = deadline - performance.now();
        if (left <= 0) return false;
        this.sleeps++;
        this.line.waitSync(seq, Math.min(left, RECHECK_MS));
      } finally {
        this.line.finish();
      }
      if (ready()) return true;
    }
  }

  /** Ends a pending park(): it rejects with ECLOSED. */
  close(): void {
    this.#waiter?.close();
    this.#waiter = null;
  }
}
