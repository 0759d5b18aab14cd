// A subscriber's loans (docs/PROTOCOL.md §6.8): the hold it records in its
// held table before validating a LOAN frame, the slab mappings it keeps for
// reuse (a 100 MB slab's first mapping costs tens of ms; the next loans in
// it cost nothing), and a view per loan, detached at release.
import { HEADER_SIZE, OFFSETS } from "../core/layout.js";
import type { WaitLine } from "../core/notify.js";
import { Segment } from "../core/segment.js";
import { whenUnused } from "../loan/away.js";
import { attachSlabObject, MAX_SLAB_INDEX, readSlabKey, slabName } from "../loan/slab.js";
import { CONTROL, HELD_ENTRIES, LOAN_META, LOAN_PAYLOAD_OFFSET, LOAN_SLAB_MAGIC } from "./layout.js";

/** Slab mappings kept while no loan of ours is in them. */
const KEEP_MAPPED = 8;

interface Mapped {
  segment: Segment;
  meta: Int32Array;
  live: number; // views of ours not yet released
  lastUsed: number;
}

export class LoanViews {
  readonly #ring: Segment;
  readonly #held: BigUint64Array;
  readonly #writerLine: WaitLine;
  readonly #slabs = new Map<number, Mapped>();
  #closed = false;

  constructor(ring: Segment, held: BigUint64Array, writerLine: WaitLine) {
    this.#ring = ring;
    this.#held = held;
    this.#writerLine = writerLine;
  }

  /** Records a hold of (slab, gen) in a free entry (seq_cst); -1 when the table is full. */
  hold(slab: number, gen: number): number {
    const key = BigInt((slab + 1) >>> 0) | (BigInt(gen >>> 0) << 32n);
    for (let i = 0; i < HELD_ENTRIES; i++) {
      if (Atomics.load(this.#held, i) === 0n) {
        Atomics.store(this.#held, i, key);
        return i;
      }
    }
    return -1;
  }

  unhold(entry: number): void {
    Atomics.store(this.#held, entry, 0n);
  }

  /** The view a validated, held LOAN frame names, or why it is corrupt. */
  view(entry: number, slab: number, gen: number, size: number): { data: Uint8Array; release: () => void } | { gone: string } | string {
    if (slab > MAX_SLAB_INDEX || gen === 0 || size < 1) return `LOAN frame: slab ${slab}, generation ${gen}, size ${size}`;
    let m = this.#slabs.get(slab);
    if (m === undefined) {
      // Read only now, after a LOAN frame (ordered after the key's store by write_pos).
      const key = readSlabKey(this.#ring, this.#ring.dataOffset + CONTROL.slab_key);
      if (key === null) return `LOAN frame names slab ${slab}, but the ring has no slab key`;
      let seg: Segment;
      try {
        seg = attachSlabObject(slabName(key, slab), this.#ring, {});
      } catch (e) {
        // Gone: the writer removed it before we mapped it (it closed, lingered
        // lingerMs, or exited): ENOENT, not a corruption. Also ENOENT: an
        // object of another uid, or one open to group/other (a forgery).
        if ((e as { code?: string }).code === "ENOENT") return { gone: `the loan's slab ${slab} was removed by the writer before this subscriber mapped it` };
        return `LOAN frame names slab ${slab}, which cannot be mapped (${(e as Error).message})`;
      }
      const ours = new Int32Array(this.#ring.buffer, 0, 16);
      const theirs = new Int32Array(seg.buffer, 0, 16);
      const o = OFFSETS.owner_pid >> 2;
      const t = OFFSETS.owner_start_time >> 2;
      if (seg.size < LOAN_PAYLOAD_OFFSET || theirs[o] !== ours[o] || theirs[t] !== ours[t] || theirs[t + 1] !== ours[t + 1]) {
        seg.close();
        return `slab ${slab} is not the writer's (owner or size)`;
      }
      m = { segment: seg, meta: new Int32Array(seg.buffer, seg.dataOffset, 16), live: 0, lastUsed: 0 };
      this.#slabs.set(slab, m);
      this.#trim(slab);
    }
    if (Atomics.load(m.meta, LOAN_META.magic >> 2) !== LOAN_SLAB_MAGIC) return `slab ${slab}: no loan slab magic`;
    // The hold was seen by the writer (or the frame would not have validated): the generation cannot move now.
    if (Atomics.load(m.meta, LOAN_META.gen >> 2) >>> 0 !== gen >>> 0) return `slab ${slab}: generation ${Atomics.load(m.meta, LOAN_META.gen >> 2) >>> 0}, the frame says ${gen}`;
    if (size > m.segment.size - LOAN_PAYLOAD_OFFSET) return `loan of ${size} bytes in a slab of ${m.segment.size - LOAN_PAYLOAD_OFFSET}`;
    const mapped = m;
    const ab = mapped.segment.handle.view(HEADER_SIZE + LOAN_PAYLOAD_OFFSET, size);
    mapped.live++;
    mapped.lastUsed = performance.now();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      mapped.live--;
      if (this.#closed || mapped.segment.closed) return;
      // Given back once no buffer a transfer moved the memory to holds it (away.ts).
      whenUnused(mapped.segment.handle, mapped.segment.handle.detachView(ab), () => {
        if (this.#closed) return;
        this.unhold(entry);
        this.#writerLine.notify();
      });
    };
    return { data: new Uint8Array(ab), release };
  }

  /** Unmaps slabs none of our loans is in, beyond KEEP_MAPPED, least recently used first; never `keep` (the one being mapped). */
  #trim(keep: number): void {
    if (this.#slabs.size <= KEEP_MAPPED) return;
    const idle = [...this.#slabs].filter(([i, m]) => m.live === 0 && i !== keep).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [i, m] of idle.slice(0, this.#slabs.size - KEEP_MAPPED)) {
      m.segment.close();
      this.#slabs.delete(i);
    }
  }

  /** Detaches every view (they read as length 0), unmaps, clears the holds. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.#slabs.values()) m.segment.close();
    this.#slabs.clear();
    for (let i = 0; i < HELD_ENTRIES; i++) Atomics.store(this.#held, i, 0n);
  }
}
