// Size classes of the loan pool. A loan takes a slot of the smallest class
// that holds it: powers of two from 4 KiB to 16 KiB, then four classes per
// power of two (2^k times 1, 1.25, 1.5, 1.75), so a slot wastes at most a
// quarter of its size (a 100 MB cloud takes a 96 MiB + 4 MiB... slot of
// 100,663,296 bytes, not 128 MiB). Every class is a multiple of the page
// size, so every slot starts on a page boundary.
import { MAX_SLOTS } from "../core/layout.js";
import { MAX_DATA_SIZE } from "../core/segment.js";

export const PAGE = 4096;
/** Smallest slot. */
export const MIN_SLOT = PAGE;
/** Slots of a class are grouped into slabs (one segment each) of about this many bytes. */
export const SLAB_TARGET = 1 << 20;

/** Largest slot a slab can hold: the data region of the largest segment, in whole pages. */
export const MAX_SLOT = Math.floor(MAX_DATA_SIZE / PAGE) * PAGE;

/** The slot size (class) for a loan of `size` bytes (1 <= size <= MAX_SLOT). */
export function slotSizeFor(size: number): number {
  if (size <= MIN_SLOT) return MIN_SLOT;
  if (size <= 4 * PAGE) return size <= 2 * PAGE ? 2 * PAGE : 4 * PAGE;
  const base = 2 ** Math.floor(Math.log2(size - 1)); // largest power of two below size
  for (const q of [1.25, 1.5, 1.75, 2]) {
    const c = base * q;
    if (c >= size) return Math.min(c, MAX_SLOT);
  }
  return MAX_SLOT; // not reached: base * 2 >= size
}

/** Slots in one slab of slot size `slotSize`: 1 for slots of a MiB and more, up to MAX_SLOTS for small ones. */
export function slotsPerSlab(slotSize: number): number {
  return Math.max(1, Math.min(MAX_SLOTS, Math.floor(SLAB_TARGET / slotSize)));
}
