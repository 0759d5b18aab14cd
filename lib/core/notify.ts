// Cross-process wakeups over a wait line of a segment's header (an
// eventcount, see csrc/core/notify.h):
//   sleeper: const seq = line.prepare(mode); if (!ready()) await/wait; line.finish()
//   waker:   change the state; line.notify()
// The waker's check is one Atomics.load: no syscall while the peer is awake,
// and one per announced sleep while it sleeps (the waker that wakes takes
// the announcement).
import { installCleanup } from "./cleanup.js";
import { checkInteger, checkTimeout, invalidArgType, invalidArgValue, shmError } from "./errors.js";
import { FIRST_WAIT_LINE, LAST_WAIT_LINE, LINE_SIZE, WAIT_DOORBELL, WAIT_FUTEX, WAIT_LINE } from "./layout.js";
import { native, type WaitMode, type WaiterHandle } from "./native.js";
import { flushHeld } from "./publish.js";
import type { Segment } from "./segment.js";
import { setLongTimeout, type LongTimer } from "./timers.js";

export type { WaitMode } from "./native.js";

/**
 * How an event loop is woken by default. Both were measured across two
 * processes (bench/wakeup.ts, docs/ARCHITECTURE.md); the faster one is the
 * default and the other stays selectable. Windows has no doorbell: its
 * event loops are woken by the waiter thread ("futex", a semaphore there),
 * and "doorbell" asked for there runs as "futex".
 */
export const DEFAULT_WAIT_MODE: WaitMode = process.platform === "win32" ? "futex" : "doorbell";

/**
 * Longest single native futex wait. V8 can only end a thread (worker.terminate(),
 * process.exit() joining workers) while JavaScript runs, never inside a
 * native call, so a blocking wait sleeps in slices this long and checks back
 * in between; costs one wakeup per slice of an otherwise idle sleeper.
 */
export const WAIT_SLICE_MS = 50;


export function validateWaitMode(mode: unknown): WaitMode {
  if (mode === "futex" || mode === "doorbell") return mode;
  throw invalidArgValue("mode", 'must be "futex" or "doorbell"', mode);
}

/** One wait line (seq + waiting words) in a segment's header. */
export class WaitLine {
  readonly segment: Segment;
  readonly offset: number;
  readonly #words: Int32Array;

  constructor(segment: Segment, offset: number) {
    // Only real wait lines: at another offset the `waiting` word would
    // overwrite the header's identity (magic at 0) or a ring index.
    checkInteger("offset", offset, FIRST_WAIT_LINE, LAST_WAIT_LINE, "the offset of a wait line in the header (reader_wait or writer_wait)");
    if (offset % LINE_SIZE !== 0) throw invalidArgValue("offset", `must be a multiple of ${LINE_SIZE}`, offset);
    this.segment = segment;
    this.offset = offset;
    this.#words = new Int32Array(segment.buffer, offset, 2);
  }

  /** Byte offset of the futex word (seq) in the segment. */
  get seqOffset(): number {
    return this.offset + WAIT_LINE.seq;
  }

  /** Current sequence number (u32). ECLOSED once the segment is closed. */
  get seq(): number {
    try {
      return Atomics.load(this.#words, 0) >>> 0;
    } catch (e) {
      throw this.#closedError(e);
    }
  }

  /**
   * Whether the last prepare() made a new announcement (`waiting` was 0),
   * rather than renewing one still standing. Each announcement gets at most
   * one wake: counting the new ones bounds the wakes a peer may send.
   */
  created = false;

  /** Sleeper, step 1: announce the sleep; returns the seq to wait on. Re-check your condition after this. */
  prepare(mode: WaitMode | "sync"): number {
    try {
      const seq = Atomics.load(this.#words, 0) >>> 0;
      this.created = Atomics.exchange(this.#words, 1, mode === "doorbell" ? WAIT_DOORBELL : WAIT_FUTEX) === 0;
      return seq;
    } catch (e) {
      throw this.#closedError(e);
    }
  }

  /**
   * Sleeper, last step: no longer sleeping. Returns whether the
   * announcement was still there: false when a waker took it (it clears
   * `waiting` as it wakes), i.e. a wake was spent on this sleep.
   */
  finish(): boolean {
    try {
      return Atomics.exchange(this.#words, 1, 0) !== 0;
    } catch (e) {
      throw this.#closedError(e);
    }
  }

  /** The segment was closed under us (its buffer detached): ECLOSED, not a TypeError without a code. */
  #closedError(e: unknown): unknown {
    return this.segment.closed ? shmError("ECLOSED", "the wait line's segment is closed") : e;
  }

  /**
   * Blocks this thread while seq is unchanged (futex), at most timeoutMs
   * (Infinity: no limit). For worker threads and synchronous receives.
   * "not-equal": seq had already moved when called. The thread stays
   * terminable (worker.terminate(), process.exit()) while it waits: it
   * sleeps in slices of WAIT_SLICE_MS against one absolute deadline.
   */
  waitSync(seq: number, timeoutMs = Infinity): "ok" | "not-equal" | "timed-out" {
    checkInteger("seq", seq, 0, 0xffffffff); // coerced, a bad one would wait on a value never seen: forever
    checkTimeout("timeoutMs", timeoutMs);
    flushHeld(); // nothing this process holds back may be what we wait for (publish.ts)
    const expected = seq >>> 0;
    const handle = this.segment.handle;
    const offset = this.seqOffset;
    // performance.now() and the native wait both run on CLOCK_MONOTONIC.
    const deadline = performance.now() + timeoutMs; // Infinity stays Infinity
    let left = timeoutMs;
    for (let first = true; ; first = false) {
      const r = handle.wait(offset, expected, Math.min(left, WAIT_SLICE_MS));
      // seq moving between two slices is a wake that came while we were not
      // in the kernel: "ok", as if we had been.
      if (r !== "timed-out") return r === "not-equal" && !first ? "ok" : r;
      left = deadline - performance.now();
      if (!(left > 0)) return "timed-out";
    }
  }

  /** Waker: wakes the sleeper, if there is one (one Atomics.load otherwise). */
  notify(): boolean {
    let waiting: number;
    try {
      waiting = Atomics.load(this.#words, 1);
    } catch (e) {
      throw this.#closedError(e);
    }
    if (waiting === 0) return false;
    return this.segment.handle.notify(this.offset);
  }
}

/**
 * Wakes a callback on the event loop when a wait line is notified, without
 * blocking the loop. While armed it keeps the process alive, like a socket.
 */
export class Waiter {
  readonly line: WaitLine;
  readonly mode: WaitMode;
  readonly #handle: WaiterHandle;
  #pending: { resolve: () => void; reject: (e: Error) => void } | null = null;
  #closed = false;

  constructor(line: WaitLine, mode: WaitMode = DEFAULT_WAIT_MODE) {
    if (!(line instanceof WaitLine)) throw invalidArgType("line", "a WaitLine", line);
    if (line.segment.closed) throw shmError("ECLOSED", "the wait line's segment is closed");
    this.line = line;
    const { WaiterHandle } = native();
    this.#handle = new WaiterHandle(line.segment.handle, line.offset, validateWaitMode(mode), () => this.#fire());
    this.mode = this.#handle.mode(); // "futex" when the doorbell was unusable: prepare() with this one
    if (this.mode === "doorbell") installCleanup(); // its socket file goes at exit and on signals, as an owned segment does
    line.segment.addDependent(this.#onSegmentClose);
  }

  /** The segment's close() closes this waiter first: a pending wait rejects with ECLOSED instead of never settling. */
  readonly #onSegmentClose = (): void => this.close();

  /**
   * Why `mode` is "futex" when "doorbell" was asked for (the platform has no
   * doorbell, as Windows; or it could not be used safely here), else null.
   */
  get fallbackReason(): string | null {
    return this.#closed ? null : this.#handle.fallbackReason();
  }

  /**
   * Resolves "ok" when the line is notified after `seq` was read (at once if
   * seq has already moved on), or "timed-out" after timeoutMs (a non-negative
   * number, any size; Infinity: no limit; otherwise the promise rejects with
   * TypeError ERR_INVALID_ARG_TYPE or RangeError ERR_OUT_OF_RANGE). Call
   * line.prepare() first and re-check your condition before waiting.
   */
  wait(seq: number, timeoutMs = Infinity): Promise<"ok" | "timed-out"> {
    try {
      checkInteger("seq", seq, 0, 0xffffffff);
      checkTimeout("timeoutMs", timeoutMs);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (this.#closed) return Promise.reject(shmError("ECLOSED", "waiter is closed"));
    if (this.#pending !== null) return Promise.reject(shmError("EBUSY", "a wait is already pending on this waiter"));
    flushHeld(); // as waitSync (an event-loop wait runs the tick's end anyway, but not before a synchronous check)
    return new Promise<"ok" | "timed-out">((resolve, reject) => {
      let timer: LongTimer | null = null;
      const settle = (r: "ok" | "timed-out"): void => {
        timer?.clear();
        resolve(r);
      };
      this.#pending = {
        resolve: () => settle("ok"),
        reject: (e) => {
          timer?.clear();
          reject(e);
        },
      };
      try {
        this.#handle.arm(seq >>> 0);
      } catch (e) {
        this.#pending = null;
        reject(e as Error);
        return;
      }
      if (Number.isFinite(timeoutMs)) {
        timer = setLongTimeout(() => {
          timer = null;
          if (this.#closed) return;
          this.#handle.disarm();
          this.#pending = null;
          resolve("timed-out");
        }, timeoutMs);
      }
    });
  }

  /** Ends a pending wait early: its promise rejects with ECLOSED. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.line.segment.removeDependent(this.#onSegmentClose);
    this.#handle.close();
    const p = this.#pending;
    this.#pending = null;
    p?.reject(shmError("ECLOSED", "waiter closed while waiting"));
  }

  /** close(), for `using waiter = new Waiter(line)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #fire(): void {
    const p = this.#pending;
    this.#pending = null;
    p?.resolve();
  }
}
