// The writing end of a channel: owns the ring segment, frames messages into
// it and publishes them with one atomic store of the write index. No syscall
// unless the reader sleeps (then one notify), or the ring is full and the
// writer itself has to sleep.
import { ChannelEnd, H, asBytes, checkSyncTimeout, storeU64, type EndConfig } from "./end.js";
import {
  abortError,
  checkInteger,
  checkWaitOptions,
  invalidArgType,
  invalidArgValue,
  outOfRange,
  type WaitOptions,
} from "../core/errors.js";
import { OFFSETS, SIDE_CLOSED, SIDE_OPEN } from "../core/layout.js";
import { FRAME_DATA, FRAME_PAD, frameSize } from "./ring.js";
import type { Segment } from "../core/segment.js";
import { setLongTimeout, type LongTimer } from "../core/timers.js";

export interface WriterStats {
  /** Messages committed. */
  messages: number;
  /** Payload bytes committed. */
  bytes: number;
  /** Times a send() found the ring full and had to wait for space. */
  writerWaits: number;
  /** Times the writer woke a sleeping reader (each one a syscall). */
  wakeups: number;
}

/** A send() that waits for room; it owns a copy of the caller's bytes. */
interface QueuedSend {
  bytes: Uint8Array;
  resolve: () => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  deadline: number;
  timeout: number;
  timer: LongTimer | null;
  onAbort: (() => void) | null;
}

interface Reservation {
  view: Uint8Array;
  pos: number; // data-region offset of the frame header
  n: number; // bytes reserved
  pad: number; // bytes of a PAD frame written before it (0 if none), published with it
}

export class ChannelWriter extends ChannelEnd {
  #w = 0; // write index (u32), authoritative here; published to the header
  #cachedRead = 0; // last read index seen (u32)
  #reserved: Reservation | null = null;
  readonly #queue: QueuedSend[] = []; // send()s waiting for room, in call order
  #pumping = false; // #pump() is running
  #pumped: Promise<void> = Promise.resolve(); // the last #pump(): settles once the queue is empty
  #corked = false; // cork(): hold back publishing
  #unpublished = false; // frames written but the write index not yet published
  readonly #stats: WriterStats = { messages: 0, bytes: 0, writerWaits: 0, wakeups: 0 };

  /** @internal use Channel.create() */
  constructor(segment: Segment, opts: EndConfig) {
    super(segment, OFFSETS.writer_wait, OFFSETS.reader_wait, opts);
  }

  /** @internal */
  protected get isWriter(): boolean {
    return true;
  }

  /** Counters of this writer (also published in the segment header). */
  get stats(): Readonly<WriterStats> {
    return { ...this.#stats };
  }

  /** Whether the reader closed its end (further sends fail with ECLOSED). */
  get readerClosed(): boolean {
    return !this.closed && Atomics.load(this.hdr, H.readerState) === SIDE_CLOSED;
  }

  /**
   * The reading end as this writer sees it: "absent" (no reader attached
   * yet), "open", "closed" (it closed its end), or "dead" (its process died
   * without closing). Probes the reader's liveness lock (one syscall).
   */
  get readerState(): "absent" | "open" | "closed" | "dead" {
    this.ensureOpen();
    const s = Atomics.load(this.hdr, H.readerState);
    if (s === SIDE_CLOSED) return "closed";
    if (s !== SIDE_OPEN) return "absent";
    return this.peerDead() ? "dead" : "open";
  }

  /**
   * Free bytes are at least `need`? Re-reads the reader's index only when the
   * cached one says no, and validates it: a reader cannot be ahead of us.
   */
  #hasSpace(need: number): boolean {
    const cap = this.capacity;
    if (cap - ((this.#w - this.#cachedRead) >>> 0) >= need) return true;
    const r = Atomics.load(this.hdr, H.readIndex) >>> 0;
    const used = (this.#w - r) >>> 0;
    if (used > cap) this.corrupt(`read index ${r} is not within the ring (write index ${this.#w})`);
    this.#cachedRead = r;
    if (cap - used >= need) return true;
    // Full while corked: publish, or the reader could never make room.
    if (this.#unpublished) this.#publish();
    return false;
  }

  /** Bytes a message of n bytes needs at the current position (its frame, plus padding to the end if it must wrap). */
  #need(n: number): number {
    const frame = frameSize(n);
    const toEnd = this.capacity - (this.#w & this.mask);
    return frame <= toEnd ? frame : toEnd + frame;
  }

  /**
   * Finds room for a frame with an n-byte payload, writing a PAD frame to the
   * end of the data region first if the frame does not fit before it.
   * Returns the frame's offset, or -1 if the ring is too full.
   */
  #claim(n: number): number {
    if (n > this.maxMessageSize) {
      throw outOfRange("message length", `<= maxMessageSize (${this.maxMessageSize}); send larger buffers as loans`, n);
    }
    const frame = frameSize(n);
    const pos = this.#w & this.mask;
    const toEnd = this.capacity - pos;
    if (frame <= toEnd) return this.#hasSpace(frame) ? pos : -1;
    if (!this.#hasSpace(toEnd + frame)) return -1;
    const p = pos >> 2;
    this.frames[p] = toEnd - 8; // PAD payload runs exactly to the end
    this.frames[p + 1] = FRAME_PAD;
    this.#w = (this.#w + toEnd) >>> 0;
    return 0;
  }

  /** Counts a committed message and publishes it, unless corked. */
  #committed(n: number): void {
    const s = this.#stats;
    s.messages++;
    s.bytes += n;
    if (this.#corked) this.#unpublished = true;
    else this.#publish();
  }

  /** Publishes everything written so far and wakes the reader if it sleeps. */
  #publish(): void {
    const s = this.#stats;
    const hdr = this.hdr;
    this.#unpublished = false;
    // SYNC POINT: release of the frame (header + payload) written above;
    // pairs with the reader's Atomics.load of the write index in tryRecv.
    Atomics.store(hdr, H.writeIndex, this.#w | 0);
    storeU64(hdr, H.messagesWritten, s.messages);
    storeU64(hdr, H.bytesWritten, s.bytes);
    // SYNC POINT: seq_cst load after the store above; pairs with the reader's
    // store of `waiting` before its re-check (eventcount, csrc/notify.h).
    if (Atomics.load(hdr, H.readerWaiting) !== 0 && this.peerLine.notify()) {
      s.wakeups++;
      storeU64(hdr, H.wakeupsSent, s.wakeups);
    }
  }

  #checkWritable(): void {
    this.ensureOpen();
    if (this.#reserved !== null) throw invalidArgValue("channel", "has a reservation pending: commit() it first", this.name);
    if (Atomics.load(this.hdr, H.readerState) === SIDE_CLOSED) throw this.error("ECLOSED", "the reader closed the channel");
  }

  /**
   * Copies `bytes` into the ring as one message. Returns false, without
   * waiting, when the ring has no room for it now (or earlier send()s are
   * still queued). Throws RangeError above maxMessageSize, ECLOSED once
   * either end is closed.
   */
  trySend(bytes: Uint8Array | ArrayBufferView | ArrayBuffer): boolean {
    const src = asBytes(bytes);
    this.#checkWritable();
    if (this.#queue.length > 0) return false; // keep order behind waiting send()s
    return this.#write(src);
  }

  #write(src: Uint8Array): boolean {
    const n = src.byteLength;
    const pos = this.#claim(n);
    if (pos < 0) return false;
    const p = pos >> 2;
    this.frames[p] = n;
    this.frames[p + 1] = FRAME_DATA;
    this.data.set(src, pos + 8);
    this.#w = (this.#w + frameSize(n)) >>> 0;
    this.#committed(n);
    return true;
  }

  /**
   * Copies `bytes` into the ring as one message, waiting for room if the
   * ring is full. The bytes are copied before send() returns (into the ring,
   * or into a queue that owns its copy), so the caller may reuse its buffer
   * at once. Messages are committed in call order. Rejects with ECLOSED
   * when either end closes, EPEERDEAD if the reader died, ETIMEDOUT after
   * `timeout` ms, AbortError when `signal` aborts; a send that rejects was
   * not sent.
   */
  send(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, options?: WaitOptions): Promise<void> {
    let src: Uint8Array;
    let wait: ReturnType<typeof checkWaitOptions>;
    try {
      src = asBytes(bytes);
      wait = checkWaitOptions(options);
      this.#checkWritable();
      if (src.byteLength > this.maxMessageSize) this.#claim(src.byteLength); // throws RangeError
      if (wait.signal?.aborted) throw abortError(wait.signal);
      if (this.#queue.length === 0 && this.#write(src)) return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      const q: QueuedSend = {
        bytes: new Uint8Array(src), // a copy (Buffer#slice would alias): never the caller's buffer
        resolve,
        reject,
        signal: wait.signal,
        deadline: wait.deadline,
        timeout: wait.timeout,
        timer: null,
        onAbort: null,
      };
      // The head of the queue is waited for by #pump (with its deadline and
      // signal); the others are dropped from the queue here.
      const drop = (e: Error): void => {
        const i = this.#queue.indexOf(q);
        if (i > 0) {
          this.#queue.splice(i, 1);
          this.#settle(q, e);
        }
      };
      if (Number.isFinite(q.timeout)) {
        q.timer = setLongTimeout(() => drop(this.#timedOut(q)), q.timeout);
      }
      if (q.signal) {
        const signal = q.signal;
        q.onAbort = () => drop(abortError(signal));
        signal.addEventListener("abort", q.onAbort, { once: true });
      }
      this.#queue.push(q);
      if (!this.#pumping) this.#pumped = this.#pump();
    });
  }

  #timedOut(q: QueuedSend): Error {
    return this.error("ETIMEDOUT", `send() timed out after ${q.timeout} ms`);
  }

  #settle(q: QueuedSend, error: unknown): void {
    q.timer?.clear();
    if (q.onAbort !== null) q.signal?.removeEventListener("abort", q.onAbort);
    if (error === null) q.resolve();
    else q.reject(error);
  }

  /** Writes queued sends in order, waiting for room before each. */
  async #pump(): Promise<void> {
    this.#pumping = true;
    const queue = this.#queue;
    try {
      while (queue.length > 0) {
        const q = queue[0]!;
        let error: unknown = null;
        try {
          // Aborted or timed out while it waited for room: it must not be sent.
          if (q.signal?.aborted) throw abortError(q.signal);
          if (performance.now() >= q.deadline) throw this.#timedOut(q);
          this.#checkWritable();
          if (!this.#write(q.bytes)) {
            await this.#room(q.bytes.byteLength, q.deadline, q.timeout, q.signal, "send");
            continue; // re-check: the head may have been settled meanwhile
          }
        } catch (e) {
          error = e;
        }
        if (queue[0] === q) queue.shift();
        this.#settle(q, error);
        const code = (error as { code?: string } | null)?.code;
        if (error !== null && code !== "ABORT_ERR" && code !== "ETIMEDOUT") {
          // The channel is unusable (closed, reader dead, corrupt): so is every queued send.
          for (const rest of queue.splice(0)) this.#settle(rest, error);
        }
      }
    } finally {
      this.#pumping = false;
      this.parker.kick(); // writable() callers wait for the queue to drain
    }
  }

  /**
   * Blocking send for worker threads: copies `bytes` into the ring, waiting
   * (spin, then futex) up to timeoutMs for room. Returns false on timeout.
   * Throws ECLOSED once either end is closed, EPEERDEAD if the reader died,
   * EBUSY while async send()s or writable()s are pending.
   */
  sendSync(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, timeoutMs = Infinity): boolean {
    const src = asBytes(bytes);
    checkSyncTimeout(timeoutMs);
    this.#checkWritable();
    if (src.byteLength > this.maxMessageSize) this.#claim(src.byteLength); // throws RangeError
    if (this.#queue.length > 0 || this.parker.busy) throw this.error("EBUSY", "async send()s or writable()s are pending on this writer");
    const deadline = performance.now() + timeoutMs;
    const n = src.byteLength;
    for (;;) {
      if (this.#write(src)) return true;
      this.#countWait();
      if (!this.parker.waitSync({ ready: this.#roomFor(n), recheck: this.#checkReader, deadline, op: "sendSync" })) return false;
      this.#checkWritable();
    }
  }

  /** Counts a wait for space and makes sure the reader can see everything written. */
  #countWait(): void {
    const hdr = this.hdr;
    if (this.#unpublished) this.#publish(); // the reader cannot free what it cannot see
    this.#stats.writerWaits++;
    storeU64(hdr, H.writerWaits, this.#stats.writerWaits);
    // The write index is ours: if the shared copy was overwritten, restore it
    // and wake the reader, or both ends could sleep on a lie.
    if (Atomics.load(hdr, H.writeIndex) !== (this.#w | 0)) {
      Atomics.store(hdr, H.writeIndex, this.#w | 0);
      this.peerLine.notify();
    }
  }

  /** Throws EPEERDEAD if the reader died without closing. */
  #checkReader = (): void => {
    if (this.peerDead()) throw this.error("EPEERDEAD", "the reader's process died without closing the channel");
  };

  /** The condition a writer waiting for n bytes of room waits for (or either end closing). */
  #roomFor(n: number): () => boolean {
    const hdr = this.hdr;
    return () => this.closed || Atomics.load(hdr, H.readerState) === SIDE_CLOSED || this.#hasSpace(this.#need(n));
  }

  #watched = (): boolean => this.watchPeer();

  /**
   * Waits (spin, then event loop) until an n-byte message may fit or either
   * end closes; rejects with EPEERDEAD if the reader dies meanwhile,
   * ETIMEDOUT, AbortError or ECLOSED.
   */
  async #room(n: number, deadline: number, timeout: number, signal: AbortSignal | undefined, op: string): Promise<void> {
    this.#countWait();
    await this.parker.wait({ ready: this.#roomFor(n), recheck: this.#checkReader, watched: this.#watched, deadline, timeout, signal, op });
  }

  /**
   * Resolves when a message of n bytes fits in the ring now and no send()
   * is queued (then trySend or reserve succeed), waiting if it is full; for
   * writers that fill messages in place with reserve(). Rejects with
   * ECLOSED when either end closes, EPEERDEAD, ETIMEDOUT, AbortError.
   */
  async writable(n: number, options?: WaitOptions): Promise<void> {
    checkInteger("n", n, 0, this.maxMessageSize);
    const { signal, deadline, timeout } = checkWaitOptions(options);
    const ready = this.#roomFor(n);
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      this.#checkWritable();
      if (this.#queue.length === 0 && this.#hasSpace(this.#need(n))) return;
      if (this.#queue.length > 0) {
        // The queue drains by itself; #pump kicks us when it is empty.
        await this.parker.wait({ ready: () => this.closed || this.#queue.length === 0, recheck: () => {}, deadline, timeout, signal, op: "writable" });
      } else {
        await this.#room(n, deadline, timeout, signal, "writable");
        if (!ready()) continue;
      }
    }
  }

  /**
   * Reserves room for an n-byte message and returns a view straight into the
   * ring to fill in place (zero-copy); commit() publishes it. Returns null
   * when the ring has no room now. One reservation at a time.
   */
  reserve(n: number): Uint8Array | null {
    checkInteger("n", n, 0, this.maxMessageSize);
    this.#checkWritable();
    if (this.#queue.length > 0) return null;
    const w = this.#w;
    const pos = this.#claim(n);
    if (pos < 0) return null;
    const view = this.data.subarray(pos + 8, pos + 8 + n);
    // A PAD frame written to the end must not be published before the frame
    // after it (PROTOCOL.md §2): hold the write index back until commit().
    const pad = (this.#w - w) >>> 0;
    this.#w = w;
    this.#reserved = { view, pos, n, pad };
    return view;
  }

  /**
   * Publishes the reservation `view` as a message of `length` bytes
   * (default: the reserved size; less is allowed).
   */
  commit(view: Uint8Array, length?: number): void {
    if (!(view instanceof Uint8Array)) throw invalidArgType("view", "the Uint8Array returned by reserve()", view);
    this.ensureOpen();
    const r = this.#reserved;
    length ??= r?.view === view ? r.n : view.length;
    if (r === null || r.view !== view) throw invalidArgValue("view", "is not the pending reservation of this channel", view);
    checkInteger("length", length, 0, r.n);
    this.#reserved = null;
    const p = r.pos >> 2;
    this.frames[p] = length;
    this.frames[p + 1] = FRAME_DATA;
    this.#w = (this.#w + r.pad + frameSize(length)) >>> 0;
    this.#committed(length);
  }

  /**
   * Holds back publishing: messages sent until uncork() (or the end of the
   * current tick, or the ring filling up) become visible to the reader
   * together, with one index store and at most one wakeup, instead of one
   * each. For bursts of small messages, as with a socket's cork().
   */
  cork(): void {
    this.ensureOpen();
    if (this.#corked) return;
    this.#corked = true;
    process.nextTick(() => this.uncork());
  }

  /** Publishes what was sent since cork(). */
  uncork(): void {
    this.#corked = false;
    if (this.#unpublished && !this.closed) this.#publish();
  }

  /**
   * Closes the writing end: the reader receives what was sent, then end of
   * stream. Queued send()s reject with ECLOSED. The segment's name is
   * removed (the reader keeps its mapping). Safe to call twice.
   */
  close(): void {
    this.#reserved = null;
    if (!this.closed) this.uncork();
    this.closeEnd(H.writerState);
  }

  /** close() at once, for `using tx = Channel.create(...)`: queued send()s reject with ECLOSED. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * For `await using tx = Channel.create(...)`: lets send()s still queued
   * (waiting for room) reach the ring, for at most DISPOSE_LINGER_MS (1 s),
   * then close()s. Messages in the ring are not waited for: the reader
   * receives them after the close. The wait ends early when the reader
   * closes or dies (the queued sends reject); sends still queued after the
   * linger reject with ECLOSED, as with close(). Never rejects.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#pumping && !this.closed) {
      let timer: NodeJS.Timeout | undefined;
      const linger = new Promise<void>((resolve) => (timer = setTimeout(resolve, DISPOSE_LINGER_MS)));
      await Promise.race([this.#pumped, linger]);
      clearTimeout(timer);
    }
    this.close();
  }
}

/** Longest `await using` waits for a writer's queued send()s before closing. */
export const DISPOSE_LINGER_MS = 1000;
