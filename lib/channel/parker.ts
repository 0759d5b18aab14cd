// How one end of a channel waits for the other: spin (re-checking shared
// memory, no syscall) for as long as the spin policy says it pays, then
// sleep on the end's wait line (eventcount, csrc/core/notify.h) until the peer
// notifies it. Every wait has a way out: a deadline (ETIMEDOUT), an
// AbortSignal (AbortError), close() (ECLOSED), and a periodic re-check
// that notices what no wakeup announces (the peer's process died).
//
// On the event loop any number of waits may be pending on one end (a
// writer's queued send() and a writable(), say): they share one native
// sleep, and every wakeup resolves them all, so none steals another's.
// A spin on the event loop yields to the loop at least every millisecond.
import { abortError, shmError } from "../core/errors.js";
import { native, type WaitMode, type WaiterHandle } from "../core/native.js";
import type { WaitLine } from "../core/notify.js";
import { flushHeld } from "../core/publish.js";
import type { SpinPolicy } from "./spin.js";

/**
 * Longest a sleeping end goes without re-checking on its own: the bound on
 * noticing a dead peer (EPEERDEAD) that no pidfd watches, or a wakeup lost
 * to a corrupted segment. Costs one timer per interval while asleep.
 */
export const RECHECK_MS = 100;

/**
 * The re-check interval while the peer's process is watched through a pidfd
 * (its death then wakes us at once): only a safety net against wakeups lost
 * to a corrupted segment. Keeps an idle channel's timer cost low.
 */
export const RECHECK_WATCHED_MS = 1000;

/** Longest synchronous spin on the event loop before yielding to it (ms). */
export const SPIN_SLICE_MS = 1;

/** What one wait is for, and its ways out. */
export interface WaitSpec {
  /** The condition waited for; re-evaluated after every wakeup. */
  ready: () => boolean;
  /** Called when a sleep ends on its re-check timer without progress; throws to end the wait (EPEERDEAD). */
  recheck: () => void;
  /** Whether the peer's death wakes us by itself (then re-checks are rare). */
  watched?: () => boolean;
  /** performance.now() time after which the wait rejects with ETIMEDOUT. */
  deadline: number;
  /** The timeout the caller gave, for the error message. */
  timeout?: number;
  signal?: AbortSignal | undefined;
  /** Operation name for error messages ("recv", "send", ...). */
  op: string;
}

interface Sleeper {
  resolve: () => void;
  timer: NodeJS.Timeout | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export class Parker {
  readonly line: WaitLine;
  readonly #requested: WaitMode;
  readonly #spin: SpinPolicy;
  #handle: WaiterHandle | null = null;
  #armed = false;
  #closed = false;
  readonly #sleepers = new Set<Sleeper>();
  #active = 0; // async waits in progress (spinning or asleep)
  #spinning = false; // one async wait spins at a time; the others poll once per loop turn or sleep
  /**
   * Sleeps this end announced on its wait line: each one a new announcement
   * that went to sleep or was left standing, or that a waker took before it
   * could be withdrawn. The peer sends at most one wake per announcement
   * (csrc/core/notify.h), so its wakeups never exceed these (plus its close).
   */
  sleeps = 0;

  constructor(line: WaitLine, mode: WaitMode, spin: SpinPolicy) {
    this.line = line;
    this.#requested = mode;
    this.#spin = spin;
  }

  /** The event-loop wake path in use (the native side may fall back from doorbell to futex). */
  get mode(): WaitMode {
    return this.#handle?.mode() ?? this.#requested;
  }

  /** The spin policy: "adaptive" or a fixed number of microseconds. */
  get spin(): "adaptive" | number {
    return this.#spin.kind;
  }

  /** Whether an async wait is in progress on this end. */
  get busy(): boolean {
    return this.#active > 0;
  }

  #throwIfDone(s: WaitSpec): void {
    if (this.#closed) throw shmError("ECLOSED", `${s.op}() ended: the channel was closed`);
    if (s.signal?.aborted) throw abortError(s.signal);
    if (performance.now() >= s.deadline) throw shmError("ETIMEDOUT", `${s.op}() timed out after ${s.timeout} ms`);
  }

  /**
   * Waits on the event loop until s.ready() holds. Rejects with ECLOSED
   * (close()), AbortError, ETIMEDOUT, or whatever s.recheck() throws.
   */
  async wait(s: WaitSpec): Promise<void> {
    if (s.ready()) return;
    flushHeld(); // nothing this process holds back may be what we wait for (publish.ts)
    this.#active++;
    const t0 = performance.now();
    try {
      for (;;) {
        this.#throwIfDone(s);
        const budget = this.#spin.budget();
        if (budget > 0 && !this.#spinning) {
          this.#spinning = true;
          try {
            // The first slice synchronously: most spins that catch do so
            // within it, and then no promise is awaited here at all.
            const t = performance.now();
            const first = this.#spinSlice(s, t, t + budget / 1000, budget);
            if (first === "ready" || (first === "more" && (await this.#spinAsync(s, t, budget)))) return;
          } finally {
            this.#spinning = false;
          }
          this.#throwIfDone(s); // closed, aborted or timed out while spinning
        } else if (budget === Infinity) {
          // Another wait on this end spins already: N spinners would make each
          // loop turn take N slices. Poll once per turn instead.
          await yieldToLoop();
          if (s.ready()) return;
          continue;
        }
        if (budget === Infinity) continue;
        await this.#sleep(s);
        if (s.ready()) {
          this.#spin.slept((performance.now() - t0) * 1000);
          return;
        }
        // Woken without progress (a spurious wake, the pidfd of a dead peer)
        // or by the re-check timer: ask what no wakeup announces.
        if (!this.#closed) s.recheck();
      }
    } finally {
      this.#active--;
    }
  }

  /**
   * One slice of a spin that started at t0 and may last until `end`: spins
   * until ready() ("ready"), the spin's end or the deadline ("over"), or
   * SPIN_SLICE_MS ("more": yield to the loop, then spin on).
   */
  #spinSlice(s: WaitSpec, t0: number, end: number, budgetUs: number): "ready" | "over" | "more" {
    const sliceEnd = Math.min(end, s.deadline, performance.now() + SPIN_SLICE_MS);
    for (;;) {
      if (s.ready()) {
        this.#spin.record((performance.now() - t0) * 1000, true);
        return "ready";
      }
      if (performance.now() >= sliceEnd) break;
    }
    const now = performance.now();
    if (now >= end || now >= s.deadline) {
      this.#spin.record(budgetUs, false);
      return "over";
    }
    return "more";
  }

  /** The rest of a spin after its first slice: yields to the loop between slices. Returns whether ready() was seen. */
  async #spinAsync(s: WaitSpec, t0: number, budgetUs: number): Promise<boolean> {
    const end = t0 + budgetUs / 1000;
    let nextRecheck = t0 + RECHECK_MS;
    for (;;) {
      await yieldToLoop();
      if (s.ready()) return true;
      this.#throwIfDone(s);
      if (performance.now() >= nextRecheck) {
        nextRecheck = performance.now() + RECHECK_MS;
        s.recheck();
      }
      const r = this.#spinSlice(s, t0, end, budgetUs);
      if (r !== "more") return r === "ready";
    }
  }

  /** One sleep: until the line is notified, the re-check timer fires, the signal aborts or close(). */
  #sleep(s: WaitSpec): Promise<void> {
    if (this.#closed) return Promise.resolve(); // the caller's loop throws ECLOSED
    // Before anything is armed: it may fail (a pidfd at the descriptor limit).
    const recheck = s.watched?.() ? RECHECK_WATCHED_MS : RECHECK_MS;
    if (this.#handle === null) {
      const line = this.line;
      const { WaiterHandle } = native();
      this.#handle = new WaiterHandle(line.segment.handle, line.offset, this.#requested, () => this.#fire());
    }
    const line = this.line;
    const seq = line.prepare(this.#handle.mode());
    const created = line.created;
    // SYNC POINT: the re-check after `waiting` is set (prepare); pairs with
    // the waker's store of the state, then load of `waiting` (notify.h).
    if (s.ready()) {
      // Withdrawn, unless other sleepers share it (then it stands for them)
      // or a waker took it first: either way a wake may be spent on it.
      if (this.#sleepers.size > 0) {
        if (created) this.sleeps++;
      } else if (!line.finish() && created) this.sleeps++;
      return Promise.resolve();
    }
    if (!this.#armed) {
      this.#handle.arm(seq);
      this.#armed = true;
    }
    if (created || this.#sleepers.size === 0) this.sleeps++;
    return new Promise<void>((resolve) => {
      const sleeper: Sleeper = { resolve, timer: null, signal: s.signal, onAbort: null };
      const ms = Math.max(0, Math.min(recheck, s.deadline - performance.now()));
      sleeper.timer = setTimeout(() => this.#wake(sleeper), ms);
      if (s.signal) {
        sleeper.onAbort = () => this.#wake(sleeper);
        s.signal.addEventListener("abort", sleeper.onAbort, { once: true });
      }
      this.#sleepers.add(sleeper);
    });
  }

  /** Ends one sleeper's sleep; the last one out disarms the native wait. */
  #wake(sleeper: Sleeper): void {
    if (!this.#sleepers.delete(sleeper)) return;
    if (sleeper.timer !== null) clearTimeout(sleeper.timer);
    if (sleeper.onAbort !== null) sleeper.signal?.removeEventListener("abort", sleeper.onAbort);
    if (this.#sleepers.size === 0 && this.#armed && !this.#closed) {
      this.#armed = false;
      this.#handle?.disarm();
      this.line.finish();
    }
    sleeper.resolve();
  }

  /** The native wait fired: every sleeper re-checks. */
  #fire(): void {
    this.#armed = false;
    if (!this.#closed) this.line.finish();
    this.#wakeAll();
  }

  #wakeAll(): void {
    for (const s of [...this.#sleepers]) this.#wake(s);
  }

  /**
   * Wakes this end's own sleepers to re-check their conditions, without a
   * syscall: for state that changed in this process (a writer's send queue
   * drained), which no notify of the line announces.
   */
  kick(): void {
    this.#wakeAll();
  }

  /**
   * One blocking wait (futex) for worker threads, until ready() or
   * `deadline` (a performance.now() time). Returns whether ready() was seen.
   * Calls s.recheck() every RECHECK_MS without progress. EBUSY while an
   * async wait is pending on this end: the two would share the wait line.
   */
  waitSync(s: Omit<WaitSpec, "signal" | "watched">): boolean {
    if (this.#active > 0) throw shmError("EBUSY", `${s.op}(): an asynchronous wait is pending on this end`);
    if (s.ready()) return true;
    flushHeld(); // nothing this process holds back may be what we wait for (publish.ts)
    const budget = this.#spin.budget();
    if (budget > 0) {
      const t0 = performance.now();
      const end = Math.min(s.deadline, t0 + budget / 1000);
      let nextRecheck = t0 + RECHECK_MS;
      for (;;) {
        if (s.ready()) {
          this.#spin.record((performance.now() - t0) * 1000, true);
          return true;
        }
        const now = performance.now();
        if (now >= end) break;
        if (now >= nextRecheck) {
          nextRecheck = now + RECHECK_MS;
          s.recheck();
        }
      }
      if (budget !== Infinity) this.#spin.record(budget, false);
    }
    for (;;) {
      if (this.#closed) throw shmError("ECLOSED", `${s.op}() ended: the channel was closed`);
      const left = s.deadline - performance.now();
      if (left <= 0) return s.ready();
      const seq = this.line.prepare("sync");
      let slept = false;
      try {
        if (s.ready()) return true;
        this.sleeps++;
        slept = true;
        this.line.waitSync(seq, Math.min(left, RECHECK_MS));
      } finally {
        // A withdrawn announcement a waker took first had a wake spent on it.
        if (!this.line.finish() && !slept) this.sleeps++;
      }
      if (s.ready()) return true;
      s.recheck();
    }
  }

  /** Ends every pending wait: they reject with ECLOSED. The line is not touched again. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle?.close();
    this.#handle = null;
    this.#armed = false;
    this.#wakeAll();
  }
}
