// A remote subscriber's window (docs/PROTOCOL.md §8.3): what a publisher
// keeps for each subscriber it serves over its Peer. At most `window`
// MESSAGEs sent and not yet consumed (CONSUMED says); with no room, the
// policy decides: "drop" counts the message as missed (MISSED goes before
// the next one), "block" queues it (later ones behind it, in order) and the
// subscriber is evicted once it made no progress for blockTimeout while
// messages waited for it.
import { abortError, shmError, type checkWaitOptions } from "../core/errors.js";
import type { Peer } from "../peer/peer.js";
import { encodeMissed, type Policy } from "./wire.js";

type Wait = ReturnType<typeof checkWaitOptions>;

/** A message waiting for room in one subscriber's window (block). */
export interface Queued {
  frame: Buffer;
  size: number;
  /** Called once: sent, missed (abandoned by the caller) or the subscriber is gone. */
  done(): void;
  abandoned: boolean;
}

/** What a window needs of its publisher. */
export interface WindowHost {
  readonly policy: Policy;
  readonly window: number;
  readonly blockTimeout: number;
  /** The publisher's counters (delivered, missed). */
  readonly counts: { delivered: number; missed: number };
  /** Its connection ended or failed: forget it. */
  gone(w: RemoteWindow): void;
  /** block: it took nothing for `idleMs` while messages waited for it. */
  evict(w: RemoteWindow, idleMs: number): void;
  /** drop: it is owed a MISSED count that may have no message to go with (send it soon). */
  owes(): void;
}

/** Its counters, as the publisher shows them. */
export interface WindowCounts {
  messages: number;
  bytes: number;
  missed: number;
}

export class RemoteWindow {
  readonly peer: Peer;
  readonly counts: WindowCounts;
  readonly #host: WindowHost;
  /** MESSAGEs sent, and taken by its user (CONSUMED). */
  #sent = 0;
  #consumed = 0;
  /** Messages it missed and was not told yet. */
  #owed = 0;
  /** block: messages waiting for room, in publication order, and when it last made progress. */
  readonly #queue: Queued[] = [];
  #progressAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #pumping = false;
  #closed = false;

  constructor(peer: Peer, counts: WindowCounts, host: WindowHost) {
    this.peer = peer;
    this.counts = counts;
    this.#host = host;
  }

  /** Whether a message would go now (block: nothing waits and the window has room). */
  get hasRoom(): boolean {
    return this.#queue.length === 0 && this.#sent - this.#consumed < this.#host.window;
  }

  /** One message for it: sent now (null), missed (drop: null) or queued for room (block). */
  deliver(frame: Buffer, size: number): Queued | null {
    if (this.#queue.length === 0 && this.#sent - this.#consumed < this.#host.window) {
      try {
        if (this.#tryOne(frame, size)) return null;
      } catch {
        this.#host.gone(this); // it ended or died
        return null;
      }
    }
    if (this.#host.policy === "drop") {
      this.#miss();
      return null;
    }
    const q: Queued = { frame, size, done: () => {}, abandoned: false };
    this.#queue.push(q);
    if (this.#queue.length === 1) {
      this.#progressAt = performance.now();
      this.#armEviction();
    }
    return q;
  }

  /** CONSUMED `count`: room for what waits. Returns why the count is refused, or null. */
  consumed(count: number): string | null {
    if (count < this.#consumed || count > this.#sent) return `CONSUMED ${count}: ${this.#consumed} consumed before, ${this.#sent} sent`;
    if (count > this.#consumed) {
      this.#consumed = count;
      this.#progressAt = performance.now();
      this.#pump();
    }
    return null;
  }

  /** drop: sends an owed MISSED count on its own if nothing waits; true if it is still owed (no room). Throws if it ended. */
  flushMissed(): boolean {
    if (this.#owed === 0 || this.#closed || this.#queue.length > 0) return false;
    if (!this.peer.trySend(encodeMissed(this.#owed))) return true;
    this.#owed = 0;
    return false;
  }

  /** The publisher closes: an owed count goes behind what was sent (MISSED is not counted in the window). */
  tellOwed(): void {
    if (this.#owed > 0) this.peer.send(encodeMissed(this.#owed)).catch(() => {});
    this.#owed = 0;
  }

  /** How long it has made no progress. */
  get idleMs(): number {
    return performance.now() - this.#progressAt;
  }

  /** Forgotten: what waited for it goes on (the publisher does not wait for it any more). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    for (const q of this.#queue.splice(0)) q.done();
  }

  /** MISSED if owed, then the message, if the Peer has room for both now; throws if it ended. */
  #tryOne(frame: Buffer, size: number): boolean {
    if (this.#owed > 0) {
      if (!this.peer.trySend(encodeMissed(this.#owed))) return false;
      this.#owed = 0;
    }
    if (!this.peer.trySend(frame)) return false;
    this.#sent++;
    this.counts.messages++;
    this.counts.bytes += size;
    this.#host.counts.delivered++;
    return true;
  }

  /** block: sends what waits while the window has room. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const q = this.#queue[0]!;
        if (q.abandoned) {
          this.#queue.shift();
          this.#miss();
          q.done();
          continue;
        }
        if (this.#sent - this.#consumed >= this.#host.window) return;
        if (!this.#tryOne(q.frame, q.size)) {
          // The Peer's own limits (its ZeroMQ backlog, its flow-control window for large messages): soon again.
          setTimeout(() => this.#pump(), 1).unref();
          return;
        }
        this.#queue.shift();
        this.#progressAt = performance.now();
        q.done();
      }
    } catch {
      this.#host.gone(this);
    } finally {
      this.#pumping = false;
      if (this.#queue.length === 0 && this.#timer !== null) {
        clearTimeout(this.#timer);
        this.#timer = null;
      }
    }
  }

  /** block: evicts it once it made no progress for blockTimeout while messages wait for it. */
  #armEviction(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    const blockTimeout = this.#host.blockTimeout;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#closed || this.#queue.length === 0) return;
      if (this.idleMs >= blockTimeout) this.#host.evict(this, this.idleMs);
      else this.#armEviction();
    }, Math.max(1, blockTimeout - this.idleMs));
    this.#timer.unref();
  }

  #miss(): void {
    this.#owed++;
    this.counts.missed++;
    this.#host.counts.missed++;
    this.#host.owes();
  }
}

/** block: until every queued copy of one message went (or its subscriber went), the caller's abort or deadline; then those still waiting miss it. */
export function waitAll(blocked: Queued[], { signal, deadline, timeout }: Wait): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let left = blocked.length;
    let timer: NodeJS.Timeout | null = null;
    const finish = (e: Error | null): void => {
      if (timer !== null) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (e === null) return resolve();
      // Abandoned: those still waiting miss it (told by MISSED before their next).
      for (const q of blocked) q.abandoned = true;
      reject(e);
    };
    const onAbort = (): void => finish(abortError(signal));
    for (const q of blocked) {
      const done = q.done;
      q.done = () => {
        done();
        if (--left === 0) finish(null);
      };
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    if (Number.isFinite(deadline)) timer = setTimeout(() => finish(shmError("ETIMEDOUT", `send() timed out after ${timeout} ms`)), Math.max(0, deadline - performance.now()));
  });
}
