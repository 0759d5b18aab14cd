// The requests a Peer sent and waits to be answered (docs/PROTOCOL.md §7):
// each under a u32 id of its own, never one that is pending, so a reply
// settles the request it names or nobody's. A reply whose id is not pending
// (its request timed out, was aborted or already answered; an id never
// used) is dropped and counted.
import { abortError, shmError } from "../core/errors.js";
import { setLongTimeout, type LongTimer } from "../core/timers.js";

interface Entry {
  resolve: (v: Uint8Array) => void;
  reject: (e: unknown) => void;
  /** The connection the request went over (set when it is written): its loss fails it. Null until then. */
  conn: object | null;
  timer: LongTimer | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
}

export class PendingRequests {
  readonly #map = new Map<number, Entry>();
  #last = 0;
  /** Replies (and errors) dropped: their id was not pending. */
  dropped = 0;

  get size(): number {
    return this.#map.size;
  }

  has(id: number): boolean {
    return this.#map.has(id);
  }

  /**
   * A new request: its id (the next u32 after the last one given, skipping
   * 0 and every id still pending) and the promise its reply settles;
   * rejected with ETIMEDOUT after `timeout` ms, with an AbortError when
   * `signal` aborts (the id is no longer pending then).
   */
  open(timeout: number, signal: AbortSignal | undefined): { id: number; reply: Promise<Uint8Array> } {
    let id = this.#last;
    do id = (id + 1) >>> 0 || 1;
    while (this.#map.has(id));
    this.#last = id;
    let entry!: Entry;
    const reply = new Promise<Uint8Array>((resolve, reject) => {
      entry = { resolve, reject, conn: null, timer: null, signal, onAbort: null };
    });
    if (Number.isFinite(timeout)) {
      entry.timer = setLongTimeout(() => this.fail(id, shmError("ETIMEDOUT", `request() timed out after ${timeout} ms`)), timeout);
    }
    if (signal !== undefined) {
      entry.onAbort = () => this.fail(id, abortError(signal));
      signal.addEventListener("abort", entry.onAbort, { once: true });
    }
    this.#map.set(id, entry);
    return { id, reply };
  }

  /** Request `id` was written on `conn` (if it is still pending). */
  sentOn(id: number, conn: object): void {
    const e = this.#map.get(id);
    if (e !== undefined) e.conn = conn;
  }

  #take(id: number): Entry | undefined {
    const e = this.#map.get(id);
    if (e === undefined) return undefined;
    this.#map.delete(id);
    e.timer?.clear();
    if (e.onAbort !== null) e.signal?.removeEventListener("abort", e.onAbort);
    return e;
  }

  /** Resolves request `id` with `reply`; false (counted as dropped) if it is not pending. */
  resolve(id: number, reply: Uint8Array): boolean {
    const e = this.#take(id);
    if (e === undefined) {
      this.dropped++;
      return false;
    }
    e.resolve(reply);
    return true;
  }

  /** Rejects request `id`; false if it is not pending. */
  fail(id: number, error: unknown): boolean {
    const e = this.#take(id);
    if (e === undefined) return false;
    e.reject(error);
    return true;
  }

  /** Rejects every pending request (`sentOnly`: only those already written on a connection). */
  failAll(error: unknown, sentOnly = false): void {
    for (const [id, e] of [...this.#map]) if (!sentOnly || e.conn !== null) this.fail(id, error);
  }
}
