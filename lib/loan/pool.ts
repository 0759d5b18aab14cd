// The writer's loan pool: slabs of equal slots, grown on demand per size
// class, prefaulted, and reused. A slot is FREE, LOANED (the user fills it
// through an ArrayBuffer of its own), QUEUED (handed to send(), waiting
// for ring room), or SENT (its descriptor is in the ring; the reader holds
// it until it releases, by storing the generation in the slot table).
// Nothing here makes a syscall in steady state: loans come from free slots
// and releases are found by reading the slot tables.
import { checkInteger, invalidArgType, outOfRange, shmError } from "../core/errors.js";
import { OFFSETS } from "../core/layout.js";
import type { PoolCounts } from "../core/sweep.js";
import { storeU64 } from "../core/u64.js";
import { whenUnused } from "./away.js";
import { MAX_SLOT, slotSizeFor, slotsPerSlab } from "./classes.js";
import type { Descriptor } from "./descriptor.js";
import { Slab, type RingIdentity } from "./slab.js";

export interface PoolOptions {
  /**
   * Most bytes of slot memory the pool may hold (default 4 GiB). Memory is
   * taken on demand, one slab at a time, and kept for reuse; when a new slab
   * would pass the limit, free slabs of other sizes are given back first,
   * and if that is not enough, loan() waits for the reader to release.
   */
  maxBytes?: number;
  /**
   * How long close() keeps the names of slabs holding loans the reader has
   * not mapped yet (default 10,000 ms), so that a writer may send, close
   * and exit, and the reader still gets what was sent. Like a socket's
   * end(), this keeps the process alive until the reader has mapped them
   * or released them, at most this long; not at all if the reader had
   * already closed or died when the writer closed.
   */
  lingerMs?: number;
}

/** Default PoolOptions.maxBytes. */
export const DEFAULT_POOL_MAX_BYTES = 4 * 2 ** 30;
/** Default PoolOptions.lingerMs. */
export const DEFAULT_POOL_LINGER_MS = 10_000;
/** How often a closed pool checks whether its lingering slabs are still needed. */
const LINGER_POLL_MS = 20;

/** The pool's counters (PoolCounts, also in the ring's loan line), and what only the writer knows. */
export interface PoolStats extends PoolCounts {
  /** Slabs created since the channel was created (≪ loansSent when memory is reused). */
  slabsCreated: number;
}

const FREE = 0;
const LOANED = 1;
const QUEUED = 2;
const SENT = 3;

class PoolSlab {
  readonly slab: Slab;
  readonly state: Uint8Array;
  readonly gen: Uint32Array;
  readonly size: Float64Array; // bytes of the loan in each slot (loaned, queued or sent)
  free: number;
  lastUse = 0;

  constructor(slab: Slab) {
    this.slab = slab;
    this.state = new Uint8Array(slab.slotCount);
    this.gen = new Uint32Array(slab.slotCount);
    this.size = new Float64Array(slab.slotCount);
    this.free = slab.slotCount;
  }
}

/** One loan: the slot it occupies, and the user's ArrayBuffer over it while the user has it. */
export class LoanRecord {
  readonly ps: PoolSlab;
  readonly slot: number;
  readonly gen: number;
  readonly size: number;
  buffer: WeakRef<ArrayBuffer> | null;
  /** The view's entry in the binding's buffer table (away.ts). */
  readonly token: number;
  /** The slot waits for a buffer a transfer moved the memory to (away.ts): nothing else may free it. */
  away = false;

  constructor(ps: PoolSlab, slot: number, gen: number, size: number, buffer: ArrayBuffer) {
    this.ps = ps;
    this.slot = slot;
    this.gen = gen;
    this.size = size;
    this.buffer = new WeakRef(buffer);
    this.token = ps.slab.token(buffer);
  }

  get state(): number {
    return this.ps.state[this.slot]!;
  }
}

const L = {
  epoch: OFFSETS.loan_epoch >> 2,
  slabs: OFFSETS.pool_slabs >> 2,
  bytes: OFFSETS.pool_bytes >> 2,
  sent: OFFSETS.loans_sent >> 2,
  loaned: OFFSETS.bytes_loaned >> 2,
  inFlight: OFFSETS.bytes_in_flight >> 2,
  slots: OFFSETS.pool_slots >> 2,
} as const;

export interface PoolConfig {
  maxBytes: number;
  lingerMs: number;
}

export function validatePoolOptions(o: unknown): PoolConfig {
  if (o === undefined) return { maxBytes: DEFAULT_POOL_MAX_BYTES, lingerMs: DEFAULT_POOL_LINGER_MS };
  if (o === null || typeof o !== "object") throw invalidArgType("options.pool", "an object", o);
  const { maxBytes, lingerMs } = o as PoolOptions;
  return {
    maxBytes: maxBytes === undefined ? DEFAULT_POOL_MAX_BYTES : checkInteger("options.pool.maxBytes", maxBytes, 4096, Number.MAX_SAFE_INTEGER),
    lingerMs: lingerMs === undefined ? DEFAULT_POOL_LINGER_MS : checkInteger("options.pool.lingerMs", lingerMs, 0, 2 ** 31 - 1),
  };
}

export class LoanPool {
  readonly maxBytes: number;
  readonly #lingerMs: number;
  readonly #ring: RingIdentity;
  readonly #hdr: Int32Array; // the ring's header words (loan line)
  readonly #classes = new Map<number, PoolSlab[]>();
  readonly #byBuffer = new WeakMap<ArrayBuffer, LoanRecord>();
  readonly #out = new Set<LoanRecord>(); // loaned or queued: detached at close
  // A collected loan's memory may live on in a buffer a transfer moved it to.
  readonly #collected = new FinalizationRegistry<LoanRecord>((r) => this.#freeWhenUnused(r, r.token));
  /** Changes whenever a slot becomes free: what a waiting loan() watches. */
  version = 0;
  #nextIndex = 0;
  #tick = 0;
  #closed = false;
  readonly #stats = { slabs: 0, slots: 0, bytes: 0, loaned: 0, inFlight: 0, loansSent: 0, slabsCreated: 0 };

  constructor(ring: RingIdentity, ringHeader: Int32Array, config: PoolConfig) {
    this.#ring = ring;
    this.#hdr = ringHeader;
    this.maxBytes = config.maxBytes;
    this.#lingerMs = config.lingerMs;
  }

  /** Largest loan this pool can make. */
  get maxLoanSize(): number {
    return Math.min(MAX_SLOT, Math.floor(this.maxBytes / 4096) * 4096);
  }

  get stats(): PoolStats {
    this.reclaim();
    return { ...this.#stats };
  }

  /** The ring's loan epoch: descriptors carry it; a revocation advances it. */
  get epoch(): number {
    return Atomics.load(this.#hdr, L.epoch) >>> 0;
  }

  checkSize(size: unknown): number {
    const max = this.maxLoanSize;
    if (typeof size === "number" && Number.isInteger(size) && size > max && size <= Number.MAX_SAFE_INTEGER) {
      throw outOfRange("size", `<= ${max} (the pool's maxBytes, ${this.maxBytes}, and the largest slab)`, size);
    }
    return checkInteger("size", size, 1, max);
  }

  /** A loan of `size` bytes (validated) from a free slot, growing the pool if it may; null if it is full. */
  tryLoan(size: number): Uint8Array | null {
    const cls = slotSizeFor(size);
    const ps =
      this.#findFree(cls) ??
      (this.reclaim(), this.#findFree(cls)) ??
      this.#findLarger(cls, 2 * cls) ??
      (this.#stats.bytes + cls * slotsPerSlab(cls) > this.maxBytes ? this.#findLarger(cls, Infinity) : null) ??
      this.#grow(cls);
    if (ps === null) return null;
    let slot = 0;
    while (ps.state[slot] !== FREE) slot++;
    const gen = (ps.gen[slot]! + 1) >>> 0 || 1; // 0 is never a generation: fresh tables hold 0
    ps.gen[slot] = gen;
    ps.state[slot] = LOANED;
    ps.size[slot] = size;
    ps.free--;
    ps.lastUse = ++this.#tick;
    const ab = ps.slab.view(slot * ps.slab.slotSize, size);
    const rec = new LoanRecord(ps, slot, gen, size, ab);
    this.#byBuffer.set(ab, rec);
    this.#out.add(rec);
    this.#collected.register(ab, rec, rec);
    this.#stats.loaned += size;
    this.#publishStats();
    return new Uint8Array(ab);
  }

  /** The loan a view (of any type, over any part of it) belongs to, if it is a live loan of this pool. */
  recordOf(view: ArrayBufferView): LoanRecord | undefined {
    const rec = this.#byBuffer.get(view.buffer as ArrayBuffer);
    return rec !== undefined && rec.state === LOANED ? rec : undefined;
  }

  /**
   * EBUSY if a transfer moved the memory of this (not yet handed-over) loan
   * to another buffer (a worker's) that still holds it: sending it would let
   * the reader see bytes that buffer may still change. The loan is then
   * cancelled; its slot returns to the pool once that buffer is gone. The
   * writer asks only when a send refused a detached loan (nothing of the
   * send happened yet).
   */
  checkSendable(rec: LoanRecord): void {
    if (!rec.away) {
      const ab = rec.buffer?.deref();
      if (ab === undefined || ab.byteLength !== 0 || !rec.ps.slab.segment.handle.viewInUse(rec.token)) return;
      this.#freeWhenUnused(rec, this.#detach(rec) || rec.token);
    }
    throw shmError(
      "EBUSY",
      "this loan's memory was moved to another buffer (a transfer: postMessage to a worker, or transfer()) that still holds it; it was not sent, and its slot returns to the pool once that buffer is gone. Send from the thread that took the loan, or copy",
    );
  }

  /** The user gives the loan to the channel: their buffer is detached now. */
  handOver(rec: LoanRecord): void {
    this.#detach(rec);
    rec.ps.state[rec.slot] = QUEUED;
  }

  /**
   * The descriptor of a handed-over loan, `offset` bytes into it, `size`
   * long, and marks it sent: its generation goes into the slot table before
   * the caller publishes the descriptor (the ring's write index store).
   */
  send(rec: LoanRecord, offset: number, size: number): Omit<Descriptor, "huge"> {
    const ps = rec.ps;
    ps.slab.setSentGen(rec.slot, rec.gen);
    ps.state[rec.slot] = SENT;
    this.#out.delete(rec);
    const s = this.#stats;
    s.loaned -= rec.size;
    s.inFlight += rec.size;
    s.loansSent++;
    this.#publishStats();
    return { slab: ps.slab.index, slot: rec.slot, gen: rec.gen, epoch: this.epoch, offset: rec.slot * ps.slab.slotSize + offset, size };
  }

  /**
   * Returns an unsent loan (loaned or queued) to the pool; its buffer is
   * detached (and if a transfer moved the memory elsewhere, the slot returns
   * once that buffer is gone). Idempotent.
   */
  cancel(rec: LoanRecord): void {
    const st = rec.state;
    if (rec.away || rec.ps.gen[rec.slot] !== rec.gen || (st !== LOANED && st !== QUEUED)) return;
    this.#freeWhenUnused(rec, this.#detach(rec));
  }

  /** Detaches the user's buffer of `rec`; returns away.ts's token (0: nothing else holds the memory). */
  #detach(rec: LoanRecord): number {
    const ab = rec.buffer?.deref();
    rec.buffer = null;
    this.#collected.unregister(rec);
    return ab !== undefined && !this.#closed ? rec.ps.slab.detach(ab) : 0;
  }

  /** Frees the slot now, or once no buffer holds the memory behind `token`: exactly once (rec.away). */
  #freeWhenUnused(rec: LoanRecord, token: number): void {
    if (this.#closed || rec.away) return;
    rec.away = true;
    whenUnused(rec.ps.slab.segment.handle, token, () => {
      rec.away = false;
      this.#free(rec);
    });
  }

  #free(rec: LoanRecord): void {
    const ps = rec.ps;
    if (ps.gen[rec.slot] !== rec.gen || ps.state[rec.slot] === FREE || ps.state[rec.slot] === SENT) return;
    ps.state[rec.slot] = FREE;
    ps.free++;
    this.version++;
    this.#out.delete(rec);
    this.#stats.loaned -= rec.size;
    this.#publishStats();
  }

  #findFree(cls: number): PoolSlab | null {
    const slabs = this.#classes.get(cls);
    if (slabs === undefined) return null;
    for (const ps of slabs) if (ps.free > 0) return ps;
    return null;
  }

  /**
   * A free slot of the smallest larger class up to `max` bytes. Up to twice
   * `cls` always (a loan then wastes at most half its slot, where a new slab
   * costs a segment and its prefault: with four classes per power of two,
   * sizes that vary a little would otherwise make a slab per class); any
   * larger one at the pool's limit, where a new slab would first cost the
   * retirement of free ones (made again when their sizes come back).
   */
  #findLarger(cls: number, max: number): PoolSlab | null {
    let best: PoolSlab | null = null;
    for (const [c, slabs] of this.#classes) {
      if (c <= cls || c > max || (best !== null && c >= best.slab.slotSize)) continue;
      for (const ps of slabs) {
        if (ps.free > 0) {
          best = ps;
          break;
        }
      }
    }
    return best;
  }

  /** Takes back the slots the reader released (it stored their generation); returns how many. */
  reclaim(): number {
    let n = 0;
    for (const slabs of this.#classes.values()) {
      for (const ps of slabs) {
        if (ps.free === ps.slab.slotCount) continue;
        for (let i = 0; i < ps.slab.slotCount; i++) {
          if (ps.state[i] === SENT && ps.slab.releasedGen(i) === ps.gen[i]) {
            ps.state[i] = FREE;
            ps.free++;
            this.#stats.inFlight -= ps.size[i]!;
            n++;
          }
        }
      }
    }
    if (n > 0) {
      this.version++;
      this.#publishStats();
    }
    return n;
  }

  /**
   * The reader died: every sent slot comes back. The caller holds the
   * reader's lock, so no reader can take a descriptor meanwhile; the new
   * epoch tells a later reader to skip the descriptors sent before.
   */
  revokeSent(): number {
    let n = 0;
    for (const slabs of this.#classes.values()) {
      for (const ps of slabs) {
        for (let i = 0; i < ps.slab.slotCount; i++) {
          if (ps.state[i] !== SENT) continue;
          ps.state[i] = FREE;
          ps.free++;
          this.#stats.inFlight -= ps.size[i]!;
          n++;
        }
      }
    }
    Atomics.store(this.#hdr, L.epoch, (this.epoch + 1) | 0);
    this.version++;
    this.#publishStats();
    return n;
  }

  /** Whether any slot is sent and not yet reclaimed (so waiting for the reader can help). */
  get hasInFlight(): boolean {
    for (const slabs of this.#classes.values()) for (const ps of slabs) for (const st of ps.state) if (st === SENT) return true;
    return false;
  }

  /** A new slab of class `cls`, making room under maxBytes by retiring free slabs of other classes; null if there is none. */
  #grow(cls: number): PoolSlab | null {
    const s = this.#stats;
    let n = slotsPerSlab(cls);
    if (s.bytes + cls * n > this.maxBytes) {
      this.reclaim();
      this.#retireFree(cls, s.bytes + cls * n - this.maxBytes);
      n = Math.min(n, Math.floor((this.maxBytes - s.bytes) / cls));
      if (n < 1) return null;
    }
    let slab: Slab | null = null;
    for (let attempt = 0; slab === null; attempt++) {
      try {
        slab = Slab.create(this.#ring, this.#nextIndex++, cls, n);
      } catch (e) {
        const code = (e as { code?: string }).code;
        // A name taken: names derive from the ring's secret slab key, so only
        // by a leftover of this ring's owner (another user cannot predict
        // them): the next index. /dev/shm full:
        // give back every free slab and try once more.
        if (code === "EEXIST" && attempt < 64) continue;
        if (code === "ENOSPC" && attempt === 0 && this.#retireFree(-1, Infinity) > 0) continue;
        throw e;
      }
    }
    const ps = new PoolSlab(slab);
    let list = this.#classes.get(cls);
    if (list === undefined) this.#classes.set(cls, (list = []));
    list.push(ps);
    s.slabs++;
    s.slots += n;
    s.bytes += cls * n;
    s.slabsCreated++;
    this.#publishStats();
    return ps;
  }

  /** Retires free slabs, least recently used first, until at most `keepBytes` remain; returns bytes given back. */
  trim(keepBytes: number): number {
    this.reclaim();
    return this.#retireFree(-1, this.#stats.bytes - keepBytes);
  }

  /** Retires slabs with every slot free (not of class `keep`), least recently used first, until `need` bytes are freed; returns bytes freed. */
  #retireFree(keep: number, need: number): number {
    const idle: PoolSlab[] = [];
    for (const [cls, slabs] of this.#classes) {
      if (cls === keep) continue;
      for (const ps of slabs) if (ps.free === ps.slab.slotCount) idle.push(ps);
    }
    idle.sort((a, b) => a.lastUse - b.lastUse);
    let freed = 0;
    for (const ps of idle) {
      if (freed >= need) break;
      const bytes = ps.slab.slotSize * ps.slab.slotCount;
      const list = this.#classes.get(ps.slab.slotSize)!;
      list.splice(list.indexOf(ps), 1);
      if (list.length === 0) this.#classes.delete(ps.slab.slotSize);
      ps.slab.retire();
      const s = this.#stats;
      s.slabs--;
      s.slots -= ps.slab.slotCount;
      s.bytes -= bytes;
      freed += bytes;
    }
    if (freed > 0) this.#publishStats();
    return freed;
  }

  #publishStats(): void {
    const h = this.#hdr;
    const s = this.#stats;
    if (this.#closed) return;
    h[L.slabs] = s.slabs;
    h[L.slots] = s.slots;
    storeU64(h, L.bytes, s.bytes);
    storeU64(h, L.sent, s.loansSent);
    storeU64(h, L.loaned, s.loaned);
    storeU64(h, L.inFlight, s.inFlight);
  }

  /**
   * Detaches every loan the user still has and removes the slabs (the
   * reader keeps its mappings). A slab with a loan in flight that the reader
   * has not mapped yet keeps its name until it has (or released it), for at
   * most lingerMs: the reader must still be able to attach it.
   */
  close(readerGone = false): void {
    if (this.#closed) return;
    for (const rec of this.#out) this.#detach(rec);
    this.#out.clear();
    this.#closed = true;
    let lingering: PoolSlab[] = [];
    for (const slabs of this.#classes.values()) {
      for (const ps of slabs) {
        if (needsName(ps) && this.#lingerMs > 0 && !readerGone) lingering.push(ps);
        else if (inFlight(ps)) ps.slab.close(); // not "retired": descriptors of it may still be unread
        else ps.slab.retire();
      }
    }
    this.#classes.clear();
    if (lingering.length === 0) return;
    const until = performance.now() + this.#lingerMs;
    const timer = setInterval(() => {
      const over = performance.now() >= until;
      lingering = lingering.filter((ps) => {
        if (!over && needsName(ps)) return true;
        ps.slab.close();
        return false;
      });
      if (lingering.length === 0) clearInterval(timer);
    }, LINGER_POLL_MS);
  }
}

/** Whether a loan in the slab was sent and not yet released. */
function inFlight(ps: PoolSlab): boolean {
  for (let i = 0; i < ps.slab.slotCount; i++) {
    if (ps.state[i] === SENT && ps.slab.releasedGen(i) !== ps.gen[i]) return true;
  }
  return false;
}

/** Whether a closed pool must keep a slab's name: a loan in it is in flight and the reader has not mapped the slab. */
function needsName(ps: PoolSlab): boolean {
  return !ps.slab.readerAttached && inFlight(ps);
}
