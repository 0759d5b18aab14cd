// The descriptor a LOAN frame carries (PROTOCOL.md section 3): which slot of
// which slab, its generation, the ring's loan epoch, and where the message's
// bytes are. Eight little-endian u32 words; offset and size are u64.
import { LOAN_DESCRIPTOR_SIZE } from "../core/layout.js";

export { LOAN_DESCRIPTOR_SIZE };

export interface Descriptor {
  slab: number;
  slot: number;
  gen: number;
  epoch: number;
  /** Byte offset of the message in the slab's data region. */
  offset: number;
  size: number;
  /** High words of offset and size exceed 2^20 (beyond 2^52): never valid, kept to be refused. */
  huge: boolean;
}

const TWO32 = 0x1_0000_0000;

/** Writes a descriptor as the payload at int32 index `p` of `words`. */
export function writeDescriptor(words: Int32Array, p: number, d: Omit<Descriptor, "huge">): void {
  words[p] = d.slab;
  words[p + 1] = d.slot;
  words[p + 2] = d.gen | 0;
  words[p + 3] = d.epoch | 0;
  words[p + 4] = d.offset % TWO32 | 0;
  words[p + 5] = Math.floor(d.offset / TWO32);
  words[p + 6] = d.size % TWO32 | 0;
  words[p + 7] = Math.floor(d.size / TWO32);
}

/** Reads each word once (they are in shared memory); the caller validates the copy. */
export function readDescriptor(words: Int32Array, p: number): Descriptor {
  const offHi = words[p + 5]! >>> 0;
  const sizeHi = words[p + 7]! >>> 0;
  return {
    slab: words[p]! >>> 0,
    slot: words[p + 1]! >>> 0,
    gen: words[p + 2]! >>> 0,
    epoch: words[p + 3]! >>> 0,
    offset: (words[p + 4]! >>> 0) + offHi * TWO32,
    size: (words[p + 6]! >>> 0) + sizeHi * TWO32,
    huge: offHi > 0x10_0000 || sizeHi > 0x10_0000,
  };
}
