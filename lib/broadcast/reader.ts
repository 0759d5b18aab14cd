// A subscriber of a broadcast ring (docs/PROTOCOL.md §6): claims a slot,
// reads frames from its own cursor, keeps what matches its topics (copies,
// which stay valid), validates every batch against the writer's claim
// (copy, then validate: a lapped batch is dropped and counted, never
// delivered torn), stores its cursor, and sleeps on its own wait line.
import { checkInteger, checkWaitOptions, invalidArgType, shmError, type ShmError, type WaitOptions } from "../core/errors.js";
import { OFFSETS, OWNER_LOCK_BYTE } from "../core/layout.js";
import { native, type PeerWatchHandle } from "../core/native.js";
import { DEFAULT_WAIT_MODE, validateWaitMode, WaitLine, type WaitMode } from "../core/notify.js";
import { Segment } from "../core/segment.js";
import { sweepAfterDeath } from "../core/sweep.js";
import { copyLoanMessage, receiveIterator, type MessagesOptions } from "../channel/iterate.js";
import { Parker } from "../channel/parker.js";
import { spinPolicy } from "../channel/spin.js";
import {
  align8,
  BROADCAST_MAGIC,
  BROADCAST_VERSION,
  CONTROL,
  CURSOR,
  CURSOR_DATA_SIZE,
  CURSOR_TOPICS_MAX,
  FRAME_DATA,
  FRAME_HEADER,
  FRAME_LOAN,
  FRAME_PAD,
  HELD_ENTRIES,
  LOAN_BODY,
  LOAN_BODY_SIZE,
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
import { LoanViews } from "./loan-views.js";
import { slotOffset } from "./subscriber-slot.js";
import { compileTopics, matches, TopicDecoder, type TopicFilter } from "./topics.js";

/**
 * How the validation load is made (PROTOCOL §6.5). x86-64 keeps loads in
 * order, so a plain seq_cst load of claim_pos after the copy sees a claim
 * at least as new as the bytes copied. Elsewhere (arm64) an acquire load
 * does not keep earlier plain loads before it: an atomic read-modify-write
 * of the claim word (adding 0) is, as its exclusive store cannot succeed
 * before the earlier loads are done.
 */
const ORDERED_LOADS = process.arch === "x64" || process.arch === "ia32";
/** Frames read per batch before validating (and storing the cursor). */
const MAX_BATCH = 256;

export interface BroadcastAttachOptions {
  /** Subscriptions: byte prefixes of topics (ZeroMQ SUB); empty or "" = everything. Default everything. */
  topics?: (string | Uint8Array)[];
  /** How this process's event loop is woken ("doorbell" or "futex"). */
  mode?: WaitMode;
  /** Microseconds a waiting receive spins before sleeping, or "adaptive". Default 0 (see the writer's). */
  spin?: number | "adaptive";
}

export interface BroadcastMessage {
  topic: string;
  /**
   * The body. A DATA message's is a copy: valid for as long as it is
   * referenced. A loan's is a view of the writer's shared memory (no copy),
   * valid until release() (then it reads as length 0).
   */
  data: Uint8Array;
  /** Whether `data` is a loan's view (release it when done; the writer cannot reuse the memory before). */
  loan: boolean;
  /** Releases a loan's view (a no-op for copies). Safe twice. */
  release(): void;
  /** The writer's sequence number of this message (u32, wraps). */
  seq: number;
  /** Messages (of any topic) this subscriber lost to a lap just before this one (drop); usually 0. */
  missed: number;
}

export interface BroadcastReaderStats {
  messages: number;
  missed: number;
  laps: number;
  slot: number;
}

export class BroadcastReader {
  readonly name: string;
  readonly capacity: number;
  readonly policy: "block" | "drop";
  /** The slot this subscriber holds in the ring's table. */
  readonly slot: number;
  readonly ring: Segment;
  readonly cursor: Segment;
  readonly #u8: Uint8Array;
  readonly #i32: Int32Array;
  readonly #b64: BigInt64Array;
  readonly #cur: BigInt64Array;
  readonly #curWords: Int32Array;
  readonly #ctl: number;
  readonly #base: number;
  readonly #mask: number;
  readonly #maxBody: number;
  readonly #stateIdx: number;
  #filter: TopicFilter;
  readonly #decoder = new TopicDecoder();
  readonly #parker: Parker;
  readonly #writerLine: WaitLine;
  readonly #watch: PeerWatchHandle | null;
  #pos: number;
  #expected: number;
  #fresh = true; // nothing read yet: `expected` is the published count at join, an upper bound
  #lapped = false;
  #queue: BroadcastMessage[] = [];
  #qi = 0;
  #error: ShmError | null = null;
  #closed = false;
  #stats = { messages: 0, missed: 0, laps: 0 };
  readonly #held: BigUint64Array;
  readonly #loans: LoanViews;
  #heldFull = false; // a matching loan waits for a free entry of the held table (EMAXKEPT)

  private constructor(ring: Segment, cursor: Segment, slot: number, filter: TopicFilter, mode: WaitMode, spin: number | "adaptive") {
    this.ring = ring;
    this.cursor = cursor;
    this.name = ring.name;
    this.slot = slot;
    this.#filter = filter;
    const buf = ring.buffer;
    this.#u8 = new Uint8Array(buf);
    this.#i32 = new Int32Array(buf);
    this.#ctl = ring.dataOffset;
    this.#b64 = new BigInt64Array(buf, this.#ctl, 32);
    const c = this.#ctl >> 2;
    this.capacity = this.#i32[c + (CONTROL.capacity >> 2)]!;
    this.policy = this.#i32[c + (CONTROL.policy >> 2)] === POLICY_BLOCK ? "block" : "drop";
    this.#base = this.#ctl + this.#i32[c + (CONTROL.ring_offset >> 2)]!;
    this.#mask = this.capacity - 1;
    this.#maxBody = maxFrame(this.capacity) - FRAME_HEADER;
    this.#stateIdx = (this.#ctl + slotOffset(slot) + SLOT.state) >> 2;
    this.#cur = new BigInt64Array(cursor.buffer, cursor.dataOffset, 1);
    this.#curWords = new Int32Array(cursor.buffer, cursor.dataOffset, CURSOR_DATA_SIZE / 4);
    this.#parker = new Parker(new WaitLine(cursor, OFFSETS.reader_wait), mode, spinPolicy(spin));
    this.#writerLine = new WaitLine(ring, OFFSETS.writer_wait);
    this.#held = new BigUint64Array(cursor.buffer, cursor.dataOffset + CURSOR.held, HELD_ENTRIES);
    this.#loans = new LoanViews(ring, this.#held, this.#writerLine);
    this.#pos = 0;
    this.#expected = 0;
    let watch: PeerWatchHandle | null = null;
    try {
      const pid = this.#i32[OFFSETS.owner_pid >> 2]! >>> 0;
      const start = (this.#i32[OFFSETS.owner_start_time >> 2]! >>> 0) + (this.#i32[(OFFSETS.owner_start_time >> 2) + 1]! >>> 0) * 2 ** 32;
      watch = new (native().PeerWatchHandle)(pid, start, () => this.#parker.kick());
    } catch {
      watch = null; // the periodic re-check probes the writer's lock instead
    }
    this.#watch = watch;
  }

  /**
   * Attaches a broadcast ring and claims a subscriber slot. Receives every
   * matching message the writer publishes after this returns (under "drop":
   * unless lapped, and then counted in `missed`). Errors: ENOENT, ECORRUPT
   * (not a broadcast ring), ECLOSED (the writer closed), EBUSY (every slot taken).
   */
  static attach(name: string, options: BroadcastAttachOptions = {}): BroadcastReader {
    if (options === null || typeof options !== "object") throw invalidArgType("options", "an object", options);
    const filter = compileTopics(options.topics);
    const mode = validateWaitMode(options.mode ?? DEFAULT_WAIT_MODE);
    const spin = options.spin ?? 0;
    if (spin !== "adaptive") checkInteger("options.spin", spin, 0, 10_000_000); // as the writer's
    const ring = Segment.attach(name);
    let cursor: Segment | null = null;
    let slot = -1;
    try {
      const maxSubs = checkControl(ring);
      cursor = Segment.create({ size: CURSOR_DATA_SIZE });
      writeTopics(cursor, options.topics ?? []);
      slot = claimSlot(ring, maxSubs, cursor.name);
      const r = new BroadcastReader(ring, cursor, slot, filter, mode, spin);
      r.#join();
      return r;
    } catch (e) {
      if (slot >= 0) {
        Atomics.store(new Int32Array(ring.buffer), (ring.dataOffset + slotOffset(slot) + SLOT.state) >> 2, SLOT_FREE);
        ring.handle.unlock(SLOT_LOCK_BASE + slot);
      }
      cursor?.close();
      ring.close();
      throw e;
    }
  }

  /** §6.6: start at a published position every later writer limit accounts for. */
  #join(): void {
    const wp = CONTROL.write_pos >> 3;
    const p0 = Number(Atomics.load(this.#b64, wp));
    Atomics.store(this.#cur, 0, BigInt(p0));
    // SYNC POINT: ACTIVE after the cursor; pairs with the writer's scan (state, then cursor).
    Atomics.store(this.#i32, this.#stateIdx, SLOT_ACTIVE);
    const p1 = Number(Atomics.load(this.#b64, wp));
    this.#expected = Atomics.load(this.#i32, (this.#ctl + CONTROL.published_seq) >> 2) >>> 0;
    Atomics.store(this.#cur, 0, BigInt(p1));
    this.#pos = p1;
    this.#writerLine.notify(); // a writer waiting for room re-scans
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Changes the subscriptions at run time (ZeroMQ's subscribe()/unsubscribe();
   * publish()'s subscribers use it): frames read from now on are filtered by
   * `topics`. Unlike attach()'s option, an empty list matches nothing (a
   * ZeroMQ SUB with no subscription). Messages already read into this
   * reader's batch are not filtered again.
   */
  setTopics(topics: (string | Uint8Array)[]): void {
    if (!Array.isArray(topics)) throw invalidArgType("topics", "an array of strings or Uint8Arrays", topics);
    this.#filter = topics.length === 0 ? [] : compileTopics(topics);
    writeTopics(this.cursor, topics);
  }

  /** Messages lost to laps so far (drop; of any topic). */
  get missed(): number {
    return this.#stats.missed;
  }

  get stats(): BroadcastReaderStats {
    return { ...this.#stats, slot: this.slot };
  }

  /** The next message; waits for one. Rejects ECLOSED after the writer closed and everything was read, ESLOW when evicted, EPEERDEAD when the writer died, ECORRUPT. */
  async recv(options?: WaitOptions): Promise<BroadcastMessage> {
    const { signal, deadline, timeout } = checkWaitOptions(options);
    for (;;) {
      const m = this.#next();
      if (m !== null) return m;
      // Several receives may wait at once: the one woken second may find the message taken, and waits again.
      await this.#parker.wait({ ready: () => this.#ready(), recheck: () => this.#recheck(), deadline, timeout, signal, op: "recv" });
    }
  }

  /** The next message if one is there now, else null. */
  tryRecv(): BroadcastMessage | null {
    return this.#next();
  }

  /** recv() that blocks this thread; ETIMEDOUT after timeoutMs. */
  recvSync(timeoutMs = Infinity): BroadcastMessage {
    const { deadline, timeout } = checkWaitOptions({ timeout: timeoutMs });
    for (;;) {
      const m = this.#next();
      if (m !== null) return m;
      const ok = this.#parker.waitSync({ ready: () => this.#ready(), recheck: () => this.#recheck(), deadline, timeout, op: "recvSync" });
      if (!ok) throw shmError("ETIMEDOUT", `recvSync() timed out after ${timeoutMs} ms`);
    }
  }

  /**
   * Messages until the writer closes (then the iteration ends); other
   * errors (ESLOW, EPEERDEAD, ECORRUPT) are thrown. `timeout` applies to each
   * wait, `signal` ends the iteration with an AbortError. Each message's
   * `data` stays valid (a loan is copied and released at once: safe to
   * collect or pull ahead); `{ copy: false }` hands loans out in place,
   * each valid until the next step (released then).
   */
  messages(options?: MessagesOptions): AsyncIterableIterator<BroadcastMessage> {
    return receiveIterator((o) => this.recv(o), copyLoanMessage, options, (m) => m.release());
  }

  /** As messages(options). */
  [Symbol.asyncIterator](options?: MessagesOptions): AsyncIterableIterator<BroadcastMessage> {
    return this.messages(options);
  }

  #next(): BroadcastMessage | null {
    if (this.#qi < this.#queue.length) return this.#take();
    if (this.#closed) throw shmError("ECLOSED", "the subscriber is closed");
    if (this.#error !== null) throw this.#error;
    this.#fill();
    if (this.#qi < this.#queue.length) return this.#take();
    if (this.#error !== null) throw this.#error;
    if (this.#heldFull) {
      this.#heldFull = false;
      throw shmError("EMAXKEPT", `this subscriber holds ${HELD_ENTRIES} loans: release() some to receive the next one`);
    }
    return null;
  }

  #take(): BroadcastMessage {
    const m = this.#queue[this.#qi]!;
    this.#queue[this.#qi++] = undefined as unknown as BroadcastMessage;
    if (this.#qi === this.#queue.length) {
      this.#queue = [];
      this.#qi = 0;
    }
    return m;
  }

  #ready(): boolean {
    if (this.#closed || this.#qi < this.#queue.length || this.#error !== null || this.#heldFull) return true;
    this.#fill();
    return this.#qi < this.#queue.length || this.#error !== null || this.#heldFull;
  }

  /** Nothing came for a while: is the writer still there? */
  #recheck(): void {
    if (this.#ready()) return;
    if (!this.ring.handle.probe(OWNER_LOCK_BYTE)) {
      this.#ready(); // whatever it published before dying is still delivered first
      if (this.#qi >= this.#queue.length && this.#error === null) {
        this.#error = shmError("EPEERDEAD", `the broadcast writer of ${this.name} died`);
        sweepAfterDeath(); // its ring (our mapping stays) and what it left
      }
      this.#parker.kick();
    }
  }

  /** Reads what was published into the queue; never throws (sets #error). */
  #fill(): void {
    for (let round = 0; round < 8 && this.#error === null; round++) {
      const st = Atomics.load(this.#i32, this.#stateIdx);
      if (st !== SLOT_ACTIVE) {
        this.#error = st === SLOT_EVICTED ? this.#evicted() : shmError("ECORRUPT", `subscriber slot ${this.slot} of ${this.name} was changed under us (state ${st})`);
        return;
      }
      // SYNC POINT: write_pos before the frames below it; pairs with the writer's publication.
      const avail = Number(Atomics.load(this.#b64, CONTROL.write_pos >> 3));
      if (avail === this.#pos) {
        if (Atomics.load(this.#i32, (this.#ctl + CONTROL.writer_state) >> 2) === WRITER_CLOSED && Number(Atomics.load(this.#b64, CONTROL.write_pos >> 3)) === this.#pos) {
          // A lap that jumped to the end: what it skipped is counted now (no later frame will).
          if (this.#lapped) this.#countMissed(((Atomics.load(this.#i32, (this.#ctl + CONTROL.published_seq) >> 2) >>> 0) - this.#expected) >>> 0);
          this.#error = shmError("ECLOSED", `the broadcast writer of ${this.name} closed (everything it sent was received)`);
        }
        return;
      }
      if (avail < this.#pos) {
        this.#error = shmError("ECORRUPT", `write_pos of ${this.name} went back (${avail} < ${this.#pos})`);
        return;
      }
      const before = this.#queue.length;
      this.#readBatch(avail);
      if (this.#queue.length > before) return;
    }
  }

  /** Whether the writer closed or died (then a loan's slab may be gone without corruption). */
  #writerGone(): boolean {
    return Atomics.load(this.#i32, (this.#ctl + CONTROL.writer_state) >> 2) === WRITER_CLOSED || !this.ring.handle.probe(OWNER_LOCK_BYTE);
  }

  #evicted(): ShmError {
    const seqAt = Atomics.load(this.#i32, (this.#ctl + slotOffset(this.slot) + SLOT.evicted_seq) >> 2) >>> 0;
    const now = Atomics.load(this.#i32, (this.#ctl + CONTROL.published_seq) >> 2) >>> 0;
    const missed = (now - this.#expected) >>> 0;
    const e = shmError(
      "ESLOW",
      `evicted from ${this.name}: this subscriber held the writer longer than its blockTimeout ` +
        `(${this.#i32[(this.#ctl + CONTROL.block_timeout_ms) >> 2]} ms); ${missed} messages published since the last one received were not delivered (evicted at sequence ${seqAt})`,
    ) as ShmError & { missed: number };
    e.missed = missed;
    return e;
  }

  /** One batch: copy, then validate (§6.5). */
  #readBatch(avail: number): void {
    const i32 = this.#i32;
    const u8 = this.#u8;
    const start = this.#pos;
    let p = start;
    let n = 0;
    let bytes = 0;
    let firstSeq = -1;
    let lastSeq = -1;
    let bad: string | null = null;
    const got: BroadcastMessage[] = [];
    const loans: { msg: number; entry: number; slab: number; gen: number; size: number }[] = [];
    let gone: string | null = null;
    while (p < avail && n < MAX_BATCH && bytes < this.capacity / 4) {
      const off = p & this.#mask;
      const rest = this.capacity - off;
      if (rest < FRAME_HEADER) {
        p += rest;
        continue;
      }
      const at = this.#base + off;
      const h = at >> 2;
      const len = i32[h]! >>> 0;
      const w1 = i32[h + 1]!;
      const type = w1 & 0xffff;
      const tl = w1 >>> 16;
      const seq = i32[h + 2]! >>> 0;
      const bl = i32[h + 3]! >>> 0;
      if (type === FRAME_PAD) {
        if (len !== rest - FRAME_HEADER) {
          bad = `PAD frame at ${p} with length ${len}, not ${rest - FRAME_HEADER}`;
          break;
        }
        p += rest;
        continue;
      }
      const size = align8(FRAME_HEADER + len);
      if ((type !== FRAME_DATA && (type !== FRAME_LOAN || bl !== LOAN_BODY_SIZE)) || len > this.#maxBody || tl + bl !== len || size > rest || p + size > avail) {
        bad = `frame at ${p}: type ${type}, length ${len}, topic ${tl}, body ${bl} (ring ${this.capacity}, published ${avail})`;
        break;
      }
      if (firstSeq < 0) firstSeq = seq;
      else if (seq !== ((lastSeq + 1) >>> 0)) {
        bad = `frame at ${p}: sequence ${seq} after ${lastSeq}`;
        break;
      }
      if (matches(this.#filter, u8, at + FRAME_HEADER, tl)) {
        const topic = this.#decoder.decode(u8, at + FRAME_HEADER, tl);
        if (type === FRAME_LOAN) {
          const body = new DataView(u8.buffer, at + FRAME_HEADER + tl, LOAN_BODY_SIZE);
          const slab = body.getUint32(LOAN_BODY.slab, true);
          const gen = body.getUint32(LOAN_BODY.gen, true);
          const loanSize = Number(body.getBigUint64(LOAN_BODY.size, true));
          // SYNC POINT: the hold before the validation below; pairs with the writer's
          // exchange of claim_pos, then load of the holds (writer.ts #isFree).
          const entry = this.#loans.hold(slab, gen);
          if (entry < 0) {
            this.#heldFull = true;
            if (got.length === 0 && firstSeq === seq) firstSeq = -1;
            break;
          }
          loans.push({ msg: got.length, entry, slab, gen, size: loanSize });
          got.push({ topic, data: EMPTY, loan: true, release: noop, seq, missed: 0 });
        } else {
          got.push({ topic, data: u8.slice(at + FRAME_HEADER + tl, at + FRAME_HEADER + len), loan: false, release: noop, seq, missed: 0 });
          bytes += bl;
        }
      }
      lastSeq = seq;
      p += size;
      n++;
    }
    // SYNC POINT: the claim after the copy; pairs with the writer's exchange of
    // claim_pos before it overwrites (writer.ts #write). A frame at q is intact
    // iff claim <= q + capacity; frames were read in order from `start`, so the
    // batch is intact iff its first frame is (a later frame was found through
    // the lengths of the earlier ones).
    const claim = Number(ORDERED_LOADS ? Atomics.load(this.#b64, CONTROL.claim_pos >> 3) : Atomics.add(this.#b64, CONTROL.claim_pos >> 3, 0n));
    if (claim > start + this.capacity || (loans.length > 0 && Atomics.load(this.#i32, this.#stateIdx) !== SLOT_ACTIVE)) {
      for (const l of loans) this.#loans.unhold(l.entry);
      if (claim <= start + this.capacity) return; // evicted meanwhile (§6.8): the next #fill reports ESLOW
      // Lapped: nothing of this batch is trusted. write_pos is a frame boundary.
      this.#lapped = true;
      this.#stats.laps++;
      this.#pos = Math.max(avail, Number(Atomics.load(this.#b64, CONTROL.write_pos >> 3)));
      return;
    }
    if (firstSeq >= 0) {
      let missed = 0;
      if (firstSeq !== this.#expected) {
        const gap = (firstSeq - this.#expected) >>> 0;
        if (this.#fresh && gap >= 2 ** 31) {
          // A joiner's expected count was read after its start position: not a loss.
        } else if (this.#lapped || this.#fresh) missed = this.#fresh && !this.#lapped ? 0 : gap;
        else bad ??= `sequence ${firstSeq} where ${this.#expected} was expected, without a lap`;
      }
      this.#fresh = false;
      this.#lapped = false;
      this.#expected = (lastSeq + 1) >>> 0;
      if (missed > 0) {
        this.#stats.missed += missed;
        if (got.length > 0) got[0]!.missed = missed;
        else this.#pendingMissed += missed;
      }
      if (got.length > 0 && this.#pendingMissed > 0) {
        got[0]!.missed += this.#pendingMissed;
        this.#pendingMissed = 0;
      }
    }
    for (const l of loans) {
      const r = this.#loans.view(l.entry, l.slab, l.gen, l.size);
      if (typeof r === "string" || "gone" in r) {
        for (const k of loans) if (k.msg >= l.msg) this.#loans.unhold(k.entry);
        got.length = l.msg;
        if (typeof r === "string") bad ??= r; // ECORRUPT from here on: nothing after the bad loan is delivered
        else if (this.#writerGone()) gone = r.gone;
        else bad ??= `LOAN frame names slab ${l.slab}, which does not exist while its writer is open`;
        break;
      }
      got[l.msg]!.data = r.data;
      got[l.msg]!.release = r.release;
    }
    if (bad !== null) {
      this.#error = shmError("ECORRUPT", `broadcast ring ${this.name}: ${bad}`);
    } else if (gone !== null) this.#error = shmError("ENOENT", gone);
    for (const m of got) this.#queue.push(m);
    this.#stats.messages += got.length;
    this.#pos = p;
    const cw = this.#curWords;
    const total = this.#stats.messages;
    cw[CURSOR.messages >> 2] = total % 2 ** 32 | 0;
    cw[(CURSOR.messages >> 2) + 1] = Math.floor(total / 2 ** 32);
    cw[CURSOR.missed >> 2] = this.#stats.missed % 2 ** 32 | 0;
    // SYNC POINT: the cursor after the copies; pairs with the writer's scan before it reuses the bytes.
    Atomics.store(this.#cur, 0, BigInt(p));
    this.#writerLine.notify();
  }

  #pendingMissed = 0;

  #countMissed(n: number): void {
    this.#lapped = false;
    this.#stats.missed += n;
    this.#curWords[CURSOR.missed >> 2] = this.#stats.missed % 2 ** 32 | 0;
  }

  /** Leaves: frees the slot (the writer stops waiting for us), removes the cursor segment. Safe twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch?.close();
    this.#parker.close();
    this.#loans.close();
    try {
      const st = Atomics.load(this.#i32, this.#stateIdx);
      if (st === SLOT_ACTIVE || st === SLOT_EVICTED || st === SLOT_JOINING) Atomics.store(this.#i32, this.#stateIdx, SLOT_FREE);
      this.#writerLine.notify();
      this.ring.handle.unlock(SLOT_LOCK_BASE + this.slot);
    } catch {
      /* the ring is gone with its writer */
    }
    this.cursor.close();
    this.ring.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

const EMPTY = new Uint8Array(0);
const noop = (): void => undefined;

/** Validates a ring's control block (everything in it is untrusted); returns its slot count. */
function checkControl(ring: Segment): number {
  const bad = (what: string): never => {
    throw shmError("ECORRUPT", `${ring.name} is not a valid broadcast ring: ${what}`);
  };
  // Before anything is mapped: no writer makes a ring larger than this (a sparse object of terabytes is not one).
  if (ring.size < MIN_CAPACITY || ring.size > ringOffset(MAX_SUBSCRIBERS) + MAX_BROADCAST_CAPACITY) bad(`data region of ${ring.size} bytes`);
  const c = new Int32Array(ring.buffer, ring.dataOffset, 64);
  // SYNC POINT: the magic first; pairs with the writer's store of it last (writer.ts create).
  if (Atomics.load(c, CONTROL.magic >> 2) !== BROADCAST_MAGIC) bad("no broadcast magic");
  if (c[CONTROL.version >> 2] !== BROADCAST_VERSION) throw shmError("EVERSION", `${ring.name}: broadcast version ${c[CONTROL.version >> 2]}, this build speaks ${BROADCAST_VERSION}`);
  const cap = c[CONTROL.capacity >> 2]! >>> 0;
  const maxSubs = c[CONTROL.max_subscribers >> 2]! >>> 0;
  const policy = c[CONTROL.policy >> 2];
  if (cap < MIN_CAPACITY || cap > MAX_BROADCAST_CAPACITY || (cap & (cap - 1)) !== 0) bad(`capacity ${cap}`);
  if (maxSubs < 1 || maxSubs > MAX_SUBSCRIBERS) bad(`max_subscribers ${maxSubs}`);
  if (policy !== POLICY_BLOCK && policy !== POLICY_DROP) bad(`policy ${policy}`);
  if (c[CONTROL.ring_offset >> 2] !== ringOffset(maxSubs)) bad(`ring_offset ${c[CONTROL.ring_offset >> 2]}`);
  if (ringOffset(maxSubs) + cap > ring.size) bad(`ring of ${cap} bytes past the data region (${ring.size})`);
  const ws = Atomics.load(c, CONTROL.writer_state >> 2);
  if (ws === WRITER_CLOSED) throw shmError("ECLOSED", `the broadcast writer of ${ring.name} closed`);
  if (ws !== WRITER_OPEN) bad(`writer_state ${ws}`);
  return maxSubs;
}

/** Claims a free slot (its lock first: §6.6); returns its index. EBUSY when all are taken. */
function claimSlot(ring: Segment, maxSubs: number, cursorName: string): number {
  const i32 = new Int32Array(ring.buffer);
  const u8 = new Uint8Array(ring.buffer);
  for (let i = 0; i < maxSubs; i++) {
    if (!ring.handle.lock(SLOT_LOCK_BASE + i)) continue;
    const s = ring.dataOffset + slotOffset(i);
    // Holding the lock makes the slot ours whatever its state (a dead claimant's leftovers).
    Atomics.store(i32, (s + SLOT.state) >> 2, SLOT_JOINING);
    i32[(s + SLOT.epoch) >> 2] = (i32[(s + SLOT.epoch) >> 2]! + 1) | 0;
    i32[(s + SLOT.pid) >> 2] = process.pid;
    const start = native().selfStartTime;
    i32[(s + SLOT.start_time) >> 2] = start % 2 ** 32 | 0;
    i32[((s + SLOT.start_time) >> 2) + 1] = Math.floor(start / 2 ** 32) | 0;
    i32[(s + SLOT.evicted_seq) >> 2] = 0;
    const name = u8.subarray(s + SLOT.cursor_name, s + SLOT.cursor_name + 32);
    name.fill(0);
    for (let k = 0; k < cursorName.length; k++) name[k] = cursorName.charCodeAt(k);
    return i;
  }
  throw shmError("EBUSY", `every subscriber slot of ${ring.name} is taken (${maxSubs})`);
}

const enc = new TextEncoder();

/** The subscriptions, for display by the writer (`subscribers`) and the CLI. */
function writeTopics(cursor: Segment, topics: (string | Uint8Array)[]): void {
  const parts = topics.map((t) => (typeof t === "string" ? enc.encode(t) : t));
  const joined = new Uint8Array(Math.min(CURSOR_TOPICS_MAX, parts.reduce((a, b) => a + b.length + 1, 0)));
  let at = 0;
  for (const p of parts) {
    if (at + p.length > joined.length) break;
    joined.set(p, at);
    at += p.length + 1;
  }
  const len = Math.max(0, Math.min(at - 1, joined.length));
  new Uint8Array(cursor.buffer, cursor.dataOffset + CURSOR.topics, len).set(joined.subarray(0, len));
  new Int32Array(cursor.buffer, cursor.dataOffset, 16)[CURSOR.topics_len >> 2] = len;
}
