// The writer of a broadcast ring (docs/PROTOCOL.md §6): one process writes
// each message once; every subscriber reads it through its own cursor.
// "block": the slowest live subscriber holds the writer, and one that holds
// it longer than blockTimeout is evicted (its side gets ESLOW). "drop": the
// writer never waits; a lapped subscriber counts what it missed.
import { EventEmitter } from "node:events";

import { checkInteger, checkWaitOptions, invalidArgType, invalidArgValue, outOfRange, shmError, type WaitOptions } from "../core/errors.js";
import { OFFSETS, SLAB_KEY_SIZE } from "../core/layout.js";
import { DEFAULT_WAIT_MODE, validateWaitMode, WaitLine, type WaitMode } from "../core/notify.js";
import { holdUntilTickEnd, release, type Holder } from "../core/publish.js";
import { Segment } from "../core/segment.js";
import { sweepAfterDeath } from "../core/sweep.js";
import { Parker } from "../channel/parker.js";
import { spinPolicy } from "../channel/spin.js";
import {
  align8,
  BROADCAST_MAGIC,
  BROADCAST_VERSION,
  CONTROL,
  DEFAULT_BLOCK_TIMEOUT_MS,
  DEFAULT_CAPACITY,
  DEFAULT_MAX_SUBSCRIBERS,
  DEFAULT_MAX_LOAN_BYTES,
  FRAME_DATA,
  FRAME_HEADER,
  FRAME_LOAN,
  LOAN_BODY,
  LOAN_BODY_SIZE,
  FRAME_PAD,
  MAX_BROADCAST_CAPACITY,
  MAX_SUBSCRIBERS,
  maxFrame,
  MIN_CAPACITY,
  POLICY_BLOCK,
  POLICY_DROP,
  ringOffset,
  SLOT,
  SLOT_ACTIVE,
  SLOT_EVICTED,
  SLOT_FREE,
  SLOT_JOINING,
  SLOT_LOCK_BASE,
  WRITER_CLOSED,
  WRITER_OPEN,
} from "./layout.js";
import { LoanSlabs, type LoanSlab } from "./loans.js";
import { newSlabKey, readSlabKey } from "../loan/slab.js";
import { slotOffset, SlotView } from "./subscriber-slot.js";
import { TopicEncoder } from "./topics.js";

export type BroadcastPolicy = "block" | "drop";

/** ms after a failed trySend() during which a subscriber holding the ring is still timed (a poller re-tries sooner). */
const TRY_SEND_WAIT_MS = 250;

export interface BroadcastCreateOptions {
  /** Ring bytes, a power of two in [4096, 2^30]. Default 1 MiB. The largest message is capacity/4 minus its header; larger ones go as loans. */
  capacity?: number;
  /** What a full ring does to the writer. Default "block". */
  policy?: BroadcastPolicy;
  /** ms a subscriber may hold the writer before it is evicted (ESLOW on its side): block, a send waiting for room; either policy, a loan() waiting for a slab whose frame it has not passed. Default 5000. */
  blockTimeout?: number;
  /** Subscriber slots, 1..256. Default 64. */
  maxSubscribers?: number;
  /** How this process's event loop is woken when it waits for room ("doorbell" or "futex"). */
  mode?: WaitMode;
  /** Microseconds a waiting send spins before sleeping, or "adaptive". Default 0: N+1 processes on few cores must not spin. */
  spin?: number | "adaptive";
  /** Segment name; default a random "smsh-..." one. */
  name?: string;
  /** Most bytes of loan slabs (shared memory) the writer keeps. Default 1 GiB. */
  maxLoanBytes?: number;
  /** close(): ms at most to keep slabs of loans sent but not yet taken by every subscriber. Default 10,000. */
  lingerMs?: number;
}

/**
 * A loan: `data` is shared memory the writer fills in place; send(topic,
 * loan) hands it to every subscriber without a copy (each subscriber that
 * takes it holds a view until it releases it). After send the writer's
 * view is detached (length 0).
 */
export class BroadcastLoan {
  readonly size: number;
  /** @internal */
  readonly slab: LoanSlab;
  /** @internal */
  readonly gen: number;
  #buffer: ArrayBuffer | null;
  readonly data: Uint8Array;

  /** @internal */
  constructor(slab: LoanSlab, gen: number, size: number) {
    this.slab = slab;
    this.gen = gen;
    this.size = size;
    this.#buffer = slab.view(size);
    this.data = new Uint8Array(this.#buffer);
  }

  get sent(): boolean {
    return this.#buffer === null;
  }

  /** @internal detaches the writer's view (at send, or when the writer closes). */
  detach(): void {
    if (this.#buffer === null) return;
    if (!this.slab.segment.closed) this.slab.segment.handle.detachView(this.#buffer);
    this.#buffer = null;
  }
}

export interface SubscriberInfo {
  slot: number;
  pid: number;
  /** Its subscriptions as it declared them (display only; "" = everything). */
  topics: string[];
  /** Bytes of the ring it has consumed since creation. */
  position: number;
  /** Bytes published that it has not consumed yet. */
  lag: number;
  /** Messages it counted as missed (drop: lapped). */
  missed: number;
  /** Messages it received. */
  messages: number;
  state: "joining" | "active" | "evicted";
}

export interface BroadcastWriterStats {
  messages: number;
  bytes: number;
  /** Times a send found no room and waited (block). */
  waits: number;
  /** Subscribers evicted for holding the writer longer than blockTimeout. */
  evictions: number;
  subscribers: number;
}

export interface SendOptions extends WaitOptions {}

/** Events: "join" (SubscriberInfo), "leave" (SubscriberInfo, reason "closed" | "died"), "evict" (SubscriberInfo). */
export class BroadcastWriter extends EventEmitter implements Holder {
  readonly name: string;
  readonly capacity: number;
  readonly policy: BroadcastPolicy;
  readonly blockTimeout: number;
  readonly maxSubscribers: number;
  readonly segment: Segment;
  readonly #u8: Uint8Array;
  readonly #i32: Int32Array;
  readonly #b64: BigInt64Array;
  readonly #ctl: number; // byte offset of the control block in the buffer
  readonly #base: number; // byte offset of the ring in the buffer
  readonly #mask: number;
  readonly #chunk: number;
  readonly #maxBody: number;
  readonly #parker: Parker;
  readonly #topics = new TopicEncoder();
  readonly #slots: (SlotView | null)[];
  readonly #broken: number[]; // epoch of a slot whose cursor could not be mapped (evicted; not retried)
  #w = 0; // bytes written (u64 as a Number)
  #published = 0;
  #claimed = 0;
  #limit: number; // block: write no byte at or past this position
  #seq = 0;
  #want = 0; // block: the end of a frame waiting for room (0: none waits); who holds it is timed
  #wantAt = 0; // when a room check last failed (a trySend() that keeps failing keeps the timing on)
  #syncWaiting = false; // a sendSync() waits for room
  #loanWant = -1; // loan() waits: a cursor at or before this frame position holds a slab; who holds it is timed (-1: none waits)
  #held = false;
  #closed = false;
  #timer: NodeJS.Timeout | null;
  #stats = { messages: 0, bytes: 0, waits: 0, evictions: 0 };
  readonly #maxLoanBytes: number;
  readonly #lingerMs: number;
  #loans: LoanSlabs | null = null;
  readonly #outstanding = new Set<BroadcastLoan>(); // loaned, not yet sent

  private constructor(
    seg: Segment,
    capacity: number,
    policy: BroadcastPolicy,
    blockTimeout: number,
    maxSubscribers: number,
    mode: WaitMode,
    spin: number | "adaptive",
    maxLoanBytes: number,
    lingerMs: number,
  ) {
    super();
    this.#maxLoanBytes = maxLoanBytes;
    this.#lingerMs = lingerMs;
    this.segment = seg;
    this.name = seg.name;
    this.capacity = capacity;
    this.policy = policy;
    this.blockTimeout = blockTimeout;
    this.maxSubscribers = maxSubscribers;
    const buf = seg.buffer;
    this.#u8 = new Uint8Array(buf);
    this.#i32 = new Int32Array(buf);
    this.#ctl = seg.dataOffset;
    this.#b64 = new BigInt64Array(buf, this.#ctl, 32);
    this.#base = seg.dataOffset + ringOffset(maxSubscribers);
    this.#mask = capacity - 1;
    this.#chunk = capacity / 8;
    this.#maxBody = maxFrame(capacity) - FRAME_HEADER;
    this.#limit = capacity;
    this.#slots = new Array<SlotView | null>(maxSubscribers).fill(null);
    this.#broken = new Array<number>(maxSubscribers).fill(-1);
    this.#parker = new Parker(new WaitLine(seg, OFFSETS.writer_wait), mode, spinPolicy(spin));
    // Deaths, leaves and joins are noticed by this scan even while nothing is sent.
    this.#timer = setInterval(() => this.#scan(performance.now()), 100);
    this.#timer.unref();
  }

  /** Creates a broadcast ring; subscribers attach it by `name`. */
  static create(options: BroadcastCreateOptions = {}): BroadcastWriter {
    if (options === null || typeof options !== "object") throw invalidArgType("options", "an object", options);
    const capacity = checkInteger("options.capacity", options.capacity ?? DEFAULT_CAPACITY, MIN_CAPACITY, MAX_BROADCAST_CAPACITY);
    if ((capacity & (capacity - 1)) !== 0) throw invalidArgValue("options.capacity", "must be a power of two", capacity);
    const policy = options.policy ?? "block";
    if (policy !== "block" && policy !== "drop") throw invalidArgValue("options.policy", 'must be "block" or "drop"', policy);
    const blockTimeout = checkInteger("options.blockTimeout", options.blockTimeout ?? DEFAULT_BLOCK_TIMEOUT_MS, 1, 2 ** 31 - 1);
    const maxSubscribers = checkInteger("options.maxSubscribers", options.maxSubscribers ?? DEFAULT_MAX_SUBSCRIBERS, 1, MAX_SUBSCRIBERS);
    const mode = validateWaitMode(options.mode ?? DEFAULT_WAIT_MODE);
    const spin = options.spin ?? 0;
    if (spin !== "adaptive") checkInteger("options.spin", spin, 0, 10_000_000);
    const maxLoanBytes = checkInteger("options.maxLoanBytes", options.maxLoanBytes ?? DEFAULT_MAX_LOAN_BYTES, 4096, Number.MAX_SAFE_INTEGER);
    const lingerMs = checkInteger("options.lingerMs", options.lingerMs ?? 10_000, 0, 2 ** 31 - 1);
    const ro = ringOffset(maxSubscribers);
    const seg = Segment.create({ size: ro + capacity, prefault: true, ...(options.name === undefined ? {} : { name: options.name }) });
    const i32 = new Int32Array(seg.buffer, seg.dataOffset, ro / 4);
    i32[CONTROL.version >> 2] = BROADCAST_VERSION;
    i32[CONTROL.capacity >> 2] = capacity;
    i32[CONTROL.max_subscribers >> 2] = maxSubscribers;
    i32[CONTROL.policy >> 2] = policy === "block" ? POLICY_BLOCK : POLICY_DROP;
    i32[CONTROL.block_timeout_ms >> 2] = blockTimeout;
    i32[CONTROL.ring_offset >> 2] = ro;
    // The secret that names the loan slabs (PROTOCOL.md §6.8), before the magic.
    new Uint8Array(seg.buffer, seg.dataOffset + CONTROL.slab_key, SLAB_KEY_SIZE).set(newSlabKey());
    Atomics.store(i32, CONTROL.writer_state >> 2, WRITER_OPEN);
    // SYNC POINT: the magic last; a subscriber checks it first (pairs with reader.ts's attach).
    Atomics.store(i32, CONTROL.magic >> 2, BROADCAST_MAGIC);
    return new BroadcastWriter(seg, capacity, policy, blockTimeout, maxSubscribers, mode, spin, maxLoanBytes, lingerMs);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sequence number the next message gets (u32, wraps). */
  get seq(): number {
    return this.#seq;
  }

  get stats(): BroadcastWriterStats {
    return { ...this.#stats, subscribers: this.#slots.filter((s) => s !== null).length };
  }

  /** The subscribers the writer knows now (after a scan of the slot table). */
  get subscribers(): SubscriberInfo[] {
    if (!this.#closed) this.#scan(performance.now());
    const out: SubscriberInfo[] = [];
    for (const s of this.#slots) if (s !== null) out.push(this.#info(s));
    return out;
  }

  #info(s: SlotView): SubscriberInfo {
    const st = Atomics.load(this.#i32, (this.#ctl + slotOffset(s.index) + SLOT.state) >> 2);
    const pos = Math.min(s.lastPos < 0 ? s.position() : s.lastPos, this.#published);
    const c = s.counters();
    return {
      slot: s.index,
      pid: s.pid,
      topics: c.topics,
      position: pos,
      lag: Math.max(0, this.#published - pos),
      missed: c.missed,
      messages: c.messages,
      state: st === SLOT_EVICTED ? "evicted" : st === SLOT_JOINING ? "joining" : "active",
    };
  }

  /**
   * Sends one message to every subscriber whose topics match: bytes (copied
   * into the ring once) or a loan (no copy). Waits for room under "block";
   * a send that waits holds a copy of the bytes, never the caller's buffer.
   */
  async send(topic: string | Uint8Array, data: Uint8Array | BroadcastLoan, options?: SendOptions): Promise<void> {
    const { signal, deadline, timeout } = checkWaitOptions(options);
    let t = this.#topics.encode(topic);
    const bodyLen = this.#checkData(data);
    const total = this.#frameRoom(t.length, bodyLen);
    if (this.#sendQueue.length === 0 && this.#tryRoom(total)) return this.#writeAny(t, data);
    this.#stats.waits++;
    // It waits: never alias the caller's memory (a caller that does not await may reuse its buffer at
    // once, as with the channel's send()). Bytes and a caller's topic buffer are copied; a loan is the
    // writer's own memory already.
    if (!(data instanceof BroadcastLoan)) data = data.slice();
    if (typeof topic !== "string") t = t.slice();
    // In call order: a send() does not overtake one that waits (as a socket's writes).
    const me = {};
    this.#sendQueue.push(me);
    if (data instanceof BroadcastLoan) this.#sending.add(data); // not sent twice meanwhile
    try {
      await this.#parker.wait({
        // Once held, wait for a quarter of the ring (or the frame, if larger):
        // waking for every batch a subscriber frees would ping-pong wakeups.
        // The frame's room (its PAD) is counted from where it is written now, not from the call.
        ready: () => this.#closed || (this.#sendQueue[0] === me && this.#tryRoom(Math.max(this.#frameRoom(t.length, bodyLen), this.capacity / 4))),
        recheck: () => this.#scan(performance.now()),
        deadline,
        timeout,
        signal,
        op: "send",
      });
      this.#throwIfClosed();
      this.#writeAny(t, data);
    } finally {
      const i = this.#sendQueue.indexOf(me);
      this.#sendQueue.splice(i, 1);
      if (data instanceof BroadcastLoan) this.#sending.delete(data);
      if (this.#sendQueue.length === 0) this.#want = 0; // written, or timed out, aborted, closed: nothing waits
      if (i === 0 && this.#sendQueue.length > 0) this.#parker.kick(); // the next in line checks for room
    }
  }

  readonly #sendQueue: object[] = []; // send()s waiting for room, in call order
  readonly #sending = new Set<BroadcastLoan>(); // loans of send()s waiting for room

  /** Sends if there is room now; false otherwise (block: a subscriber holds the ring full). */
  trySend(topic: string | Uint8Array, data: Uint8Array | BroadcastLoan): boolean {
    const t = this.#topics.encode(topic);
    const total = this.#frameRoom(t.length, this.#checkData(data));
    if (this.#sendQueue.length > 0 || !this.#tryRoom(total)) return false; // keep order behind waiting send()s
    this.#writeAny(t, data);
    return true;
  }

  /** send() that blocks this thread (worker threads); ETIMEDOUT after timeoutMs. */
  sendSync(topic: string | Uint8Array, data: Uint8Array | BroadcastLoan, timeoutMs = Infinity): void {
    const { deadline, timeout } = checkWaitOptions({ timeout: timeoutMs });
    const t = this.#topics.encode(topic);
    const total = this.#frameRoom(t.length, this.#checkData(data));
    if (this.#sendQueue.length > 0) throw shmError("EBUSY", "async send()s are waiting on this writer: sendSync() would overtake them");
    if (!this.#tryRoom(total)) {
      this.#stats.waits++;
      const want = Math.max(total, this.capacity / 4); // as send()
      this.#syncWaiting = true;
      let ok: boolean;
      try {
        ok = this.#parker.waitSync({ ready: () => this.#closed || this.#tryRoom(want), recheck: () => this.#scan(performance.now()), deadline, timeout, op: "sendSync" });
      } finally {
        this.#syncWaiting = false;
        this.#want = 0;
      }
      this.#throwIfClosed();
      if (!ok) throw shmError("ETIMEDOUT", `sendSync() timed out after ${timeoutMs} ms`);
    }
    this.#writeAny(t, data);
  }

  /**
   * Lends `size` bytes of shared memory to fill in place and send to every
   * subscriber without a copy. Waits while every slab of that size is still
   * held (by a subscriber that has not released it, or has not passed its
   * frame) and maxLoanBytes allows no new one.
   */
  async loan(size: number, options?: WaitOptions): Promise<BroadcastLoan> {
    const { signal, deadline, timeout } = checkWaitOptions(options);
    checkInteger("size", size, 1, this.#maxLoanBytes);
    let got = this.tryLoan(size);
    if (got !== null) return got;
    // A subscriber that does not pass a slab's frame holds it: timed and evicted as one that holds the ring.
    this.#loanWant = this.#oldestSent();
    try {
      await this.#parker.wait({
        // Idempotent: the Parker may evaluate ready() again after it held (its pre-sleep re-check, then its loop).
        ready: () => this.#closed || (got ??= this.tryLoan(size)) !== null,
        recheck: () => {
          this.#loanWant = this.#oldestSent();
          this.#scan(performance.now());
        },
        deadline,
        timeout,
        signal,
        op: "loan",
      });
    } finally {
      this.#loanWant = -1;
    }
    this.#throwIfClosed();
    return got!;
  }

  /** A loan if a slab is free now (or can be made), else null. */
  tryLoan(size: number): BroadcastLoan | null {
    this.#throwIfClosed();
    checkInteger("size", size, 1, this.#maxLoanBytes);
    this.#loans ??= new LoanSlabs(readSlabKey(this.segment, this.segment.dataOffset + CONTROL.slab_key)!, this.#maxLoanBytes);
    let slab = this.#loans.acquire(size, (s) => this.#isFree(s));
    if (slab === null) {
      this.flushHeld(); // a frame not yet published cannot be passed
      this.#scan(performance.now());
      slab = this.#loans.acquire(size, (s) => this.#isFree(s));
      if (slab === null) return null;
    }
    const loan = new BroadcastLoan(slab, slab.take(), size);
    this.#outstanding.add(loan);
    return loan;
  }

  /** The position of the oldest LOAN frame whose slab is not free yet (-1: none). */
  #oldestSent(): number {
    let q = -1;
    for (const s of this.#loans?.slabs.values() ?? []) if (s.state === "sent" && s.framePos >= 0 && (q < 0 || s.framePos < q) && !this.#isFree(s)) q = s.framePos;
    return q;
  }

  /** Bytes of loan slabs this writer keeps (shared memory). */
  get loanBytes(): number {
    return this.#loans?.bytes ?? 0;
  }

  /**
   * Whether no subscriber can still take or still holds the slab's loan:
   * its frame is published, every ACTIVE subscriber has passed it (or it was
   * overwritten: none can validate it any more), and no hold names it (§6.8).
   */
  #isFree(s: LoanSlab): boolean {
    if (s.framePos < 0 || s.framePos >= this.#published) return false;
    const overwritten = this.#claimed > s.framePos + this.capacity;
    const key = BigInt(s.index + 1) | (BigInt(s.gen) << 32n);
    for (let i = 0; i < this.maxSubscribers; i++) {
      const st = Atomics.load(this.#i32, (this.#ctl + slotOffset(i) + SLOT.state) >> 2);
      if (st === SLOT_FREE || st === SLOT_JOINING) continue; // a joiner starts past every published frame
      const v = this.#slots[i] ?? (st === SLOT_ACTIVE ? this.#adopt(i) : null);
      if (v === null) continue;
      // SYNC POINT: the cursor, then the holds; pairs with the subscriber's hold, then cursor (reader.ts).
      if (st === SLOT_ACTIVE && !overwritten && v.position() <= s.framePos) return false;
      if (v.holds(key)) return false;
    }
    return true;
  }

  #throwIfClosed(): void {
    if (this.#closed) throw shmError("ECLOSED", "the broadcast writer is closed");
  }

  /** Bytes the frame's body takes: the data's, or a loan descriptor's. */
  #checkData(data: unknown): number {
    this.#throwIfClosed();
    if (data instanceof Uint8Array) return data.length;
    if (data instanceof BroadcastLoan) {
      if (!this.#outstanding.has(data) || this.#sending.has(data)) throw invalidArgValue("data", "is a loan already sent (or being sent), or not of this writer", "a BroadcastLoan");
      return LOAN_BODY_SIZE;
    }
    throw invalidArgType("data", "a Uint8Array or a BroadcastLoan", data);
  }

  #writeAny(topic: Uint8Array, data: Uint8Array | BroadcastLoan): void {
    if (data instanceof Uint8Array) {
      this.#write(topic, data, FRAME_DATA);
      return;
    }
    this.#outstanding.delete(data);
    data.detach();
    const body = new Uint8Array(LOAN_BODY_SIZE);
    const dv = new DataView(body.buffer);
    dv.setUint32(LOAN_BODY.slab, data.slab.index, true);
    dv.setUint32(LOAN_BODY.gen, data.gen, true);
    dv.setBigUint64(LOAN_BODY.size, BigInt(data.size), true);
    data.slab.state = "sent";
    data.slab.lastUsed = performance.now();
    data.slab.framePos = this.#write(topic, body, FRAME_LOAN);
    this.#stats.bytes += data.size - LOAN_BODY_SIZE;
  }

  /** Ring bytes a frame of this topic and body takes, with the PAD before it if it would not fit before the end. */
  #frameRoom(topicLen: number, bodyLen: number): number {
    if (topicLen + bodyLen > this.#maxBody) {
      throw outOfRange("data.length", `<= ${this.#maxBody - topicLen} bytes (a quarter of the ring minus the header and topic; send larger payloads as loans)`, bodyLen);
    }
    const need = align8(FRAME_HEADER + topicLen + bodyLen);
    const rest = this.capacity - (this.#w & this.#mask);
    return need <= rest ? need : rest + need;
  }

  /** Whether `total` bytes fit now; rescans cursors (publishing first) when the cached limit says no. */
  #tryRoom(total: number): boolean {
    if (this.#closed) return false;
    if (this.policy === "drop" || this.#w + total <= this.#limit) return true;
    this.flushHeld(); // a joiner starts at write_pos: the limit counts from the published position
    this.#want = this.#w + total;
    this.#wantAt = performance.now();
    this.#scan(performance.now());
    if (this.#w + total > this.#limit) return false;
    this.#want = 0;
    return true;
  }

  /** Writes one frame; returns its position. */
  #write(topic: Uint8Array, data: Uint8Array, type: number): number {
    const need = align8(FRAME_HEADER + topic.length + data.length);
    let off = this.#w & this.#mask;
    const rest = this.capacity - off;
    const total = need <= rest ? need : rest + need;
    const end = this.#w + total;
    if (end > this.#claimed) {
      this.#claimed = this.policy === "drop" ? end + this.#chunk : Math.max(end, Math.min(end + this.#chunk, this.#limit));
      // SYNC POINT: the claim before any byte below it is overwritten; pairs
      // with a subscriber's claim load after its copy (reader.ts #validate).
      // exchange, not store: a full barrier on every platform (PROTOCOL §6.5).
      Atomics.exchange(this.#b64, CONTROL.claim_pos >> 3, BigInt(this.#claimed));
    }
    const i32 = this.#i32;
    if (need > rest) {
      if (rest >= FRAME_HEADER) {
        const h = (this.#base + off) >> 2;
        i32[h] = rest - FRAME_HEADER;
        i32[h + 1] = FRAME_PAD;
        i32[h + 2] = this.#seq;
        i32[h + 3] = 0;
      }
      this.#w += rest;
      off = 0;
    }
    const at = this.#base + off;
    const h = at >> 2;
    i32[h] = topic.length + data.length;
    i32[h + 1] = type | (topic.length << 16);
    i32[h + 2] = this.#seq;
    i32[h + 3] = data.length;
    this.#u8.set(topic, at + FRAME_HEADER);
    this.#u8.set(data, at + FRAME_HEADER + topic.length);
    this.#w += need;
    this.#seq = (this.#seq + 1) >>> 0;
    this.#stats.messages++;
    this.#stats.bytes += data.length;
    if (!this.#held) {
      this.#held = true;
      holdUntilTickEnd(this);
    }
    // Never hold more than half a ring: a sleeping subscriber would wait for the tick's end.
    if (this.#w - this.#published > this.capacity / 2) this.flushHeld();
    return this.#w - need;
  }

  /** Publishes what was written this tick and wakes the subscribers that sleep (core/publish.ts). */
  flushHeld(): void {
    if (this.#held) {
      this.#held = false;
      release(this);
    }
    if (this.#w === this.#published || this.#closed) return;
    const i32 = this.#i32;
    const c = this.#ctl >> 2;
    i32[c + (CONTROL.messages_written >> 2)] = this.#stats.messages % 2 ** 32 | 0;
    i32[c + (CONTROL.bytes_written >> 2)] = this.#stats.bytes % 2 ** 32 | 0;
    Atomics.store(i32, c + (CONTROL.published_seq >> 2), this.#seq);
    // SYNC POINT: frames before write_pos; pairs with a subscriber's load of write_pos before it reads them.
    Atomics.store(this.#b64, CONTROL.write_pos >> 3, BigInt(this.#w));
    this.#published = this.#w;
    this.#wakeAll();
  }

  /** Wakes every subscriber that announced a sleep (one load each otherwise); maps newcomers. */
  #wakeAll(): void {
    const i32 = this.#i32;
    for (let i = 0; i < this.maxSubscribers; i++) {
      const st = Atomics.load(i32, (this.#ctl + slotOffset(i) + SLOT.state) >> 2);
      if (st === SLOT_FREE) {
        if (this.#slots[i] !== null) this.#scan(performance.now());
        continue;
      }
      let s = this.#slots[i] ?? (st === SLOT_ACTIVE ? this.#adopt(i) : null);
      // A mapping of a claimant that left: the slot's new claimant sleeps on another line.
      if (s !== null && Atomics.load(i32, (this.#ctl + slotOffset(i) + SLOT.epoch) >> 2) !== s.epoch) {
        this.#scan(performance.now());
        s = this.#slots[i] ?? null;
      }
      if (s !== null) s.line.notify();
    }
  }

  /** Maps slot i's new claimant (ACTIVE); null if it cannot be mapped (then it is evicted). */
  #adopt(i: number): SlotView | null {
    const slotByte = this.#ctl + slotOffset(i);
    const epoch = Atomics.load(this.#i32, (slotByte + SLOT.epoch) >> 2);
    if (this.#broken[i] === epoch) return null;
    try {
      const s = SlotView.open(this.#u8, this.#i32, slotByte, i, epoch);
      this.#slots[i] = s;
      s.watchExit(() => {
        this.#scan(performance.now());
        this.#parker.kick();
      });
      return s;
    } catch {
      // A slot naming no usable cursor segment harms only its claimant: evicted.
      this.#broken[i] = epoch;
      if (Atomics.compareExchange(this.#i32, (slotByte + SLOT.state) >> 2, SLOT_ACTIVE, SLOT_EVICTED) === SLOT_ACTIVE) this.#stats.evictions++;
      return null;
    }
  }

  /**
   * Reads the slot table: adopts newcomers, releases the slots of dead
   * subscribers, notices leaves, and (block) recomputes the limit, evicting
   * a subscriber that has held the writer longer than blockTimeout while
   * a frame waits for room (#want).
   */
  #scan(now: number): void {
    if (this.#closed && !this.#lingerScan) return;
    // Only while a send waits (or trySend() keeps failing) is a subscriber timed: not after the wait ended.
    const queued = this.#sendQueue.length > 0 || this.#syncWaiting;
    const want = queued || now - this.#wantAt < TRY_SEND_WAIT_MS ? this.#want : 0;
    const loanWant = this.#loanWant;
    const i32 = this.#i32;
    let min = this.#published;
    for (let i = 0; i < this.maxSubscribers; i++) {
      const slotByte = this.#ctl + slotOffset(i);
      const st = Atomics.load(i32, (slotByte + SLOT.state) >> 2);
      let s: SlotView | null = this.#slots[i] ?? null;
      if (s !== null && (st === SLOT_FREE || Atomics.load(i32, (slotByte + SLOT.epoch) >> 2) !== s.epoch)) {
        this.#drop(s, "closed");
        s = null;
      }
      if (st === SLOT_FREE) continue;
      // A claimant holds the slot's lock while it lives; none holding it: it died.
      if (!this.segment.handle.probe(SLOT_LOCK_BASE + i)) {
        this.#reclaim(i, s);
        continue;
      }
      if (st !== SLOT_ACTIVE) continue;
      if (s === null) s = this.#adopt(i);
      if (s === null) continue;
      if (!s.announced) {
        s.announced = true;
        this.#emitLater("join", this.#info(s));
      }
      // An untrusted cursor: past what was published it counts as caught up;
      // a cursor behind the ring holds the writer until evicted (harms only its owner).
      const pos = Math.min(s.position(), this.#published);
      if (pos !== s.lastPos) {
        s.lastPos = pos;
        s.heldSince = 0;
      }
      // Holds the writer: a frame waits for room (block) behind its cursor, or a loan
      // waits for a slab whose frame it has not passed (either policy).
      const holdsRoom = this.policy === "block" && want > 0 && pos + this.capacity < want;
      const holdsLoan = loanWant >= 0 && pos <= loanWant;
      if (holdsRoom || holdsLoan) {
        if (s.heldSince === 0) s.heldSince = now;
        // trySend() alone: evicted only if it was still failing blockTimeout after the hold began.
        else if (now - s.heldSince >= this.blockTimeout && (holdsLoan || queued || this.#wantAt - s.heldSince >= this.blockTimeout)) {
          this.#evict(s);
          continue;
        }
      } else s.heldSince = 0;
      if (this.policy === "block" && pos < min) min = pos;
    }
    this.#limit = min + this.capacity;
  }

  #evict(s: SlotView): void {
    const slotByte = this.#ctl + slotOffset(s.index);
    Atomics.store(this.#i32, (slotByte + SLOT.evicted_seq) >> 2, this.#seq);
    // SYNC POINT: evicted_seq before the state; pairs with the subscriber's state load (reader.ts).
    if (Atomics.compareExchange(this.#i32, (slotByte + SLOT.state) >> 2, SLOT_ACTIVE, SLOT_EVICTED) !== SLOT_ACTIVE) return;
    this.#stats.evictions++;
    Atomics.store(this.#i32, (this.#ctl + CONTROL.evictions) >> 2, this.#stats.evictions);
    s.heldSince = 0;
    s.line.notify();
    this.#emitLater("evict", this.#info(s));
  }

  /** Frees the slot of a claimant that died (its lock is free): as §6.7. */
  #reclaim(i: number, s: SlotView | null): void {
    const byte = SLOT_LOCK_BASE + i;
    if (!this.segment.handle.lock(byte)) return; // a new claimant took it meanwhile
    try {
      if (s !== null) this.#drop(s, "died");
      Atomics.store(this.#i32, (this.#ctl + slotOffset(i) + SLOT.state) >> 2, SLOT_FREE);
    } finally {
      this.segment.handle.unlock(byte);
    }
    // The dead subscriber's cursor segment and the doorbell it slept on stay
    // behind it: a sweep removes them (as a Peer does after a death).
    sweepAfterDeath();
  }

  #drop(s: SlotView, reason: "closed" | "died"): void {
    const info = s.announced ? this.#info(s) : null;
    this.#slots[s.index] = null;
    s.close();
    if (info !== null) this.#emitLater("leave", info, reason);
    this.#parker.kick();
  }

  #emitLater(event: string, ...args: unknown[]): void {
    process.nextTick(() => this.emit(event, ...args));
  }

  /**
   * Publishes what is held, tells subscribers the stream ended (they drain,
   * then ECLOSED), and removes the ring's name. Safe twice. Loans sent that
   * a subscriber has not taken yet keep their slabs (and this process, as a
   * socket's end() does) until every subscriber passed or released them, or
   * for lingerMs at most.
   */
  close(): void {
    if (this.#closed) return;
    this.flushHeld();
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    // SYNC POINT: writer_state after the last write_pos; pairs with the subscriber's check of it after finding nothing new.
    Atomics.store(this.#i32, (this.#ctl + CONTROL.writer_state) >> 2, WRITER_CLOSED);
    for (const s of this.#slots) s?.line.notify();
    this.#parker.close();
    for (const l of this.#outstanding) l.detach();
    this.#outstanding.clear();
    this.segment.unlink(); // nobody new attaches; subscribers keep their mapping
    if (this.#lingerMs === 0 || !this.#loansInFlight()) {
      this.#release();
      return;
    }
    const until = performance.now() + this.#lingerMs;
    this.#lingering = setInterval(() => {
      this.#lingerScan = true;
      this.#scan(performance.now()); // subscribers that left or died stop counting
      this.#lingerScan = false;
      if (!this.#loansInFlight() || performance.now() >= until) this.#release();
    }, 10);
  }

  #lingering: NodeJS.Timeout | null = null;
  #lingerScan = false;

  /** Whether a sent loan may still be taken or is held by a subscriber. */
  #loansInFlight(): boolean {
    if (this.#loans === null) return false;
    for (const s of this.#loans.slabs.values()) if (s.state === "sent" && !this.#isFree(s)) return true;
    return false;
  }

  /** Unmaps everything (the end of close(), after lingering). */
  #release(): void {
    if (this.#lingering !== null) clearInterval(this.#lingering);
    this.#lingering = null;
    for (const s of this.#slots) s?.close();
    this.#slots.fill(null);
    this.#loans?.close();
    this.segment.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
