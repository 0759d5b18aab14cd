// The reader's side of loans: attaches the writer's slabs on first use,
// validates every descriptor against what it attached and what it holds
// (a forged, stale or out-of-range descriptor is ECORRUPT, never a view of
// other memory), hands out a view with an ArrayBuffer of its own, and on
// release detaches it and gives the slot back by storing its generation
// (once no buffer a transfer moved the memory to holds it: away.ts).
import type { ShmError } from "../core/errors.js";
import { whenUnused } from "./away.js";
import type { Descriptor } from "./descriptor.js";
import { MAX_SLAB_INDEX, Slab, type RingIdentity } from "./slab.js";

/** A loan the reader holds: released exactly once. */
export interface HeldLoan {
  readonly slab: Slab;
  readonly slot: number;
  readonly gen: number;
  readonly buffer: ArrayBuffer;
  released: boolean;
}

/**
 * What a descriptor amounts to: a view; "revoked" (skip it); corruption
 * (what is wrong); or a slab that could not be attached for another reason
 * (ENOENT: gone with a dead writer, or never made; EMFILE, ENOMEM, ...).
 */
export type Verdict = { view: Uint8Array; loan: HeldLoan } | { revoked: true } | { corrupt: string } | { attachError: ShmError };

export class LoanReceiver {
  readonly #ring: RingIdentity;
  readonly #epoch: number;
  readonly #slabs = new Map<number, Slab>();
  readonly #held = new Map<number, HeldLoan>(); // key: slab * 64 + slot
  readonly #lastGen = new Map<number, number>();
  readonly #notifyWriter: () => void;

  /** `epoch`: the ring's loan epoch, read after taking the reader lock (it cannot change while we hold it). */
  constructor(ring: RingIdentity, epoch: number, notifyWriter: () => void) {
    this.#ring = ring;
    this.#epoch = epoch;
    this.#notifyWriter = notifyWriter;
  }

  /** Loans held now. */
  get held(): number {
    return this.#held.size;
  }

  /** Checks a descriptor read from the ring and returns the view it names, "revoked", or the error. */
  accept(d: Descriptor): Verdict {
    const bad = (what: string): Verdict => ({ corrupt: `loan descriptor ${describe(d)}: ${what}` });
    if (d.epoch !== this.#epoch) {
      // Sent before the writer revoked what a dead reader held: skip it.
      const behind = (this.#epoch - d.epoch) >>> 0;
      return behind < 0x8000_0000 ? { revoked: true } : bad(`epoch ${d.epoch} is ahead of the ring's ${this.#epoch}`);
    }
    if (d.slab > MAX_SLAB_INDEX) return bad("no such slab");
    let slab = this.#slabs.get(d.slab);
    if (slab === undefined) {
      try {
        slab = Slab.attach(this.#ring, d.slab);
      } catch (e) {
        const err = e as ShmError;
        if (err.code === "ECORRUPT" || err.code === "EVERSION") return bad(err.message);
        return { attachError: err };
      }
      if (slab.retired) {
        // Retired slabs hold no loan in flight: no valid descriptor names one.
        slab.close();
        return bad("its slab was retired by the writer");
      }
      this.#slabs.set(d.slab, slab);
      slab.markAttached();
    }
    if (d.slot >= slab.slotCount) return bad(`slot ${d.slot} is beyond the slab's ${slab.slotCount}`);
    const start = d.slot * slab.slotSize;
    if (d.huge || d.size > slab.slotSize || d.offset < start || d.offset - start > slab.slotSize - d.size) {
      return bad(`bytes [${d.offset}, +${d.size}) are not within slot ${d.slot} [${start}, +${slab.slotSize})`);
    }
    if (d.gen === 0 || slab.sentGen(d.slot) !== d.gen) return bad(`generation ${d.gen} is not the one sent (${slab.sentGen(d.slot)})`);
    const key = d.slab * 64 + d.slot;
    if (this.#held.has(key)) return bad("the slot is held already (its earlier message is not released)");
    const last = this.#lastGen.get(key);
    if (last !== undefined) {
      const ahead = (d.gen - last) >>> 0;
      if (ahead === 0 || ahead >= 0x8000_0000) return bad(`generation ${d.gen} was received already (last ${last})`);
    }
    const buffer = slab.view(d.offset, d.size);
    const loan: HeldLoan = { slab, slot: d.slot, gen: d.gen, buffer, released: false };
    this.#held.set(key, loan);
    this.#lastGen.set(key, d.gen);
    return { view: new Uint8Array(buffer), loan };
  }

  /**
   * Detaches the view and returns the slot to the writer; if a transfer moved
   * the memory to another buffer (a worker's), only once that one is gone
   * too (away.ts). Idempotent.
   */
  release(loan: HeldLoan): void {
    if (loan.released) return;
    loan.released = true;
    whenUnused(loan.slab.segment.handle, loan.slab.detach(loan.buffer), () => this.#giveBack(loan));
  }

  #giveBack(loan: HeldLoan): void {
    this.#held.delete(loan.slab.index * 64 + loan.slot);
    if (loan.slab.segment.closed) return;
    loan.slab.setReleasedGen(loan.slot, loan.gen);
    this.#notifyWriter();
    // Any slab the writer retired meanwhile (at its limit, or trimPool()),
    // not only this one's: its memory is freed only once we unmap it too.
    this.#closeRetired();
  }

  /**
   * Unmaps slabs the writer retired once nothing of them is held. The writer
   * retires only slabs with every slot free (released or never sent), so no
   * descriptor in the ring can name one.
   */
  #closeRetired(): void {
    for (const [i, slab] of this.#slabs) {
      if (!slab.retired) continue;
      let busy = false;
      for (const l of this.#held.values()) if (l.slab === slab) busy = true;
      if (busy) continue;
      slab.close();
      this.#slabs.delete(i);
    }
  }

  /** Releases everything held (views read as length 0) and unmaps the slabs. */
  close(): void {
    for (const loan of [...this.#held.values()]) this.release(loan);
    for (const slab of this.#slabs.values()) slab.close();
    this.#slabs.clear();
  }
}

function describe(d: Descriptor): string {
  return `{ slab ${d.slab}, slot ${d.slot}, gen ${d.gen}, offset ${d.offset}, size ${d.size} }`;
}
