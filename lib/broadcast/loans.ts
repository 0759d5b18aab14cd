// Loans of a broadcast writer (docs/PROTOCOL.md §6.8): slabs of one slot
// each, size-classed as the channel's pool (lib/loan/classes.ts), created
// prefaulted and reused. A LOAN frame names a slab and a generation; each
// subscriber that takes the loan records a hold in its own cursor segment;
// the writer frees a slab when every subscriber has passed the frame (or
// can no longer read it) and none holds it. The reference count is the
// writer's own reading of the holds: a subscriber can only free its own.
import { HEADER_SIZE } from "../core/layout.js";
import { Segment } from "../core/segment.js";
import { shmError } from "../core/errors.js";
import { slotSizeFor } from "../loan/classes.js";
import { MAX_SLAB_INDEX, slabName } from "../loan/slab.js";
import { LOAN_META, LOAN_SLAB_MAGIC, LOAN_PAYLOAD_OFFSET } from "./layout.js";

/** One slab: its segment, the generation of its current loan, and where that loan's frame is. */
export class LoanSlab {
  readonly index: number;
  readonly segment: Segment;
  readonly slotSize: number;
  readonly #meta: Int32Array;
  gen = 0;
  /** "free", "loaned" (the user fills it), "sent" (its LOAN frame is at `framePos`). */
  state: "free" | "loaned" | "sent" = "free";
  framePos = -1;
  lastUsed = 0;

  constructor(slabKey: string, index: number, slotSize: number) {
    if (index > MAX_SLAB_INDEX) throw shmError("ENOSPC", `the loan pool has used up its ${MAX_SLAB_INDEX} slab names`);
    this.index = index;
    this.slotSize = slotSize;
    this.segment = Segment.create({ size: LOAN_PAYLOAD_OFFSET + slotSize, name: slabName(slabKey, index), prefault: true });
    this.#meta = new Int32Array(this.segment.buffer, this.segment.dataOffset, 16);
    this.#meta[LOAN_META.slot_size >> 2] = slotSize;
    Atomics.store(this.#meta, LOAN_META.magic >> 2, LOAN_SLAB_MAGIC);
  }

  /** Hands the slot out under a new generation (stored before any frame names it). */
  take(): number {
    this.gen = (this.gen + 1) >>> 0 || 1;
    Atomics.store(this.#meta, LOAN_META.gen >> 2, this.gen);
    this.state = "loaned";
    this.framePos = -1;
    return this.gen;
  }

  /** A view of `size` bytes of the slot, an ArrayBuffer of its own (detached at send). */
  view(size: number): ArrayBuffer {
    return this.segment.handle.view(HEADER_SIZE + LOAN_PAYLOAD_OFFSET, size);
  }

  close(): void {
    this.segment.close();
  }
}

/** The writer's slabs, by index; finds a free one of a class or makes one within maxBytes. */
export class LoanSlabs {
  readonly #key: string;
  readonly #maxBytes: number;
  readonly slabs = new Map<number, LoanSlab>();
  #next = 0;
  #bytes = 0;

  /** `slabKey`: hex of the ring's secret slab_key (PROTOCOL.md §6.8). */
  constructor(slabKey: string, maxBytes: number) {
    this.#key = slabKey;
    this.#maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * A free slab for `size` bytes: of its class, or up to twice it; else a
   * new one if maxBytes allows (retiring free slabs of other classes to make
   * room); null when every slab is busy. `isFree` decides for sent ones.
   */
  acquire(size: number, isFree: (s: LoanSlab) => boolean): LoanSlab | null {
    const cls = slotSizeFor(size);
    let best: LoanSlab | null = null;
    for (const s of this.slabs.values()) {
      if (s.slotSize < cls || s.slotSize > 2 * cls || (best !== null && s.slotSize >= best.slotSize)) continue;
      if (s.state === "loaned") continue;
      if (s.state === "sent") {
        if (!isFree(s)) continue;
        s.state = "free";
      }
      best = s;
    }
    if (best !== null) return best;
    if (this.#bytes + cls > this.#maxBytes) this.#retire(this.#bytes + cls - this.#maxBytes, isFree);
    if (this.#bytes + cls > this.#maxBytes) {
      if (this.slabs.size === 0) throw shmError("ENOSPC", `a loan of ${size} bytes needs a ${cls}-byte slot, more than maxLoanBytes (${this.#maxBytes})`);
      return null;
    }
    // A taken name can only be a leftover of the ring owner's (the key is
    // secret): skip it, as the channel's pool does.
    let s: LoanSlab | null = null;
    for (let attempt = 0; s === null; attempt++) {
      try {
        s = new LoanSlab(this.#key, this.#next++, cls);
      } catch (e) {
        if ((e as { code?: string }).code === "EEXIST" && attempt < 64) continue;
        throw e;
      }
    }
    this.slabs.set(s.index, s);
    this.#bytes += cls;
    return s;
  }

  /** Removes free slabs, least recently used first, until `need` bytes are freed. */
  #retire(need: number, isFree: (s: LoanSlab) => boolean): void {
    const idle = [...this.slabs.values()].filter((s) => s.state === "free" || (s.state === "sent" && isFree(s))).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const s of idle) {
      if (need <= 0) break;
      this.slabs.delete(s.index);
      this.#bytes -= s.slotSize;
      need -= s.slotSize;
      s.close();
    }
  }

  close(): void {
    for (const s of this.slabs.values()) s.close();
    this.slabs.clear();
    this.#bytes = 0;
  }
}
