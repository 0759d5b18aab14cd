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
import { OFFSETS, READER_LOCK_BYTE, SIDE_CLOSED, SIDE_OPEN } from "../core/layout.js";
import { ENVELOPE_HEADER, FRAME_DATA, FRAME_ENVELOPE, FRAME_ENVELOPE_LOAN, FRAME_LOAN, FRAME_PAD, frameSize } from "./ring.js";
import { LOAN_DESCRIPTOR_SIZE, writeDescriptor } from "../loan/descriptor.js";
import { LoanPool, type LoanRecord, type PoolConfig, type PoolStats } from "../loan/pool.js";
import type { Segment } from "../core/segment.js";
import { setLongTimeout, type LongTimer } from "../core/timers.js";
import { holdUntilTickEnd, release as releaseHold } from "../core/publish.js";

/** What a message argument may be. */
export type Bytes = Uint8Array | ArrayBufferView | ArrayBuffer;

/**
 * When a writer publishes a message to the reader. "tick" (default): the
 * first message of a tick at once, the others of the same tick together at
 * its end (or before this process waits on any channel, or once 1/16 of
 * the ring is held back): one index store and at most one wakeup per burst.
 * "immediate": every message at once.
 */
export type PublishMode = "tick" | "immediate";

export interface WriterStats {
  /** Messages committed. */
  messages: number;
  /** Payload bytes committed. */
  bytes: number;
  /** Times a send() found the ring full and had to wait for space. */
  writerWaits: number;
  /** Times the writer woke a sleeping reader (each one a syscall; at most one per reader sleep). */
  wakeups: number;
  /** Times the writer went to sleep, for room or for a loan (announced sleeps: Parker.sleeps). */
  sleeps: number;
  /** Messages sent as loans (tx.loan(), and send() of buffers above maxMessageSize). */
  loans: number;
}

export type { PoolStats };

/**
 * A send() that waits for room. It owns what it sends: a copy of the
 * caller's bytes, or a loan the caller handed over (its buffer detached),
 * sent `off` bytes into the loan and `len` long.
 */
interface QueuedSend {
  bytes: Uint8Array | null;
  loan: LoanRecord | null;
  off: number;
  len: number;
  /** A sendMany()'s run of messages (copies), sent from `next` on; null for one message. */
  items: Uint8Array[] | null;
  next: number;
  /** In a sendMany(): how many of its messages come before this entry's (its error's `sent` counts from there); null for send(). */
  base: number | null;
  /** A Peer's request/reply envelope (docs/PROTOCOL.md §7): its kind and id; kind 0 for a plain message. */
  kind: number;
  id: number;
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
  #tickHeld = false; // published once this tick: later commits wait for its end (publish.ts)
  #batching = false; // inside trySendMany: publish once at its end
  #unpublished = false; // frames written but the write index not yet published
  #publishedW = 0; // write index last published (u32)
  readonly #holdBytes: number; // publish anyway once this much is held back
  readonly #tickMode: boolean;
  readonly #stats: Omit<WriterStats, "sleeps"> = { messages: 0, bytes: 0, writerWaits: 0, wakeups: 0, loans: 0 };
  readonly #poolConfig: PoolConfig;
  #pool: LoanPool | null = null; // made on the first loan

  /** @internal use Channel.create() */
  constructor(segment: Segment, opts: EndConfig & { pool: PoolConfig; publish: PublishMode }) {
    super(segment, OFFSETS.writer_wait, OFFSETS.reader_wait, opts);
    this.#poolConfig = opts.pool;
    this.#tickMode = opts.publish === "tick";
    this.#holdBytes = this.capacity / 16;
  }

  /** When messages are published: "tick" or "immediate" (options.publish). */
  get publishMode(): PublishMode {
    return this.#tickMode ? "tick" : "immediate";
  }

  /** @internal */
  protected get isWriter(): boolean {
    return true;
  }

  /** Counters of this writer (also published in the segment header). */
  get stats(): Readonly<WriterStats> {
    return { ...this.#stats, sleeps: this.parker.sleeps };
  }

  /** The loan pool: its slabs, slots and bytes, what is lent and what is in flight. */
  get poolStats(): Readonly<PoolStats> {
    if (this.#pool !== null && !this.closed) return this.#pool.stats;
    return { slabs: 0, slots: 0, bytes: 0, loaned: 0, inFlight: 0, loansSent: 0, slabsCreated: 0 };
  }

  /** Largest loan (and largest send()) this writer's pool can make: options.pool.maxBytes, at most 4 GiB - 4 KiB. */
  get maxLoanSize(): number {
    return this.#loanPool().maxLoanSize;
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

  /**
   * Counts a committed message and publishes it: at once if it is the
   * first of the tick, otherwise when the tick ends (or the hold is
   * released earlier: uncork, a wait, the end of a batch), or now if 1/16
   * of the ring is held back (the reader works meanwhile).
   */
  #committed(n: number): void {
    const s = this.#stats;
    s.messages++;
    s.bytes += n;
    if (this.#corked || this.#tickHeld || this.#batching) {
      this.#unpublished = true;
      if (((this.#w - this.#publishedW) >>> 0) >= this.#holdBytes) this.#publish();
    } else this.#publishFirst();
  }

  /** Publishes the tick's first commit (or batch) and holds the rest of the tick. */
  #publishFirst(): void {
    this.#publish();
    if (this.#tickMode) {
      this.#tickHeld = true;
      holdUntilTickEnd(this);
    }
  }

  /** @internal the tick ended, or this process is about to wait (publish.ts): publish what is held */
  flushHeld(): void {
    this.#tickHeld = false;
    if (this.#unpublished && !this.#corked && !this.closed) this.#publish();
  }

  /** Publishes everything written so far and wakes the reader if it sleeps. */
  #publish(): void {
    const s = this.#stats;
    const hdr = this.hdr;
    this.#unpublished = false;
    this.#publishedW = this.#w;
    // SYNC POINT: release of the frame (header + payload) written above;
    // pairs with the reader's Atomics.load of the write index in tryRecv.
    Atomics.store(hdr, H.writeIndex, this.#w | 0);
    storeU64(hdr, H.messagesWritten, s.messages);
    storeU64(hdr, H.bytesWritten, s.bytes);
    // SYNC POINT: seq_cst load after the store above; pairs with the reader's
    // store of `waiting` before its re-check (eventcount, csrc/core/notify.h).
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

  /** @internal whether `bytes` is a view of one of this writer's loans (not copied when it waits to be sent) */
  isLoan(bytes: Uint8Array | ArrayBufferView | ArrayBuffer): boolean {
    return this.#pool !== null && ArrayBuffer.isView(bytes) && this.#pool.recordOf(bytes) !== undefined;
  }

  /**
   * Copies `bytes` into the ring as one message. Returns false, without
   * waiting, when the ring has no room for it now (or earlier send()s are
   * still queued). Throws RangeError above maxMessageSize, ECLOSED once
   * either end is closed. The reader sees it at once if it is the first
   * message of this tick, otherwise at the tick's end (options.publish):
   * a thread that then blocks by means outside this package (Atomics.wait,
   * a synchronous child process) must flush() first.
   */
  trySend(bytes: Uint8Array | ArrayBufferView | ArrayBuffer): boolean {
    const src = this.#asBytes(bytes);
    this.#checkWritable();
    if (this.#queue.length > 0) return false; // keep order behind waiting send()s
    return this.#trySendOne(src);
  }

  /**
   * Copies as many of `messages` as fit now into the ring, in order, each
   * as one message, and publishes them together (one index store, at most
   * one wakeup). Returns how many were sent: a prefix of `messages` (0 when
   * the ring is full or send()s are queued). Each message is what trySend
   * takes (a buffer above maxMessageSize goes through a loan, a loan's view
   * is sent without a copy). Every message is checked before any is sent:
   * a TypeError or RangeError sends nothing. ECLOSED once either end is
   * closed.
   */
  trySendMany(messages: readonly Bytes[]): number {
    if (!Array.isArray(messages)) throw invalidArgType("messages", "an array of Uint8Array, Buffer, ArrayBufferView or ArrayBuffer", messages);
    this.#checkWritable();
    const list = this.#checked(messages, false);
    if (this.#queue.length > 0) return 0; // keep order behind waiting send()s
    return this.#writeMany(list, 0);
  }

  /**
   * Reads each message once (a getter or a Proxy cannot change it between
   * the checks and the copy) and checks what trySend would refuse, before
   * anything is sent: the type, a detached view, a non-loan's size against
   * the pool, and a loan listed twice (sending it detaches every view of
   * it, so the second could not go). `copy`: copies what is not a loan (an
   * iterator may refill one buffer for every message it yields).
   */
  #checked(messages: Iterable<unknown>, copy: boolean): Uint8Array[] {
    const max = this.maxMessageSize;
    const pool = this.#pool;
    const out: Uint8Array[] = [];
    let loans: Set<LoanRecord> | null = null;
    const one = (m: unknown): void => {
      const src = this.#asBytes(m as Bytes);
      const loan = pool?.recordOf(src);
      if (loan !== undefined) {
        loans ??= new Set();
        if (loans.has(loan)) throw invalidArgValue("messages", "lists one loan twice (sending it detaches every view of it)", src);
        loans.add(loan);
        out.push(src);
        return;
      }
      if (src.length > max) this.#loanPool().checkSize(src.length); // RangeError above the pool's limit
      out.push(copy ? new Uint8Array(src) : src);
    };
    if (Array.isArray(messages)) for (let i = 0; i < messages.length; i++) one(messages[i]);
    else for (const m of messages) one(m);
    return out;
  }

  /** Writes messages[from..] (checked) while they fit, publishing once at the end; returns the index of the first not written. */
  #writeMany(messages: readonly Uint8Array[], from: number): number {
    const n = messages.length;
    let i = from;
    this.#batching = true;
    try {
      while (i < n) {
        if (this.#pool === null) i = this.#copyRun(messages, i);
        if (i === n) break;
        // What the run does not take: a wrap, a full ring, a loan, a large buffer.
        if (!this.#trySendOne(messages[i]!)) break;
        i++;
      }
    } finally {
      this.#batching = false;
      if (this.#unpublished && !this.#corked && !this.#tickHeld && !this.closed) this.#publishFirst();
    }
    return i;
  }

  /**
   * The common case of a batch in one loop, with the indices in locals:
   * checked Uint8Arrays up to maxMessageSize, copied while they fit before
   * the end of the data region and within the free space last seen.
   * Returns the index of the first message it did not take. (Per message,
   * #trySendOne's calls and field updates cost as much as the copy.)
   */
  #copyRun(messages: readonly Uint8Array[], i: number): number {
    const n = messages.length;
    const frames = this.frames;
    const data = this.data;
    const cap = this.capacity;
    const mask = this.mask;
    const max = this.maxMessageSize;
    let w = this.#w;
    let free = cap - ((w - this.#cachedRead) >>> 0);
    let count = 0;
    let bytes = 0;
    for (; i < n; i++) {
      const m = messages[i]!;
      const len = m.length; // (length, not byteLength: the latter is far slower to read on Node 20)
      const frame = frameSize(len);
      const pos = w & mask;
      if (len > max || frame > cap - pos || frame > free) break;
      const p = pos >> 2;
      frames[p] = len;
      frames[p + 1] = FRAME_DATA;
      data.set(m, pos + 8);
      w = (w + frame) >>> 0;
      free -= frame;
      count++;
      bytes += len;
    }
    if (count > 0) {
      this.#w = w;
      const s = this.#stats;
      s.messages += count;
      s.bytes += bytes;
      this.#unpublished = true;
    }
    return i;
  }

  /** One checked message, without waiting: a loan's descriptor, a large buffer copied into a loan, or a copy into the ring. */
  #trySendOne(src: Uint8Array, kind = 0, id = 0): boolean {
    if (this.#pool !== null) {
      const loan = this.#pool.recordOf(src);
      if (loan !== undefined) return this.#writeLoan(loan, src.byteOffset, src.length, kind, id);
    }
    if (src.length > this.#limit(kind)) return this.#copyIn(src, kind, id);
    return kind === 0 ? this.#write(src) : this.#writeEnvelope(src, kind, id);
  }

  /** Largest bytes a frame of `kind` carries in the ring (an envelope's kind and id take 8 of maxMessageSize); above it, a loan. */
  #limit(kind: number): number {
    return kind === 0 ? this.maxMessageSize : this.maxMessageSize - ENVELOPE_HEADER;
  }

  /**
   * @internal A Peer's request/reply envelope (docs/PROTOCOL.md §7): `bytes`
   * as send() takes them (a loan of this writer goes as its descriptor, no
   * copy), framed with `kind` and `id`, in order with every other message.
   */
  trySendEnvelope(kind: number, id: number, bytes: Bytes): boolean {
    const src = this.#asBytes(bytes);
    this.#checkWritable();
    if (this.#queue.length > 0) return false;
    return this.#trySendOne(src, kind, id);
  }

  /** @internal As send(), for an envelope (trySendEnvelope). */
  sendEnvelope(kind: number, id: number, bytes: Bytes, options?: WaitOptions): Promise<void> {
    return this.#send(bytes, options, kind, id);
  }

  /**
   * Sends `messages` (an array or any iterable) in order, each as one
   * message: what fits now is copied and published together, the rest
   * waits for room as send() does (each owning a copy), in order and
   * behind nothing sent later. Resolves once all are committed. Rejects as
   * send() does (ECLOSED, EPEERDEAD, ETIMEDOUT after `timeout` ms for the
   * whole batch, AbortError); then the messages before the failed one were
   * sent and the rest were not: the error's `sent` says how many were.
   * Every message is checked before any is sent (TypeError, RangeError).
   */
  sendMany(messages: Iterable<Bytes>, options?: WaitOptions): Promise<void> {
    let list: Uint8Array[];
    let wait: ReturnType<typeof checkWaitOptions>;
    let sent: number;
    const entries: Promise<void>[] = [];
    try {
      const iterable = messages !== null && typeof messages === "object" && Symbol.iterator in messages;
      if (!iterable) throw invalidArgType("messages", "an iterable of Uint8Array, Buffer, ArrayBufferView or ArrayBuffer", messages);
      wait = checkWaitOptions(options);
      if (wait.signal?.aborted) throw abortError(wait.signal);
      this.#checkWritable();
      // An array's messages are copied only if they must wait; an iterator's as it yields them.
      list = this.#checked(messages, !Array.isArray(messages));
      sent = this.#queue.length > 0 ? 0 : this.#writeMany(list, 0);
      if (sent === list.length) return Promise.resolve();
      // The rest waits in the send queue, behind nothing: runs of copies as
      // one entry each, a loan or a large buffer as an entry of its own. One
      // deadline and one signal for all (never failed before the deadline),
      // so once an entry fails, every later one does: nothing after a failed
      // message is sent.
      const copied = !Array.isArray(messages);
      const alone = (m: Uint8Array): boolean => m.length > this.maxMessageSize || this.isLoan(m);
      for (let i = sent; i < list.length; ) {
        const base = i;
        const run = !alone(list[i]!);
        let p: Promise<void>;
        if (!run) {
          p = this.#queueSend(list[i]!, wait, base);
          i++;
        } else {
          const items: Uint8Array[] = [];
          for (; i < list.length && !alone(list[i]!); i++) {
            items.push(copied ? list[i]! : new Uint8Array(list[i]!)); // a copy: the caller may reuse its buffers at once
          }
          p = this.#enqueue({ bytes: null, loan: null, off: 0, len: 0, items, next: 0, base, kind: 0, id: 0 }, wait);
        }
        p.catch(() => {}); // awaited in order below; the later ones fail with the first
        entries.push(p);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    // The first failure in order is the batch's: its error's `sent` is set in #settle.
    return (async () => {
      for (const p of entries) await p;
    })();
  }

  /**
   * asBytes. A loan whose memory a transfer moved away is detached here, so
   * asBytes refuses it; if the buffer that took the memory still holds it,
   * the error is EBUSY instead (and the loan is cancelled: its slot returns
   * to the pool once that buffer is gone). Only the failure path looks.
   */
  #asBytes(bytes: Uint8Array | ArrayBufferView | ArrayBuffer): Uint8Array {
    // The common case in two comparisons (a detached view reads as length 0 and goes the long way).
    if (bytes instanceof Uint8Array && bytes.length !== 0) return bytes;
    try {
      return asBytes(bytes);
    } catch (e) {
      const loan = this.#pool !== null && ArrayBuffer.isView(bytes) ? this.#pool.recordOf(bytes) : undefined;
      if (loan !== undefined) this.#pool!.checkSendable(loan);
      throw e;
    }
  }

  /** Sends a buffer above maxMessageSize through a loan, copied once; false if the ring or the pool has no room now. */
  #copyIn(src: Uint8Array, kind = 0, id = 0): boolean {
    const n = src.length;
    const pool = this.#loanPool();
    pool.checkSize(n);
    if (!this.#hasSpace(this.#need(kind === 0 ? LOAN_DESCRIPTOR_SIZE : ENVELOPE_HEADER + LOAN_DESCRIPTOR_SIZE))) return false;
    const view = this.#tryLoan(n);
    if (view === null) return false;
    view.set(src);
    return this.#writeLoan(pool.recordOf(view)!, 0, n, kind, id);
  }

  /**
   * Publishes a loan's descriptor (no payload byte is copied). The user's
   * buffer is detached once the descriptor is in the ring; false (and the
   * loan still the user's) if the ring has no room now.
   */
  #writeLoan(loan: LoanRecord, off: number, len: number, kind = 0, id = 0): boolean {
    const pool = this.#pool!;
    const size = kind === 0 ? LOAN_DESCRIPTOR_SIZE : ENVELOPE_HEADER + LOAN_DESCRIPTOR_SIZE;
    const pos = this.#claim(size);
    if (pos < 0) return false;
    if (loan.buffer !== null) pool.handOver(loan);
    const p = pos >> 2;
    const frames = this.frames;
    if (kind === 0) writeDescriptor(frames, p + 2, pool.send(loan, off, len));
    else {
      frames[p + 2] = kind;
      frames[p + 3] = id;
      writeDescriptor(frames, p + 4, pool.send(loan, off, len));
    }
    frames[p] = size;
    frames[p + 1] = kind === 0 ? FRAME_LOAN : FRAME_ENVELOPE_LOAN;
    this.#w = (this.#w + frameSize(size)) >>> 0;
    this.#stats.loans++;
    this.#committed(len);
    return true;
  }

  #write(src: Uint8Array): boolean {
    const n = src.length;
    // The common case with nothing but locals: it fits before the end of the
    // data region within the free space last seen (the general path's calls
    // cost a third of trySend). Otherwise #claim pads, re-reads the read
    // index or refuses.
    const frame = frameSize(n);
    const w = this.#w;
    const cap = this.capacity;
    const at = w & this.mask;
    const pos = n <= this.maxMessageSize && frame <= cap - at && frame <= cap - ((w - this.#cachedRead) >>> 0) ? at : this.#claim(n);
    if (pos < 0) return false;
    const p = pos >> 2;
    this.frames[p] = n;
    this.frames[p + 1] = FRAME_DATA;
    this.data.set(src, pos + 8);
    this.#w = (this.#w + frame) >>> 0;
    this.#committed(n);
    return true;
  }

  /** An envelope's DATA-like frame: kind, id, then a copy of `src` (#write's checks, 8 bytes more). */
  #writeEnvelope(src: Uint8Array, kind: number, id: number): boolean {
    const n = src.length + ENVELOPE_HEADER;
    const pos = this.#claim(n);
    if (pos < 0) return false;
    const p = pos >> 2;
    const frames = this.frames;
    frames[p] = n;
    frames[p + 1] = FRAME_ENVELOPE;
    frames[p + 2] = kind;
    frames[p + 3] = id;
    this.data.set(src, pos + 16);
    this.#w = (this.#w + frameSize(n)) >>> 0;
    this.#committed(src.length);
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
  send(bytes: Bytes, options?: WaitOptions): Promise<void> {
    return this.#send(bytes, options, 0, 0);
  }

  #send(bytes: Bytes, options: WaitOptions | undefined, kind: number, id: number): Promise<void> {
    let src: Uint8Array;
    let wait: ReturnType<typeof checkWaitOptions>;
    try {
      src = this.#asBytes(bytes);
      wait = checkWaitOptions(options);
      this.#checkWritable();
      if (src.length > this.#limit(kind) && this.#pool?.recordOf(src) === undefined) {
        this.#loanPool().checkSize(src.length); // RangeError above the pool's limit
      }
      if (wait.signal?.aborted) throw abortError(wait.signal);
      if (this.#queue.length === 0 && this.#trySendOne(src, kind, id)) return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#queueSend(src, wait, null, kind, id);
  }

  /** Queues a checked message that did not fit now; it is sent by #pump, in call order. */
  #queueSend(src: Uint8Array, wait: ReturnType<typeof checkWaitOptions>, base: number | null = null, kind = 0, id = 0): Promise<void> {
    let loan: LoanRecord | undefined;
    const len = src.length; // taken before a handed-over loan's buffer is detached
    let off = 0;
    try {
      loan = this.#pool?.recordOf(src);
      if (loan !== undefined) off = src.byteOffset;
      else if (len > this.#limit(kind)) {
        // Copy into a loan now if the pool has one: queued, it is only a descriptor.
        const view = this.#tryLoan(len);
        if (view !== null) {
          view.set(src);
          loan = this.#pool!.recordOf(view)!;
        }
      }
      if (loan !== undefined) this.#pool!.handOver(loan); // the channel's now: the caller's buffer is detached
    } catch (e) {
      return Promise.reject(e);
    }
    // A copy (Buffer#slice would alias): never the caller's buffer.
    return this.#enqueue({ bytes: loan === undefined ? new Uint8Array(src) : null, loan: loan ?? null, off, len, items: null, next: 0, base, kind, id }, wait);
  }

  /** Puts a send in the queue with its deadline and signal; #pump sends it. */
  #enqueue(
    what: Pick<QueuedSend, "bytes" | "loan" | "off" | "len" | "items" | "next" | "base" | "kind" | "id">,
    wait: ReturnType<typeof checkWaitOptions>,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const q: QueuedSend = {
        ...what,
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
        // Timers may fire a millisecond before performance.now() reaches the
        // deadline: never fail a send before its time (the head's own wait
        // uses the deadline itself).
        const fire = (): void => {
          const left = q.deadline - performance.now();
          if (left > 0) q.timer = setLongTimeout(fire, left);
          else drop(this.#timedOut(q));
        };
        q.timer = setLongTimeout(fire, Math.max(0, q.deadline - performance.now()));
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
    // A loan that was not sent goes back to the pool.
    if (error !== null && q.loan !== null) this.#pool?.cancel(q.loan);
    if (q.onAbort !== null) q.signal?.removeEventListener("abort", q.onAbort);
    if (error === null) q.resolve();
    else q.reject(q.base !== null ? sentError(error, q.base + q.next) : error);
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
          if (q.items !== null) {
            // A sendMany() run: what fits now, published together; then wait for room for the next.
            q.next = this.#writeMany(q.items, q.next);
            if (q.next < q.items.length) {
              await this.#room(q.items[q.next]!.length, q.deadline, q.timeout, q.signal, "sendMany");
              continue;
            }
          } else if (q.loan === null && q.len > this.#limit(q.kind)) {
            // A large copy waiting for pool memory: copy it into a loan once there is one.
            const view = this.#tryLoan(q.len);
            if (view === null) {
              await this.#poolRoom(q.len, q.deadline, q.timeout, q.signal, "send");
              continue;
            }
            view.set(q.bytes!);
            q.bytes = null;
            q.loan = this.#pool!.recordOf(view)!;
            this.#pool!.handOver(q.loan);
          }
          if (q.items === null && !(q.loan !== null ? this.#writeLoan(q.loan, q.off, q.len, q.kind, q.id) : q.kind === 0 ? this.#write(q.bytes!) : this.#writeEnvelope(q.bytes!, q.kind, q.id))) {
            const env = q.kind === 0 ? 0 : ENVELOPE_HEADER;
            await this.#room(env + (q.loan !== null ? LOAN_DESCRIPTOR_SIZE : q.len), q.deadline, q.timeout, q.signal, "send");
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
   * (spin, then futex) up to timeoutMs for room, and publishes it at once
   * (never held to the end of the tick). Returns false on timeout.
   * Throws ECLOSED once either end is closed, EPEERDEAD if the reader died,
   * EBUSY while async send()s or writable()s are pending.
   */
  sendSync(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, timeoutMs = Infinity): boolean {
    const src = this.#asBytes(bytes);
    checkSyncTimeout(timeoutMs);
    this.#checkWritable();
    let loan = this.#pool?.recordOf(src);
    const big = loan === undefined && src.length > this.maxMessageSize;
    if (big) this.#loanPool().checkSize(src.length); // RangeError above the pool's limit
    if (this.#queue.length > 0 || this.parker.busy) throw this.error("EBUSY", "async send()s or writable()s are pending on this writer");
    const deadline = performance.now() + timeoutMs;
    let off = src.byteOffset;
    if (big) {
      const view = this.loanSync(src.length, timeoutMs);
      if (view === null) return false;
      view.set(src);
      loan = this.#pool!.recordOf(view)!;
      off = 0;
    }
    const n = loan !== undefined ? LOAN_DESCRIPTOR_SIZE : src.length;
    for (;;) {
      if (loan !== undefined ? this.#writeLoan(loan, off, src.length) : this.#write(src)) {
        // Published at once, with whatever the tick held: a thread that
        // sends synchronously may block next by means no flush sees
        // (Atomics.wait pacing a loop), and its tick may never end.
        if (!this.#corked) this.flush();
        return true;
      }
      this.#countWait();
      if (!this.parker.waitSync({ ready: this.#roomFor(n), recheck: this.#checkReader, deadline, op: "sendSync" })) {
        if (big) this.#pool!.cancel(loan!); // our copy: back to the pool; a caller's loan stays theirs
        return false;
      }
      this.#checkWritable();
    }
  }

  // ---- Loans ----

  #loanPool(): LoanPool {
    if (this.#pool === null) {
      const hdr = this.hdr;
      this.ensureOpen();
      this.#pool = new LoanPool(
        { segment: this.segment, token: this.segment.token, ownerPid: hdr[H.ownerPid]! >>> 0, ownerStartLo: hdr[H.ownerStartTime]!, ownerStartHi: hdr[H.ownerStartTime + 1]! },
        hdr,
        this.#poolConfig,
      );
    }
    return this.#pool;
  }

  /** A loan from the pool now, taking back a dead reader's loans if that is what it takes; null if none. */
  #tryLoan(size: number): Uint8Array | null {
    const pool = this.#loanPool();
    return pool.tryLoan(size) ?? (this.#revokeIfReaderDead() ? pool.tryLoan(size) : null);
  }

  /**
   * When the reader died holding loans (or with descriptors still in the
   * ring), takes every sent slot back. Holding the reader's lock meanwhile
   * keeps a new reader from attaching halfway; the epoch the pool advances
   * tells a later reader to skip what was sent before.
   */
  #revokeIfReaderDead(): boolean {
    const pool = this.#pool;
    if (pool === null || !pool.hasInFlight || Atomics.load(this.hdr, H.readerState) !== SIDE_OPEN || !this.peerDead()) return false;
    const handle = this.segment.handle;
    if (!handle.lock(READER_LOCK_BYTE)) return false; // a new reader attached meanwhile: it will release them
    try {
      pool.revokeSent();
    } finally {
      handle.unlock(READER_LOCK_BYTE);
    }
    return true;
  }

  #checkLoan(size: unknown): number {
    this.#checkWritable();
    return this.#loanPool().checkSize(size);
  }

  /**
   * Lends `size` bytes of shared memory from this writer's pool, to fill in
   * place and send with trySend/send/sendSync (no payload byte copied), or
   * give back with cancelLoan(). Returns null when the pool is at its limit
   * (options.pool.maxBytes) with nothing released. The view has an
   * ArrayBuffer of its own (byteOffset 0, page-aligned memory); it is
   * detached (length 0) once sent or cancelled. A loan nobody references
   * goes back to the pool when collected.
   */
  tryLoan(size: number): Uint8Array | null {
    return this.#tryLoan(this.#checkLoan(size));
  }

  /**
   * As tryLoan(), waiting for the reader to release a loan while the pool is
   * at its limit. Rejects with ECLOSED (either end closed), ETIMEDOUT,
   * AbortError; a reader that died gives its loans back instead.
   */
  async loan(size: number, options?: WaitOptions): Promise<Uint8Array> {
    const n = this.#checkLoan(size);
    const { signal, deadline, timeout } = checkWaitOptions(options);
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      this.#checkWritable();
      const view = this.#tryLoan(n);
      if (view !== null) return view;
      await this.#poolRoom(n, deadline, timeout, signal, "loan");
    }
  }

  /** Blocking loan() for worker threads: null after timeoutMs with the pool still full. */
  loanSync(size: number, timeoutMs = Infinity): Uint8Array | null {
    const n = this.#checkLoan(size);
    checkSyncTimeout(timeoutMs);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const view = this.#tryLoan(n);
      if (view !== null) return view;
      if (!this.parker.waitSync({ ready: this.#released(), recheck: this.#revokeCheck, deadline, op: "loanSync" })) return this.#tryLoan(n);
      this.#checkWritable();
    }
  }

  /**
   * Gives back pool memory nobody uses: removes free slabs (every slot free,
   * after taking back what the reader released), least recently used first,
   * until the pool holds at most `keepBytes` (default 0: every free slab).
   * The pool grows again on demand. Returns the bytes given back. For a
   * writer that sent a burst of large loans and then only small messages:
   * the pool otherwise keeps its slabs until close.
   */
  trimPool(keepBytes = 0): number {
    checkInteger("keepBytes", keepBytes, 0, Number.MAX_SAFE_INTEGER);
    this.ensureOpen();
    return this.#pool?.trim(keepBytes) ?? 0;
  }

  /** Returns a loan that was not sent to the pool; the view (any view over it) is detached. Unknown or sent views are ignored. */
  cancelLoan(loan: ArrayBufferView): void {
    if (!ArrayBuffer.isView(loan)) throw invalidArgType("loan", "a view returned by loan() or tryLoan()", loan);
    const rec = this.#pool?.recordOf(loan);
    if (rec !== undefined) this.#pool!.cancel(rec);
  }

  /** The condition a loan waits for: a slot came back (or either end closed). */
  #released(): () => boolean {
    const pool = this.#pool!;
    const v0 = pool.version;
    const hdr = this.hdr;
    return () => this.closed || Atomics.load(hdr, H.readerState) === SIDE_CLOSED || (pool.reclaim(), pool.version !== v0);
  }

  /** On a wait's periodic re-check: a dead reader's loans come back (never EPEERDEAD: the pool is ours). */
  #revokeCheck = (): void => {
    this.#revokeIfReaderDead();
  };

  async #poolRoom(n: number, deadline: number, timeout: number, signal: AbortSignal | undefined, op: string): Promise<void> {
    await this.parker.wait({ ready: this.#released(), recheck: this.#revokeCheck, watched: this.#watched, deadline, timeout, signal, op });
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
      if (this.peerLine.notify()) this.#stats.wakeups++;
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

  /** Publishes what was sent since cork() (and anything the tick holds back). */
  uncork(): void {
    this.#corked = false;
    this.flush();
  }

  /**
   * Publishes now everything sent so far (held back by cork() or by the
   * tick, see options.publish), with one index store and at most one
   * wakeup. Stays corked if corked.
   */
  flush(): void {
    if (this.#unpublished && !this.closed) this.#publish();
  }

  /**
   * Closes the writing end: the reader receives what was sent, then end of
   * stream. Queued send()s reject with ECLOSED. The segment's name is
   * removed (the reader keeps its mapping). Safe to call twice.
   */
  close(): void {
    this.#reserved = null;
    this.#tickHeld = false;
    releaseHold(this);
    if (!this.closed) this.uncork();
    this.closeEnd(H.writerState);
  }

  /** @internal the user's loans are detached and the slabs removed; the reader keeps its mappings */
  protected closeLoans(): void {
    if (this.#pool === null) return;
    // A reader that closed or died maps nothing more: no slab needs its name
    // kept for it (a reader yet to come, "absent", still does).
    const st = Atomics.load(this.hdr, H.readerState);
    const gone = st === SIDE_CLOSED || (st === SIDE_OPEN && !this.segment.closed && !this.segment.handle.probe(READER_LOCK_BYTE));
    this.#pool.close(gone);
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

/** A batch's failure, with how many of its messages were sent before it (`sent`). */
function sentError(e: unknown, sent: number): unknown {
  if (!(e instanceof Error)) return e;
  const err = new Error(e.message, { cause: e }) as Error & { code?: unknown; sent: number };
  err.name = e.name;
  if ("code" in e) err.code = (e as { code: unknown }).code;
  err.sent = sent;
  return err;
}

/** Longest `await using` waits for a writer's queued send()s before closing. */
export const DISPOSE_LINGER_MS = 1000;
