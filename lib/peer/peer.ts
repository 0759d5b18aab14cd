// Peer: a duplex connection to another process, set up by listen()/connect()
// (docs/PROTOCOL.md §4). On transport "shm" it owns the channel to the other
// side (its ChannelWriter) and reads the other side's (a ChannelReader): every
// channel feature, loans included, with no copy. On transport "zmq" (another
// host, another uid, a private /dev/shm, no native addon, or forced) the same
// calls carry each message over the ZeroMQ connection, in order; a loan is
// then ordinary memory and is copied.
import type { ChannelReader } from "../channel/reader.js";
import { KeptMessage } from "../channel/reader.js";
import type { ChannelWriter } from "../channel/writer.js";
import { abortError, checkWaitOptions, invalidArgType, shmError, type WaitOptions } from "../core/errors.js";
import { sweep } from "../core/sweep.js";
import { setLongTimeout, type LongTimer } from "../core/timers.js";
import { MsgType, encodeControl, encodeData, type Identity, type Transport } from "./protocol.js";
import type { Outbox } from "./zmq.js";

/** What a Peer needs of its ZeroMQ connection (the server's ROUTER or the connector's DEALER). */
export interface Link {
  /** This peer's messages to the other side, in order. */
  outbox: Outbox;
  /** Called once when the peer closes: the server forgets it, the connector closes its socket. */
  detach(): void;
}

/** ZeroMQ peers' liveness (transport "zmq"): each side sends a HEARTBEAT when it sent nothing for intervalMs; a side that heard nothing for timeoutMs is dead. */
export interface HeartbeatOptions {
  /** Default 1,000 ms. */
  intervalMs?: number;
  /** Default 5,000 ms. */
  timeoutMs?: number;
}

export const DEFAULT_HEARTBEAT = { intervalMs: 1000, timeoutMs: 5000 };

export interface PeerInit {
  heartbeat: Required<HeartbeatOptions>;
  local: Identity;
  remote: Identity;
  transport: Transport;
  /** Why "zmq", when it is ("" for "shm"). */
  reason: string;
  link: Link;
  tx?: ChannelWriter;
  rx?: ChannelReader;
}

/**
 * How long close() waits for ZeroMQ to take its BYE, which queues behind
 * every message sent before: what was sent is delivered first (a dead peer
 * fails at once; a peer that stopped reading is given up after this).
 */
export const CLOSE_DRAIN_MS = 10_000;

/** Messages a "zmq" peer's trySend() queues ahead of ZeroMQ before it says "no room". */
export const ZEROMQ_BACKLOG = 1024;

export interface PeerStats {
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
}

export class Peer {
  /** The other side's name (its listen/connect option). */
  readonly remoteName: string;
  /** The other side's process id (on its host). */
  readonly remotePid: number;
  /** "shm" when both sides proved they map each other's rings; "zmq" otherwise. */
  readonly transport: Transport;
  /** Why transport is "zmq" ("" for "shm"). */
  readonly reason: string;
  readonly #link: Link;
  readonly #tx: ChannelWriter | null;
  readonly #rx: ChannelReader | null;
  // transport "zmq": received messages not yet taken, and receivers waiting
  readonly #inbox: Uint8Array[] = [];
  readonly #waiting = new Set<() => void>();
  #remoteEnded = false;
  #dead = false;
  #lastHeard = performance.now();
  #lastSent = performance.now();
  #beat: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #stats: PeerStats = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0 };

  /** @internal made by listen()/connect() */
  constructor(init: PeerInit) {
    this.remoteName = init.remote.name;
    this.remotePid = init.remote.pid;
    this.transport = init.transport;
    this.reason = init.reason;
    this.#link = init.link;
    this.#tx = init.tx ?? null;
    this.#rx = init.rx ?? null;
    if (this.transport === "shm" && (this.#tx === null || this.#rx === null)) throw new Error("internal: shm peer without channels");
    if (this.transport === "zmq") this.#startHeartbeat(init.heartbeat);
  }

  /** Heartbeats (transport "zmq"): on shm, liveness locks and pidfds tell a death at once. */
  #startHeartbeat(h: Required<HeartbeatOptions>): void {
    this.#beat = setInterval(() => {
      const now = performance.now();
      if (now - this.#lastHeard > h.timeoutMs) {
        this.#dead = true;
        this.#stopHeartbeat();
        this.#wake();
        return;
      }
      if (now - this.#lastSent >= h.intervalMs) {
        this.#lastSent = now;
        void this.#link.outbox.send(encodeControl({ type: MsgType.Heartbeat })).catch(() => {});
      }
    }, Math.max(10, Math.min(h.intervalMs, h.timeoutMs) / 2));
    this.#beat.unref();
  }

  #stopHeartbeat(): void {
    if (this.#beat !== null) clearInterval(this.#beat);
    this.#beat = null;
  }

  /** @internal anything came from the other side (it lives) */
  heard(): void {
    this.#lastHeard = performance.now();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the other side ended the connection (BYE, or its socket is gone; on shm, its ring closing says it too). */
  get remoteEnded(): boolean {
    return this.#remoteEnded || (this.#rx !== null && this.#rx.writerState !== "open");
  }

  get stats(): Readonly<PeerStats> {
    if (this.#tx !== null && this.#rx !== null) {
      const t = this.#tx.stats;
      const r = this.#rx.stats;
      return { messagesSent: t.messages, messagesReceived: r.messages, bytesSent: t.bytes, bytesReceived: r.bytes };
    }
    return { ...this.#stats };
  }

  /** The writer of the channel to the other side (transport "shm"), for what Peer does not wrap. */
  get writer(): ChannelWriter | null {
    return this.#tx;
  }

  /** The reader of the other side's channel (transport "shm"). */
  get reader(): ChannelReader | null {
    return this.#rx;
  }

  // ---- sending ----

  /**
   * Sends without waiting; false if there is no room now: the ring is full
   * (shm), or ZEROMQ_BACKLOG messages wait for ZeroMQ already (zmq: then
   * send() waits its turn, and memory stays bounded).
   */
  trySend(bytes: Uint8Array | ArrayBufferView | ArrayBuffer): boolean {
    this.#checkOpen();
    if (this.#tx !== null) return this.#tx.trySend(bytes);
    if (this.#link.outbox.pending >= ZEROMQ_BACKLOG) return false;
    void this.#sendZmq(bytes).catch(() => {}); // its failure shows as the peer's end
    return true;
  }

  /** Sends, waiting for room (shm) or for ZeroMQ to take it (zmq); loans go without a copy on shm. */
  send(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, options?: WaitOptions): Promise<void> {
    try {
      this.#checkOpen();
      if (this.#tx !== null) return this.#tx.send(bytes, options);
      const { signal } = checkWaitOptions(options);
      if (signal?.aborted) throw abortError(signal);
      return this.#sendZmq(bytes);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Blocking send for worker threads (transport "shm" only: ZeroMQ runs on the event loop). */
  sendSync(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, timeoutMs = Infinity): boolean {
    this.#checkOpen();
    if (this.#tx === null) throw shmError("ENOTSUP", "sendSync() needs transport \"shm\"; this peer uses ZeroMQ (send() instead)");
    return this.#tx.sendSync(bytes, timeoutMs);
  }

  /** Shared memory to fill in place and send (shm); ordinary memory, copied when sent (zmq). */
  loan(size: number, options?: WaitOptions): Promise<Uint8Array> {
    try {
      this.#checkOpen();
      if (this.#tx !== null) return this.#tx.loan(size, options);
      return Promise.resolve(new Uint8Array(checkSize(size)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  tryLoan(size: number): Uint8Array | null {
    this.#checkOpen();
    return this.#tx !== null ? this.#tx.tryLoan(size) : new Uint8Array(checkSize(size));
  }

  cancelLoan(loan: ArrayBufferView): void {
    this.#tx?.cancelLoan(loan);
  }

  async #sendZmq(bytes: Uint8Array | ArrayBufferView | ArrayBuffer): Promise<void> {
    if (this.#dead) throw this.#deadError();
    const b = toBytes(bytes);
    this.#lastSent = performance.now();
    this.#stats.messagesSent++;
    this.#stats.bytesSent += b.byteLength;
    await this.#link.outbox.send(encodeData(b));
  }

  // ---- receiving ----

  /** The next message, or null if none is there now; ECLOSED once the other side closed and all was read. */
  tryRecv(): Uint8Array | null {
    this.#checkOpen();
    if (this.#rx !== null) return this.#rx.tryRecv();
    const m = this.#inbox.shift();
    if (m !== undefined) return m;
    if (this.#remoteEnded) throw shmError("ECLOSED", `${this.remoteName} closed the connection`);
    if (this.#dead) throw this.#deadError();
    return null;
  }

  /** The next message; waits (timeout, AbortSignal, close). Same lifetime rules as a channel reader on shm. */
  async recv(options?: WaitOptions): Promise<Uint8Array> {
    this.#checkOpen();
    if (this.#rx !== null) return this.#rx.recv(options);
    const { signal, deadline, timeout } = checkWaitOptions(options);
    for (;;) {
      const m = this.tryRecv();
      if (m !== null) return m;
      if (signal?.aborted) throw abortError(signal);
      if (performance.now() >= deadline) throw shmError("ETIMEDOUT", `recv() timed out after ${timeout} ms`);
      // Until a message, the end, a death, the abort or the deadline; then look again.
      await new Promise<void>((resolve) => {
        let timer: LongTimer | undefined;
        const done = (): void => {
          this.#waiting.delete(done);
          timer?.clear();
          signal?.removeEventListener("abort", done);
          resolve();
        };
        // Any timeout: setTimeout fires at once for 2^31 ms and more.
        if (Number.isFinite(deadline)) timer = setLongTimeout(done, Math.max(0, deadline - performance.now()));
        signal?.addEventListener("abort", done, { once: true });
        this.#waiting.add(done);
      });
    }
  }

  /** Blocking receive for worker threads (transport "shm" only). */
  recvSync(timeoutMs: number): Uint8Array | null {
    this.#checkOpen();
    if (this.#rx === null) throw shmError("ENOTSUP", "recvSync() needs transport \"shm\"; this peer uses ZeroMQ (recv() instead)");
    return this.#rx.recvSync(timeoutMs);
  }

  /** Gives back the last received message (shm: its memory may be reused; zmq: nothing to do). */
  release(): void {
    this.#rx?.release();
  }

  /** Keeps the last received message past the next receive, until the handle's release(). */
  keep(): KeptMessage {
    if (this.#rx !== null) return this.#rx.keep();
    throw shmError("ENOTSUP", "keep() on a ZeroMQ peer: its messages are ordinary buffers, valid as long as you reference them");
  }

  /** Messages until the other side closes (as a channel reader's messages()). */
  async *messages(options?: WaitOptions): AsyncIterableIterator<Uint8Array> {
    if (this.#rx !== null) {
      yield* this.#rx.messages(options);
      return;
    }
    for (;;) {
      let m: Uint8Array;
      try {
        m = await this.recv(options);
      } catch (e) {
        if ((e as { code?: string }).code === "ECLOSED") return;
        throw e;
      }
      yield m;
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.messages();
  }

  /** @internal a DATA message from the link (transport "zmq") */
  deliver(data: Uint8Array): void {
    if (this.#closed || this.#remoteEnded) return;
    this.#stats.messagesReceived++;
    this.#stats.bytesReceived += data.byteLength;
    this.#inbox.push(data);
    this.#wake();
  }

  /** @internal the other side said BYE, or its connection is gone */
  remoteEnd(): void {
    this.#remoteEnded = true;
    this.#stopHeartbeat();
    this.#wake();
  }

  #deadError(): Error {
    return shmError("EPEERDEAD", `${this.remoteName} sent nothing, not even a heartbeat, for longer than the heartbeat timeout: dead, hung or unreachable`);
  }

  #wake(): void {
    for (const w of [...this.#waiting]) w();
  }

  /**
   * Ends this side: the other side reads what was sent, then sees the end
   * (ECLOSED, the end of iteration). Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopHeartbeat();
    // The other side died: its ring (and loan slabs) would stay in /dev/shm; remove them.
    const deadRing = this.#rx !== null && !this.#rx.closed && this.#rx.writerState === "dead" ? this.#rx.name : null;
    this.#tx?.close();
    this.#rx?.close();
    if (deadRing !== null) sweep({ names: [deadRing] });
    this.#wake();
    // BYE, waited for at most CLOSE_DRAIN_MS: a stuck peer must not hold up close() for ever.
    const bye = this.#link.outbox.send(encodeControl({ type: MsgType.Bye })).catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([bye, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_DRAIN_MS)))]);
    clearTimeout(timer);
    this.#link.detach();
  }

  #checkOpen(): void {
    if (this.#closed) throw shmError("ECLOSED", "the peer connection is closed");
  }
}

function toBytes(bytes: Uint8Array | ArrayBufferView | ArrayBuffer): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  throw invalidArgType("bytes", "a Uint8Array, Buffer, ArrayBufferView or ArrayBuffer", bytes);
}

function checkSize(size: unknown): number {
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 1) throw invalidArgType("size", "a positive integer", size);
  return size;
}
