// The reading end of a channel: attaches the writer's ring segment by name,
// validates every frame it reads (lengths, types, indices come from another
// process and are untrusted), and hands out zero-copy views into the ring.
//
// Lifetimes (one rule for every receive call): a received view is valid
// until the next receive call or release() on this reader; keep() extends
// it until the returned handle's release(), for up to maxKept messages. The
// ring memory under a view or a kept message is not reused by the writer
// before it is released: the read index published to the writer never
// passes the oldest kept message. The async iterator hands out copies, so
// whatever pulls ahead of the user (Readable.from, arrays) gets data that
// stays valid.
import { ChannelEnd, H, checkSyncTimeout, storeU64, type ChannelEndOptions, type EndConfig } from "./end.js";
import {
  abortError,
  checkInteger,
  checkWaitOptions,
  invalidArgType,
  invalidState,
  type WaitOptions,
} from "../core/errors.js";
import { anyHeld, flushHeld } from "../core/publish.js";
import { OFFSETS, SIDE_CLOSED } from "../core/layout.js";
import { receiveIterator, type MessagesOptions } from "./iterate.js";
import { ENVELOPE_ERROR, ENVELOPE_HEADER, ENVELOPE_REPLY, ENVELOPE_REQUEST, FRAME_DATA, FRAME_ENVELOPE, FRAME_ENVELOPE_LOAN, FRAME_LOAN, FRAME_PAD, frameSize } from "./ring.js";
import { LOAN_DESCRIPTOR_SIZE, readDescriptor } from "../loan/descriptor.js";
import { LoanReceiver, type HeldLoan } from "../loan/receiver.js";
import type { Segment } from "../core/segment.js";

/** Messages a reader may keep at once when no maxKept option is given. */
export const DEFAULT_MAX_KEPT = 8;

export interface ReaderOptions extends ChannelEndOptions {
  /**
   * How many received messages may be kept at once with keep() (default 8).
   * Kept messages hold their ring space: the writer cannot reuse it, and a
   * ring full of kept messages makes the writer wait.
   */
  maxKept?: number;
}

export interface ReaderStats {
  /** Messages received. */
  messages: number;
  /** Payload bytes received. */
  bytes: number;
  /** Times the reader went to sleep on an empty ring (announced sleeps: Parker.sleeps). */
  sleeps: number;
  /** Times the reader woke a writer sleeping for room or for a loan (each one a syscall). */
  wakeups: number;
  /** Messages kept now (keep() handles not yet released). */
  kept: number;
}

export type { MessagesOptions };

/**
 * What drain() hands each message to: its bytes are
 * `data[offset, offset + length)`, valid during the call only.
 */
export type MessageHandler = (data: Uint8Array, offset: number, length: number) => void;

/** Most messages one recvMany() returns when no `max` is given. */
export const DEFAULT_RECV_MANY = 1024;

interface Kept {
  start: number; // read index of the frame (u32)
  released: boolean;
}

/**
 * A received message kept beyond the next receive (ChannelReader.keep()).
 * Its ring space is not reused until release(). Using `data` after
 * release() reads whatever the writer puts there next.
 */
export class KeptMessage {
  /** The message's bytes: a view into the ring (no copy). */
  readonly data: Uint8Array;
  #release: (() => void) | null;

  private constructor(data: Uint8Array, release: () => void) {
    this.data = data;
    this.#release = release;
  }

  /** @internal what ChannelReader.keep() hands out */
  static of(data: Uint8Array, release: () => void): KeptMessage {
    return new KeptMessage(data, release);
  }

  /** Whether release() was called (or the reader closed). */
  get released(): boolean {
    return this.#release === null;
  }

  /** Returns the message's ring space to the writer. Safe to call twice. */
  release(): void {
    const r = this.#release;
    this.#release = null;
    r?.();
  }

  /** release(), for `using kept = rx.keep()`. */
  [Symbol.dispose](): void {
    this.release();
  }
}

export class ChannelReader extends ChannelEnd {
  #r = 0; // index of the next frame to read (u32)
  #published = 0; // read index last published to the header (u32)
  #cachedWrite = 0; // write index last seen (u32)
  #current: Uint8Array | null = null; // the view handed out and not yet released
  #currentStart = 0; // its frame's read index (u32); two fields, no allocation per message
  #currentLoan: HeldLoan | null = null; // set when the view handed out is a loan
  #env = 0; // the message handed out came in an envelope of this kind (docs/PROTOCOL.md §7); 0: a plain message
  #envId = 0; // and with this id
  readonly #loans: LoanReceiver;
  readonly #kept: Kept[] = []; // kept frames, oldest first (released ones wait behind an older unreleased one)
  #keptLive = 0; // kept and not yet released: what maxKept bounds
  #receiving = false; // a recv() is waiting
  #draining = false; // a drain() is calling its handler
  readonly #ab: ArrayBuffer; // the segment's buffer, and where the data region starts in it: views are made from these
  readonly #base: number;
  readonly #batch: number;
  /** Most messages keep() holds at once. */
  readonly maxKept: number;
  readonly #stats = { messages: 0, bytes: 0, wakeups: 0 };

  /** @internal use Channel.attach() */
  constructor(segment: Segment, opts: EndConfig & { maxKept: number }) {
    super(segment, OFFSETS.reader_wait, OFFSETS.writer_wait, opts);
    this.#batch = this.capacity / 4;
    this.#ab = this.data.buffer as ArrayBuffer;
    this.#base = this.data.byteOffset;
    this.maxKept = opts.maxKept;
    const hdr = this.hdr;
    const r = Atomics.load(hdr, H.readIndex) >>> 0;
    this.#r = this.#published = this.#cachedWrite = r;
    // The loan epoch cannot change while this reader holds the reader lock.
    const ring = { segment, token: segment.token, ownerPid: hdr[H.ownerPid]! >>> 0, ownerStartLo: hdr[H.ownerStartTime]!, ownerStartHi: hdr[H.ownerStartTime + 1]! };
    this.#loans = new LoanReceiver(ring, Atomics.load(hdr, OFFSETS.loan_epoch >> 2) >>> 0, () => {
      if (!this.closed) this.#wakeWriter();
    });
  }

  /** @internal */
  protected get isWriter(): boolean {
    return false;
  }

  get stats(): Readonly<ReaderStats> {
    return { ...this.#stats, sleeps: this.parker.sleeps, kept: this.#keptLive };
  }

  /**
   * @internal The kind of envelope (docs/PROTOCOL.md §7: 1 request, 2
   * reply, 3 error) the message last received came in, 0 for a plain
   * message; envelopeId its id. A Peer reads these after each receive.
   */
  get envelope(): number {
    return this.#current === null ? 0 : this.#env;
  }

  /** @internal See envelope. */
  get envelopeId(): number {
    return this.#envId;
  }

  /**
   * @internal The message last received, if it is a loan, with the call that
   * releases it: held (its slot, no ring space) until then, outside maxKept:
   * the writer's pool bounds how many there can be. Null if it is not a loan.
   */
  takeLoan(): { data: Uint8Array; release: () => void } | null {
    const c = this.#current;
    const loan = this.#currentLoan;
    if (c === null || loan === null) return null;
    this.#current = null;
    this.#currentLoan = null;
    // (release refers to the loan, not to its view: a FinalizationRegistry may hold it while the view is collected)
    return { data: c, release: () => (this.closed || loan.released ? undefined : this.#loans.release(loan)) };
  }

  /** Whether the writer closed its end (what is left can still be read). */
  get writerClosed(): boolean {
    return !this.closed && Atomics.load(this.hdr, H.writerState) === SIDE_CLOSED;
  }

  /**
   * The writing end as this reader sees it: "open", "closed" (end of stream
   * once drained) or "dead" (its process died without closing). Probes the
   * writer's liveness lock (one syscall).
   */
  get writerState(): "open" | "closed" | "dead" {
    this.ensureOpen();
    if (Atomics.load(this.hdr, H.writerState) === SIDE_CLOSED) return "closed";
    return this.peerDead() ? "dead" : "open";
  }

  /** How far the writer may reuse the ring: up to the oldest kept message, or everything read. */
  #horizon(): number {
    return this.#kept.length > 0 ? this.#kept[0]!.start : this.#current !== null ? this.#currentStart : this.#r;
  }

  /** Makes consumed frames available to the writer and wakes it if it waits for space. */
  #publish(): void {
    const h = this.#horizon();
    this.#published = h;
    const hdr = this.hdr;
    // SYNC POINT: release of the consumed frames; pairs with the writer's
    // Atomics.load of the read index in #hasSpace.
    Atomics.store(hdr, H.readIndex, h | 0);
    storeU64(hdr, H.messagesRead, this.#stats.messages);
    storeU64(hdr, H.bytesRead, this.#stats.bytes);
    this.#wakeWriter();
  }

  /** Wakes the writer if it sleeps (for room, or for a loan): one load when it does not. */
  #wakeWriter(): void {
    if (Atomics.load(this.hdr, H.writerWaiting) !== 0 && this.peerLine.notify()) this.#stats.wakeups++;
  }

  /**
   * Releases the message last received: its view must not be used
   * afterwards (it may read the writer's next messages), and its ring space
   * goes back to the writer now. Receiving again releases it too, but
   * publishes freed space in batches. Kept messages are released through
   * their own handles.
   */
  release(): void {
    if (this.closed) return;
    if (this.#draining) throw this.error("EBUSY", "release() was called from a drain() handler (its message is released when the handler returns)");
    this.#dropLoan();
    this.#current = null;
    if (this.#horizon() !== this.#published) this.#publish();
  }

  /**
   * Implicit release of the view handed out. Publishing every quarter of the
   * ring (and whenever the ring runs empty) is enough for a waiting writer
   * to make progress; #publish wakes it.
   */
  #releaseCurrent(): void {
    this.#dropLoan();
    this.#current = null;
    if (((this.#horizon() - this.#published) >>> 0) >= this.#batch) this.#publish();
  }

  /** Releases the loan handed out as the current message, if it is one: its view reads as length 0. */
  #dropLoan(): void {
    const l = this.#currentLoan;
    if (l === null) return;
    this.#currentLoan = null;
    this.#loans.release(l);
  }

  /**
   * Keeps the message last received valid beyond the next receive, until
   * the returned handle's release(): a view whose memory the writer does
   * not reuse meanwhile. At most maxKept at once (EMAXKEPT beyond);
   * ERR_INVALID_STATE if there is no received, unreleased message to keep.
   */
  keep(): KeptMessage {
    this.ensureOpen();
    if (this.#draining) throw this.error("EBUSY", "keep() was called from a drain() handler (copy what you need to keep)");
    const c = this.#current;
    if (c === null) throw invalidState("keep() needs a message received and not yet released or kept");
    if (this.#keptLive >= this.maxKept) {
      throw this.error("EMAXKEPT", `${this.maxKept} messages are kept already (maxKept); release one first`);
    }
    this.#current = null;
    const loan = this.#currentLoan;
    if (loan !== null) {
      // A loan holds no ring space: only its slot, until this handle's release().
      this.#currentLoan = null;
      this.#keptLive++;
      return KeptMessage.of(c, () => {
        if (this.closed || loan.released) return;
        this.#keptLive--;
        this.#loans.release(loan);
      });
    }
    const entry: Kept = { start: this.#currentStart, released: false };
    this.#kept.push(entry); // the newest frame received: the list stays in ring order
    this.#keptLive++;
    return KeptMessage.of(c, () => this.#releaseKept(entry));
  }

  #releaseKept(entry: Kept): void {
    if (this.closed || entry.released) return;
    entry.released = true;
    this.#keptLive--;
    const kept = this.#kept;
    while (kept.length > 0 && kept[0]!.released) kept.shift();
    if (this.#horizon() !== this.#published) this.#publish();
  }

  /**
   * The size of a DATA frame at data-region offset `pos` whose header says
   * `len`, with `avail` bytes published from there; ECORRUPT unless its
   * length is a message's and it lies within what was published and the
   * data region (docs/PROTOCOL.md §2, reader step 2).
   */
  #dataFrame(pos: number, len: number, avail: number): number {
    const frame = frameSize(len);
    if (len > this.maxMessageSize || frame > avail || pos + frame > this.capacity) {
      this.corrupt(`bad frame at ${pos}: length ${len}, ${avail} bytes published`);
    }
    return frame;
  }

  /** As #dataFrame for a PAD frame: it must run exactly to the end of the data region, all of it published. */
  #padFrame(pos: number, len: number, avail: number): number {
    const toEnd = this.capacity - pos;
    if (len !== toEnd - 8 || toEnd > avail) this.corrupt(`bad padding frame at ${pos}: length ${len}`);
    return toEnd;
  }

  /**
   * The next message as a view into the ring (no copy), or null if there is
   * none now. **The view is valid until the next receive call or release()
   * on this reader** (keep() extends it). Throws ECORRUPT (and closes) on an
   * invalid frame; ECLOSED once closed.
   */
  tryRecv(): Uint8Array | null {
    this.ensureOpen();
    if (this.#draining) throw this.error("EBUSY", "a receive was called from a drain() handler");
    if (this.#current !== null) this.#releaseCurrent();
    return this.#read();
  }

  /** The next message (the current one released already), or null. */
  #read(): Uint8Array | null {
    const hdr = this.hdr;
    const cap = this.capacity;
    for (;;) {
      let r = this.#r;
      if (r === this.#cachedWrite) {
        // SYNC POINT: acquire of the frames the writer published (writer #publish).
        const w = Atomics.load(hdr, H.writeIndex) >>> 0;
        if (w === r) {
          // Empty: everything consumed is released. Comparing with the shared
          // copy (ours to own) also repairs one that was overwritten.
          if (Atomics.load(hdr, H.readIndex) !== (this.#horizon() | 0)) this.#publish();
          // A caller polling an empty ring may be waiting for the answer to
          // a message its own process still holds back, or for one it sent
          // itself this tick (publish.ts): publish those, then look again.
          if (anyHeld()) {
            flushHeld();
            continue;
          }
          return null;
        }
        if (((w - r) >>> 0) > cap) this.corrupt(`write index ${w} is not within the ring (read index ${r})`);
        this.#cachedWrite = w;
      }
      const avail = (this.#cachedWrite - r) >>> 0;
      const pos = r & this.mask;
      const p = pos >> 2;
      // Read each shared word once; only the local copies are checked and used.
      const len = this.frames[p]! >>> 0;
      const type = this.frames[p + 1]!;
      if (type === FRAME_DATA) {
        const frame = this.#dataFrame(pos, len, avail);
        this.#r = (r + frame) >>> 0;
        const s = this.#stats;
        s.messages++;
        s.bytes += len;
        const view = new Uint8Array(this.#ab, this.#base + pos + 8, len); // (a third cheaper than data.subarray)
        this.#current = view;
        this.#currentStart = r;
        this.#env = 0;
        return view;
      }
      if (type === FRAME_ENVELOPE) {
        const frame = this.#dataFrame(pos, len, avail);
        if (len < ENVELOPE_HEADER) this.corrupt(`bad envelope frame at ${pos}: length ${len}, shorter than its kind and id`);
        const kind = this.frames[p + 2]! >>> 0;
        if (kind < ENVELOPE_REQUEST || kind > ENVELOPE_ERROR) this.corrupt(`bad envelope frame at ${pos}: kind ${kind}`);
        this.#r = (r + frame) >>> 0;
        const s = this.#stats;
        s.messages++;
        s.bytes += len - ENVELOPE_HEADER;
        const view = new Uint8Array(this.#ab, this.#base + pos + 16, len - ENVELOPE_HEADER);
        this.#current = view;
        this.#currentStart = r;
        this.#env = kind;
        this.#envId = this.frames[p + 3]! >>> 0;
        return view;
      }
      if (type === FRAME_LOAN || type === FRAME_ENVELOPE_LOAN) {
        const frame = frameSize(len);
        const env = type === FRAME_LOAN ? 0 : ENVELOPE_HEADER;
        if (len !== env + LOAN_DESCRIPTOR_SIZE || frame > avail || pos + frame > cap) {
          this.corrupt(`bad loan frame at ${pos}: length ${len}, ${avail} bytes published`);
        }
        // Each shared word once: the envelope's kind and id are copied before use.
        const kind = env === 0 ? 0 : this.frames[p + 2]! >>> 0;
        const id = env === 0 ? 0 : this.frames[p + 3]! >>> 0;
        if (env !== 0 && kind !== ENVELOPE_REQUEST && kind !== ENVELOPE_REPLY) this.corrupt(`bad envelope loan frame at ${pos}: kind ${kind}`);
        const v = this.#loans.accept(readDescriptor(this.frames, p + 2 + (env >> 2)));
        if ("corrupt" in v) this.corrupt(v.corrupt);
        if ("attachError" in v) {
          const e = v.attachError;
          if (e.code !== "ENOENT") throw e; // EMFILE, ENOMEM...: the frame stays; a later receive meets it again
          const ws = Atomics.load(this.hdr, H.writerState);
          if (ws !== SIDE_CLOSED && !this.peerDead()) this.corrupt(`a loan names a pool slab that does not exist (${e.message})`);
          // The writer is gone (closed, then removed the slab after pool.lingerMs; or died and was swept):
          // this loan is lost, the frames after it are not.
          this.#r = (r + frame) >>> 0;
          throw this.error(
            ws === SIDE_CLOSED ? "ENOENT" : "EPEERDEAD",
            ws === SIDE_CLOSED
              ? "a loan's memory was removed before this reader mapped it: the writer closed and waited pool.lingerMs for it"
              : "the writer's process died and its loan pool is gone",
          );
        }
        r = (r + frame) >>> 0;
        this.#r = r;
        if ("revoked" in v) continue; // sent to a reader that died; the writer took it back
        const s = this.#stats;
        s.messages++;
        s.bytes += v.view.length;
        this.#current = v.view;
        this.#currentStart = r; // a loan holds no ring space
        this.#currentLoan = v.loan;
        this.#env = kind;
        this.#envId = id;
        return v.view;
      }
      if (type === FRAME_PAD) {
        r = (r + this.#padFrame(pos, len, avail)) >>> 0;
        this.#r = r;
        continue;
      }
      this.corrupt(`unknown frame type ${type} at ${pos}`);
    }
  }

  /**
   * Hands every message published now (at most `max`) to `handler`, in
   * order, with one load of the write index and one release of their space
   * at the end; returns how many (0: none now). Nothing is allocated per
   * message: the handler gets the ring's bytes and the message's offset and
   * length, valid during the call only (a loan: its own view, offset 0).
   * A message handed to a handler that throws is consumed; the error
   * propagates and the rest stays for the next receive. ECORRUPT (and the
   * reader closes) when a frame is invalid: no handler ever gets bytes
   * outside the message. Not at end of stream: 0, then readable() or recv()
   * tells the end (ECLOSED). The handler must not receive on this reader.
   */
  drain(handler: MessageHandler, max = Infinity): number {
    this.ensureOpen();
    if (typeof handler !== "function") throw invalidArgType("handler", "a function", handler);
    if (max !== Infinity) checkInteger("max", max, 0, Number.MAX_SAFE_INTEGER);
    if (this.#draining) throw this.error("EBUSY", "drain() was called from its own handler");
    if (this.#current !== null) this.#releaseCurrent();
    const hdr = this.hdr;
    const frames = this.frames;
    const data = this.data;
    const cap = this.capacity;
    const mask = this.mask;
    let r = this.#r;
    // SYNC POINT: acquire of the frames the writer published (writer #publish).
    let w = Atomics.load(hdr, H.writeIndex) >>> 0;
    if (w === r && anyHeld()) {
      flushHeld(); // messages this process holds back this tick (publish.ts), perhaps our own
      w = Atomics.load(hdr, H.writeIndex) >>> 0;
    }
    if (((w - r) >>> 0) > cap) this.corrupt(`write index ${w} is not within the ring (read index ${r})`);
    this.#cachedWrite = w;
    let count = 0;
    let bytes = 0;
    this.#draining = true;
    try {
      while (r !== w && count < max) {
        const avail = (w - r) >>> 0;
        const pos = r & mask;
        const p = pos >> 2;
        // Each shared word is read once; only the local copies are checked and used.
        const len = frames[p]! >>> 0;
        const type = frames[p + 1]!;
        if (type === FRAME_DATA) {
          r = (r + this.#dataFrame(pos, len, avail)) >>> 0;
          this.#r = r; // consumed before the handler runs: a handler that throws has had it
          count++;
          bytes += len;
          handler(data, pos + 8, len);
        } else if (type === FRAME_PAD) {
          r = (r + this.#padFrame(pos, len, avail)) >>> 0;
          this.#r = r;
          continue;
        } else {
          // A loan (or corruption): the one-message path validates and maps it.
          // It may skip a revoked loan and load the write index again: go on
          // from where it left off, up to what it saw (never past it).
          const m = this.#read();
          r = this.#r;
          w = this.#cachedWrite;
          if (m === null) continue; // a revoked loan, skipped
          if (this.#env !== 0) this.corrupt("a request/reply envelope (docs/PROTOCOL.md §7) met by drain(): a Peer's channel is read by the Peer");
          count++;
          bytes += m.length;
          const loan = this.#currentLoan;
          this.#current = null;
          this.#currentLoan = null;
          try {
            handler(m, 0, m.length);
          } finally {
            if (loan !== null && !this.closed) this.#loans.release(loan);
          }
        }
        if (this.closed) break; // the handler closed the reader
      }
    } finally {
      this.#draining = false;
      if (!this.closed) {
        const s = this.#stats;
        s.messages += count;
        s.bytes += bytes;
        if (this.#horizon() !== this.#published) this.#publish();
      }
    }
    return count;
  }

  /**
   * The messages published now, at most `max` (default 1024), waiting for
   * the first if there is none (as recv()): views into the ring (no copy),
   * **valid until the next receive call or release() on this reader**, all
   * taken with one load of the write index. A loan comes alone (a batch
   * stops before one). keep() then keeps the last of them, holding the
   * ring space of the whole batch. Rejects as recv() does (ECLOSED at end
   * of stream, EPEERDEAD, ETIMEDOUT, AbortError, ECORRUPT: a batch with an
   * invalid frame returns nothing).
   */
  async recvMany(max = DEFAULT_RECV_MANY, options?: WaitOptions): Promise<Uint8Array[]> {
    checkInteger("max", max, 1, Number.MAX_SAFE_INTEGER);
    const first = await this.recv(options);
    return this.#rest(first, max);
  }

  /** As recvMany(), without waiting: an empty array when there is nothing now. */
  tryRecvMany(max = DEFAULT_RECV_MANY): Uint8Array[] {
    checkInteger("max", max, 1, Number.MAX_SAFE_INTEGER);
    const first = this.tryRecv();
    return first === null ? [] : this.#rest(first, max);
  }

  /** The batch after `first` (just received): data frames already published, up to max in all. */
  #rest(first: Uint8Array, max: number): Uint8Array[] {
    const out = [first];
    if (this.#currentLoan !== null || this.#env !== 0) return out;
    const start = this.#currentStart; // the batch holds its space from its first frame on
    const frames = this.frames;
    const cap = this.capacity;
    let r = this.#r;
    // SYNC POINT: acquire of the frames the writer published since (writer #publish).
    const w = Atomics.load(this.hdr, H.writeIndex) >>> 0;
    if (((w - r) >>> 0) > cap) this.corrupt(`write index ${w} is not within the ring (read index ${r})`);
    this.#cachedWrite = w;
    let bytes = 0;
    while (r !== w && out.length < max) {
      const avail = (w - r) >>> 0;
      const pos = r & this.mask;
      const p = pos >> 2;
      const len = frames[p]! >>> 0;
      const type = frames[p + 1]!;
      if (type === FRAME_PAD) {
        r = (r + this.#padFrame(pos, len, avail)) >>> 0;
        continue;
      }
      if (type === FRAME_LOAN || type === FRAME_ENVELOPE || type === FRAME_ENVELOPE_LOAN) break; // a loan or an envelope comes alone, in the next batch
      if (type !== FRAME_DATA) this.corrupt(`unknown frame type ${type} at ${pos}`);
      const frame = this.#dataFrame(pos, len, avail);
      out.push(new Uint8Array(this.#ab, this.#base + pos + 8, len));
      bytes += len;
      r = (r + frame) >>> 0;
    }
    // Only now, with every frame valid: the batch is taken.
    this.#r = r;
    const s = this.#stats;
    s.messages += out.length - 1;
    s.bytes += bytes;
    this.#current = out[out.length - 1]!;
    this.#currentStart = start;
    return out;
  }

  /**
   * Resolves when a message can be received now (tryRecv, drain and
   * tryRecvMany find it), waiting if the ring is empty (spin while it pays,
   * then sleep). Rejects with ECLOSED at end of stream (the writer closed
   * and everything was received) or on close, EPEERDEAD if the writer
   * died, ETIMEDOUT, AbortError. For a loop of drain(): `while (true) {
   * if (rx.drain(fn) === 0) await rx.readable(); }`.
   */
  async readable(options?: WaitOptions): Promise<void> {
    const { signal, deadline, timeout } = checkWaitOptions(options);
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      this.ensureOpen();
      const hdr = this.hdr;
      const closed = Atomics.load(hdr, H.writerState) === SIDE_CLOSED; // before write_index: see #next
      if (Atomics.load(hdr, H.writeIndex) >>> 0 !== this.#r) return;
      if (closed) this.#endOfStream();
      await this.parker.wait({ ready: this.#ready, recheck: this.#checkWriter, watched: this.#watched, deadline, timeout, signal, op: "readable" });
    }
  }

  /** Something to read, or the writer closed: what a sleeping reader waits for. */
  #ready = (): boolean =>
    this.closed ||
    Atomics.load(this.hdr, H.writeIndex) >>> 0 !== this.#r ||
    Atomics.load(this.hdr, H.writerState) === SIDE_CLOSED;

  #endOfStream(): never {
    throw this.error("ECLOSED", "the writer closed the channel and everything it sent was received");
  }

  /** The next message, or null if none now; throws ECLOSED at end of stream. */
  #next(): Uint8Array | null {
    const m = this.tryRecv();
    if (m !== null) return m;
    // SYNC POINT: writer_state is loaded before write_index (in tryRecv):
    // a writer stores write_index, then writer_state = closed, so a reader
    // that sees "closed" and then an empty ring has everything.
    if (Atomics.load(this.hdr, H.writerState) === SIDE_CLOSED) {
      const last = this.tryRecv(); // published before the writer closed
      if (last !== null) return last;
      this.#endOfStream();
    }
    return null;
  }

  #checkWriter = (): void => {
    if (!this.peerDead()) return;
    throw this.error("EPEERDEAD", "the writer's process died without closing the channel; everything it published was received");
  };

  #watched = (): boolean => this.watchPeer();

  /**
   * The next message, waiting for one if the ring is empty (spin while it
   * pays, then sleep on the event loop). **The view is valid until the next
   * receive call or release() on this reader** (keep() extends it).
   * Rejects with ECLOSED at end of stream or on close, EPEERDEAD if the
   * writer died, ETIMEDOUT after `timeout` ms, AbortError when `signal`
   * aborts; a receive that rejects takes no message (the next one gets it).
   * One recv() at a time (EBUSY).
   */
  async recv(options?: WaitOptions): Promise<Uint8Array> {
    const { signal, deadline, timeout } = checkWaitOptions(options);
    if (signal?.aborted) throw abortError(signal);
    if (this.#receiving) throw this.error("EBUSY", "a recv() is already pending on this reader");
    const m = this.#next();
    if (m !== null) return m;
    this.#receiving = true;
    try {
      for (;;) {
        await this.parker.wait({
          ready: this.#ready,
          recheck: this.#checkWriter,
          watched: this.#watched,
          deadline,
          timeout,
          signal,
          op: "recv",
        });
        // An abort between the wakeup and here must not take a message.
        if (signal?.aborted) throw abortError(signal);
        const next = this.#next();
        if (next !== null) return next;
      }
    } finally {
      this.#receiving = false;
    }
  }

  /**
   * Blocking receive for worker threads: the next message, or null after
   * timeoutMs without one. **The view is valid until the next receive call
   * or release() on this reader** (keep() extends it). Throws ECLOSED at
   * end of stream, EPEERDEAD if the writer died, EBUSY while a recv() is
   * pending.
   */
  recvSync(timeoutMs: number): Uint8Array | null {
    checkSyncTimeout(timeoutMs);
    if (this.#receiving) throw this.error("EBUSY", "a recv() is pending on this reader");
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const m = this.#next();
      if (m !== null) return m;
      const ready = this.parker.waitSync({ ready: this.#ready, recheck: this.#checkWriter, deadline, op: "recvSync" });
      if (!ready) return this.#next();
    }
  }

  /**
   * @internal What an iterator that copies hands out for `m`, the message
   * just received: a copy, with the ring's space (or the loan's slot) given
   * back at once. Loans are copied too: a writer's send() turns any buffer
   * over maxMessageSize into a loan, so a reader cannot tell, and a loan's
   * view ends with the next step (collected into an array, or pulled ahead
   * by Readable.from, it would read as empty). Zero copy: `{ copy: false }`,
   * or recv() and keep().
   */
  iterationCopy(m: Uint8Array): Uint8Array {
    const c = Buffer.from(m); // small copies come from Node's buffer pool
    if (this.#current === m) this.#releaseCurrent(); // nothing of the ring or the pool is out now
    return c;
  }

  /**
   * @internal As iterationCopy, but a loan is handed out as itself (its
   * view valid until the next receive): for a consumer that decides later
   * whether to copy it (an Agent's inbox).
   */
  copyUnlessLoan(m: Uint8Array): Uint8Array {
    return this.#currentLoan !== null && this.#current === m ? m : this.iterationCopy(m);
  }

  /**
   * Iterates the messages until the writer closes (then ends). Each message
   * is a copy that stays valid (safe with Readable.from, pipeline, arrays,
   * awaiting between messages); `{ copy: false }` yields zero-copy views
   * valid only until the next step. `signal` ends the iteration with an
   * AbortError, `timeout` bounds the wait for each message (ETIMEDOUT).
   */
  messages(options?: MessagesOptions): AsyncIterableIterator<Uint8Array> {
    return receiveIterator((o) => this.recv(o), (m) => this.iterationCopy(m), options);
  }

  /** As messages(options): copies by default, safe to pull ahead. */
  [Symbol.asyncIterator](options?: MessagesOptions): AsyncIterableIterator<Uint8Array> {
    return this.messages(options);
  }

  /**
   * Closes the reading end: a writer waiting for space rejects with ECLOSED,
   * a pending recv() rejects with ECLOSED, views handed out read as length 0.
   * Safe to call twice.
   */
  close(): void {
    if (!this.closed) {
      this.#current = null;
      this.#kept.length = 0;
      this.#keptLive = 0;
      this.#publish();
    }
    this.closeEnd(H.readerState);
  }

  /** @internal every loan held goes back to the writer; its views read as length 0 */
  protected closeLoans(): void {
    this.#currentLoan = null;
    this.#loans.close();
  }

  /** close(), for `using rx = Channel.attach(name)`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Validates the reader-only options. */
export function validateMaxKept(o: ReaderOptions | undefined): number {
  if (o?.maxKept === undefined) return DEFAULT_MAX_KEPT;
  return checkInteger("options.maxKept", o.maxKept, 0, 1 << 20);
}
