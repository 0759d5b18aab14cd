// What the two ends of a channel share: the ring segment, typed views over
// its header and data region, options, and sticky failure.
import { checkInteger, invalidArgType, invalidArgValue, shmError, type ShmError, type ShmErrorCode } from "../core/errors.js";
import { MAX_CAPACITY, OFFSETS, OWNER_LOCK_BYTE, READER_LOCK_BYTE, SIDE_CLOSED, SIDE_OPEN } from "../core/layout.js";
import { native, type PeerWatchHandle } from "../core/native.js";
import { DEFAULT_WAIT_MODE, WaitLine, validateWaitMode, type WaitMode } from "../core/notify.js";
import { Parker } from "./parker.js";
import { loadU64, storeU64 } from "../core/u64.js";

export { loadU64, storeU64 };
import { spinPolicy } from "./spin.js";
import { MIN_CAPACITY, isPowerOfTwo, maxMessageSize } from "./ring.js";
import type { Segment } from "../core/segment.js";

/** Int32 indices of the header words the hot paths touch. */
export const H = {
  writerState: OFFSETS.writer_state >> 2,
  readerState: OFFSETS.reader_state >> 2,
  readerPid: OFFSETS.reader_pid >> 2,
  readerStartTime: OFFSETS.reader_start_time >> 2,
  ownerPid: OFFSETS.owner_pid >> 2,
  ownerStartTime: OFFSETS.owner_start_time >> 2,
  writeIndex: OFFSETS.write_index >> 2,
  messagesWritten: OFFSETS.messages_written >> 2,
  bytesWritten: OFFSETS.bytes_written >> 2,
  writerWaits: OFFSETS.writer_waits >> 2,
  wakeupsSent: OFFSETS.wakeups_sent >> 2,
  readIndex: OFFSETS.read_index >> 2,
  messagesRead: OFFSETS.messages_read >> 2,
  bytesRead: OFFSETS.bytes_read >> 2,
  readerWaiting: (OFFSETS.reader_wait + 4) >> 2,
  writerWaiting: (OFFSETS.writer_wait + 4) >> 2,
} as const;

export interface ChannelEndOptions {
  /** Event-loop wake path: "doorbell" (default) or "futex". */
  notify?: WaitMode;
  /**
   * How long to spin (re-checking shared memory, no syscall) before going to
   * sleep when the channel is empty (reader) or full (writer). "adaptive"
   * (default): spins only while spinning catches the peer (lib/channel/spin.ts);
   * a number: that many microseconds; 0: sleep at once (least CPU);
   * Infinity: never sleep (lowest latency, burns a core; still yields to
   * the event loop every millisecond).
   */
  spin?: number | "adaptive";
}

/** Options after validation. */
export interface EndConfig {
  notify: WaitMode;
  spin: number | "adaptive";
}

export function validateCapacity(capacity: unknown): number {
  const c = checkInteger("options.capacity", capacity, MIN_CAPACITY, MAX_CAPACITY);
  if (!isPowerOfTwo(c)) throw invalidArgValue("options.capacity", "must be a power of two", c);
  return c;
}

export function validateEndOptions(o: ChannelEndOptions | undefined): EndConfig {
  if (o === undefined) return { notify: DEFAULT_WAIT_MODE, spin: "adaptive" };
  if (o === null || typeof o !== "object") throw invalidArgType("options", "an object", o);
  const notify = o.notify === undefined ? DEFAULT_WAIT_MODE : validateWaitMode(o.notify);
  const spin = o.spin ?? "adaptive";
  if (spin !== "adaptive" && (typeof spin !== "number" || Number.isNaN(spin) || spin < 0)) {
    throw invalidArgValue("options.spin", 'must be "adaptive", a non-negative number of microseconds or Infinity', spin);
  }
  return { notify, spin };
}

/** The timeout of recvSync/sendSync: a TypeError for a non-number, ERR_INVALID_ARG_VALUE for NaN or < 0. */
export function checkSyncTimeout(timeoutMs: unknown): number {
  if (typeof timeoutMs !== "number") throw invalidArgType("timeoutMs", "of type number", timeoutMs);
  if (Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw invalidArgValue("timeoutMs", "must be a non-negative number of milliseconds or Infinity", timeoutMs);
  }
  return timeoutMs;
}

/** Normalises a message argument to a Uint8Array over the same bytes (no copy). */
export function asBytes(bytes: unknown): Uint8Array {
  let view: Uint8Array;
  if (bytes instanceof Uint8Array) view = bytes;
  else if (ArrayBuffer.isView(bytes) || bytes instanceof ArrayBuffer) {
    try {
      view = ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
    } catch {
      throw invalidArgValue("bytes", "is over a detached ArrayBuffer", bytes);
    }
  } else {
    throw invalidArgType("bytes", "a Uint8Array, Buffer, ArrayBufferView or ArrayBuffer", bytes);
  }
  if (view.length === 0) { // (a Uint8Array's length is its byteLength, and much faster to read on Node 20)
    try {
      new Uint8Array(view.buffer, 0, 0); // throws for a detached buffer
    } catch {
      throw invalidArgValue("bytes", "is over a detached ArrayBuffer", bytes);
    }
  }
  return view;
}

export abstract class ChannelEnd {
  /** @internal the ring segment; close() the end, never the segment under it */
  readonly segment: Segment;
  /** Segment name: what the other process attaches to. */
  readonly name: string;
  /** Ring capacity in bytes (a power of two). */
  readonly capacity: number;
  /** Largest payload of one message; larger ones are a RangeError. */
  readonly maxMessageSize: number;
  /** @internal */ protected readonly hdr: Int32Array;
  /** @internal */ protected readonly data: Uint8Array;
  /** @internal */ protected readonly frames: Int32Array;
  /** @internal */ protected readonly mask: number;
  /** @internal */ protected readonly parker: Parker;
  /** @internal the line the *other* end sleeps on */
  protected readonly peerLine: WaitLine;
  #error: ShmError | null = null;
  #closed = false;
  #watch: PeerWatchHandle | null = null;
  #watchedPeer = ""; // "pid:startTime" the watch is for

  protected constructor(segment: Segment, ownLineOffset: number, peerLineOffset: number, opts: EndConfig) {
    this.segment = segment;
    this.name = segment.name;
    this.capacity = segment.capacity;
    this.maxMessageSize = maxMessageSize(this.capacity);
    const buffer = segment.buffer;
    this.hdr = new Int32Array(buffer, 0, segment.dataOffset / 4);
    this.data = new Uint8Array(buffer, segment.dataOffset, this.capacity);
    this.frames = new Int32Array(buffer, segment.dataOffset, this.capacity / 4);
    this.mask = this.capacity - 1;
    this.parker = new Parker(new WaitLine(segment, ownLineOffset), opts.notify, spinPolicy(opts.spin));
    this.peerLine = new WaitLine(segment, peerLineOffset);
    // The doorbell sender now: at the descriptor limit this end fails here
    // (EMFILE), instead of silently losing the peer's wake-ups later.
    segment.handle.openWaker();
  }

  /** Event-loop wake path in use. */
  get notifyMode(): WaitMode {
    return this.parker.mode;
  }

  /** The waiting strategy: "adaptive", or a fixed spin in microseconds. */
  get spin(): "adaptive" | number {
    return this.parker.spin;
  }

  /** Whether this end was closed (by close(), or after ECORRUPT). */
  get closed(): boolean {
    return this.#closed;
  }

  /** @internal throws the sticky error or ECLOSED once closed */
  protected ensureOpen(): void {
    if (this.#error !== null) throw this.#error;
    if (this.#closed) throw shmError("ECLOSED", "channel is closed");
  }

  /**
   * @internal A value read from shared memory is invalid: the channel can no
   * longer be trusted. Closes this end and throws ECORRUPT (sticky).
   */
  protected corrupt(what: string): never {
    const e = shmError("ECORRUPT", `${what} (channel ${this.name}); the channel is closed`);
    this.#error = e;
    this.closeEnd(this.isWriter ? H.writerState : H.readerState);
    throw e;
  }

  /** @internal */
  protected abstract get isWriter(): boolean;

  /** @internal gives up this end's loans (writer: its pool; reader: what it holds), before the side is marked closed */
  protected abstract closeLoans(): void;

  /** @internal marks this side closed in the header, wakes the peer, unmaps. */
  protected closeEnd(stateIndex: number): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeLoans();
    if (!this.segment.closed) {
      Atomics.store(this.hdr, stateIndex, SIDE_CLOSED);
      this.peerLine.notify();
    }
    this.parker.close();
    this.#watch?.close();
    this.#watch = null;
    this.segment.close();
  }

  /**
   * @internal Whether the process at the other end died without closing:
   * its side is still marked open but its liveness lock is gone. Costs a
   * syscall; checked only when a wait cycle ends without progress.
   */
  protected peerDead(): boolean {
    if (this.closed) return false;
    const state = Atomics.load(this.hdr, this.isWriter ? H.readerState : H.writerState);
    // A ring always has a writer: one that never stored "open" (a foreign
    // writer's header left at 0) is judged by its lock all the same.
    const live = this.isWriter ? state === SIDE_OPEN : state !== SIDE_CLOSED;
    return live && !this.segment.handle.probe(this.isWriter ? READER_LOCK_BYTE : OWNER_LOCK_BYTE);
  }

  /**
   * @internal Makes sure the peer's process is watched through a pidfd, so
   * its death wakes this end at once; returns whether it is. Not possible for
   * a peer in another PID namespace (its pid means something else here), or
   * before a reader attached: then the periodic re-check finds a death.
   */
  protected watchPeer(): boolean {
    if (this.closed) return false;
    const hdr = this.hdr;
    const writer = this.isWriter;
    if (Atomics.load(hdr, writer ? H.readerState : H.writerState) !== SIDE_OPEN) return false;
    const pid = hdr[writer ? H.readerPid : H.ownerPid]! >>> 0;
    const start = loadU64(hdr, writer ? H.readerStartTime : H.ownerStartTime);
    const peer = `${pid}:${start}`;
    if (peer === this.#watchedPeer) return this.#watch?.state() === "watching";
    this.#watch?.close();
    this.#watch = null;
    this.#watchedPeer = peer;
    const line = this.parker.line;
    try {
      const { PeerWatchHandle } = native();
      this.#watch = new PeerWatchHandle(pid, start, () => line.notify());
    } catch {
      return false; // no pidfd to be had (EMFILE): the periodic re-check finds a death
    }
    return this.#watch.state() === "watching";
  }

  /** @internal code-specific error helper */
  protected error(code: ShmErrorCode, message: string): ShmError {
    return shmError(code, `${message} (channel ${this.name})`);
  }
}
