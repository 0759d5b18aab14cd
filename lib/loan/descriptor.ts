// The descriptor a LOAN frame carries (PROTOCOL.md section 3): which slot of
// which slab, its generation, the ring's loan epoch, and where the message's
// bytes are. Eight little-endian u32 words; offset and size are u64.
import { LOAN_DESCRIPTOR_SIZE } from "../core/layout.js";
import { loadU64, storeU64 } from "../core/u64.js";

export { LOAN_DESCRIPTOR_SIZE };

export interface Descriptor {
  slab: number;
  slot: number;
  gen: number;
  epoch: number;
  /** Byte offset of the message in the slab's data region. */
  offset: number;
  size: number;
  /** Offset or size is 2^52 or more (beyond exact doubles' comfort, and any slab): never valid, kept to be refused. */
  huge: boolean;
}

/** Writes a descriptor as the payload at int32 index `p` of `words`. */
export function writeDescriptor(words: Int32Array, p: number, d: Omit<Descriptor, "huge">): void {
  words[p] = d.slab;
  words[p + 1] = d.slot;
  words[p + 2] = d.gen | 0;
  words[p + 3] = d.epoch | 0;
  storeU64(words, p + 4, d.offset);
  storeU64(words, p + 6, d.size);
}

/** Reads each word once (they are in shared memory); the caller validates the copy. */
export function readDescriptor(words: Int32Array, p: number): Descriptor {
  const offset = loadU64(words, p + 4);
  const size = loadU64(words, p + 6);
  return {
    slab: words[p]! >>> 0,
    slot: words[p + 1]! >>> 0,
    gen: words[p + 2]! >>> 0,
    epoch: words[p + 3]! >>> 0,
    offset,
    size,
    huge: offset >= 2 ** 52 || size >= 2 ** 52,
  };
}
