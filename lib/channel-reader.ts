// The reading end of a channel: attaches the writer's ring segment by name,
// validates every frame it reads (lengths, types, indices come from another
// process and are untrusted), and hands out zero-copy views into the ring.
// A view stays valid until the next receive call or release(); the read
// index is published in batches, so the writer sees freed space late but
// the reader does one shared store per batch instead of one per message.
import { ChannelEnd, H, storeU64, type ChannelEndOptions } from "./channel-end.js";
import { invalidArgValue } from "./errors.js";
import { OFFSETS, SIDE_CLOSED } from "./layout.js";
import { FRAME_DATA, FRAME_PAD, frameSize } from "./ring.js";
import type { Segment } from "./segment.js";

export interface ReaderStats {
  /** Messages received. */
  messages: number;
  /** Payload bytes received. */
  bytes: number;
  /** Times the reader went to sleep on an empty ring. */
  sleeps: number;
}

export class ChannelReader extends ChannelEnd {
  #r = 0; // index of the next frame to read (u32)
  #published = 0; // read index last published to the header (u32)
  #cachedWrite = 0; // write index last seen (u32)
  #holding = false; // a view is out and its frame not yet released
  #receiving = false; // a recv() is waiting
  readonly #batch: number;
  readonly #stats = { messages: 0, bytes: 0 };

  /** @internal use Channel.attach() */
  constructor(segment: Segment, opts: Required<ChannelEndOptions>) {
    super(segment, OFFSETS.reader_wait, OFFSETS.writer_wait, opts);
    this.#batch = this.capacity / 4;
    const r = Atomics.load(this.hdr, H.readIndex) >>> 0;
    this.#r = this.#published = this.#cachedWrite = r;
  }

  protected get isWriter(): boolean {
    return false;
  }

  get stats(): Readonly<ReaderStats> {
    return { ...this.#stats, sleeps: this.parker.sleeps };
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

  /** Makes consumed frames available to the writer and wakes it if it waits for space. */
  #publish(): void {
    this.#published = this.#r;
    const hdr = this.hdr;
    // SYNC POINT: release of the consumed frames; pairs with the writer's
    // Atomics.load of the read index in #hasSpace.
    Atomics.store(hdr, H.readIndex, this.#r | 0);
    storeU64(hdr, H.messagesRead, this.#stats.messages);
    storeU64(hdr, H.bytesRead, this.#stats.bytes);
    if (Atomics.load(hdr, H.writerWaiting) !== 0) this.peerLine.notify();
  }

  /**
   * Releases the last received view now (it must not be used afterwards) and
   * publishes the freed space to the writer. Receiving again does the same
   * implicitly, but publishes in batches.
   */
  release(): void {
    if (this.closed) return;
    this.#holding = false;
    if (this.#r !== this.#published) this.#publish();
  }

  /**
   * The next message as a view into the ring (no copy), or null if there is
   * none now. The view is valid until the next receive call or release().
   * Throws ECORRUPT (and closes) on an invalid frame; ECLOSED once closed.
   */
  tryRecv(): Uint8Array | null {
    this.ensureOpen();
    const hdr = this.hdr;
    if (this.#holding) {
      // Implicit release of the previous view. Publishing every quarter of
      // the ring (and whenever the ring runs empty) is enough for a waiting
      // writer to make progress; #publish wakes it.
      this.#holding = false;
      if (((this.#r - this.#published) >>> 0) >= this.#batch) this.#publish();
    }
    const cap = this.capacity;
    for (;;) {
      let r = this.#r;
      if (r === this.#cachedWrite) {
        // SYNC POINT: acquire of the frames the writer published (writer #publish).
        const w = Atomics.load(hdr, H.writeIndex) >>> 0;
        if (w === r) {
          // Empty: everything consumed is released. Comparing with the shared
          // copy (ours to own) also repairs one that was overwritten.
          if (Atomics.load(hdr, H.readIndex) !== (r | 0)) this.#publish();
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
        const frame = frameSize(len);
        if (len > this.maxMessageSize || frame > avail || pos + frame > cap) {
          this.corrupt(`bad frame at ${pos}: length ${len}, ${avail} bytes published`);
        }
        this.#r = (r + frame) >>> 0;
        this.#holding = true;
        const s = this.#stats;
        s.messages++;
        s.bytes += len;
        return this.data.subarray(pos + 8, pos + 8 + len);
      }
      if (type === FRAME_PAD) {
        const toEnd = cap - pos;
        if (len !== toEnd - 8 || toEnd > avail) this.corrupt(`bad padding frame at ${pos}: length ${len}`);
        r = (r + toEnd) >>> 0;
        this.#r = r;
        continue;
      }
      this.corrupt(`unknown frame type ${type} at ${pos}`);
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

  /** The ring is empty: end of stream, or a dead writer, or null to go on waiting. */
  #finished(): Uint8Array | null {
    if (Atomics.load(this.hdr, H.writerState) === SIDE_CLOSED) {
      const last = this.tryRecv(); // published before the writer closed
      if (last !== null) return last;
      this.#endOfStream();
    }
    return null;
  }

  #checkWriter(): void {
    if (!this.peerDead()) return;
    throw this.error("EPEERDEAD", "the writer's process died without closing the channel; everything it published was received");
  }

  /**
   * The next message, waiting for one if the ring is empty (spin, then sleep
   * on the event loop). Rejects with ECLOSED at end of stream or on close.
   */
  async recv(): Promise<Uint8Array> {
    const m = this.tryRecv();
    if (m !== null) return m;
    if (this.#receiving) throw this.error("EBUSY", "a recv() is already pending on this reader");
    this.#receiving = true;
    try {
      return await this.#recvSlow();
    } finally {
      this.#receiving = false;
    }
  }

  async #recvSlow(): Promise<Uint8Array> {
    for (;;) {
      const m = this.tryRecv() ?? this.#finished();
      if (m !== null) return m;
      if (!(await this.parker.park(this.#ready, this.watchPeer()))) {
        const late = this.tryRecv() ?? this.#finished();
        if (late !== null) return late;
        this.#checkWriter();
      }
    }
  }

  /**
   * Blocking receive for worker threads: the next message, or null after
   * timeoutMs without one. Throws ECLOSED at end of stream.
   */
  recvSync(timeoutMs: number): Uint8Array | null {
    if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      throw invalidArgValue("timeoutMs", "must be a non-negative number of milliseconds or Infinity", timeoutMs);
    }
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const m = this.tryRecv() ?? this.#finished();
      if (m !== null) return m;
      if (!this.parker.parkSync(this.#ready, deadline)) {
        const late = this.tryRecv() ?? this.#finished();
        if (late !== null) return late;
        this.#checkWriter();
        if (performance.now() >= deadline) return null;
      }
    }
  }

  /** Iterates the messages until the writer closes; each view is valid until the next step. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      let m: Uint8Array;
      try {
        m = await this.recv();
      } catch (e) {
        if ((e as { code?: string }).code === "ECLOSED") return;
        throw e;
      }
      yield m;
    }
  }

  /**
   * Closes the reading end: a writer waiting for space rejects with ECLOSED,
   * views handed out read as length 0. Safe to call twice.
   */
  close(): void {
    if (!this.closed && this.#r !== this.#published) this.release();
    this.closeEnd(H.readerState);
  }
}
