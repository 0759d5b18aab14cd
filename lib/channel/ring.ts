// Framing of the SPSC byte ring (docs/PROTOCOL.md section 2). A frame is
// [u32 length][u32 type] followed by `length` payload bytes, padded to a
// multiple of 8. Frames are always contiguous: when one does not fit before
// the end of the data region, the writer fills the rest with a PAD frame and
// wraps to offset 0.

/** Bytes of a frame header. */
export const FRAME_HEADER = 8;
/** Frame alignment: every frame starts at a multiple of 8. */
export const FRAME_ALIGN = 8;

/** Frame types. 0 is never valid, so zeroed memory reads as corruption. */
export const FRAME_DATA = 1;
export const FRAME_PAD = 2;
/** A loan: the payload is a 32-byte descriptor of bytes in a pool slab (lib/loan). */
export const FRAME_LOAN = 3;

/**
 * A request/reply envelope of a Peer (docs/PROTOCOL.md §7): the payload is
 * u32 kind, u32 id, then the message's bytes. A reader older than §7 meets
 * an unknown frame type and reports ECORRUPT.
 */
export const FRAME_ENVELOPE = 4;
/** An envelope whose body is a loan: u32 kind, u32 id, then a 32-byte loan descriptor (§3). */
export const FRAME_ENVELOPE_LOAN = 5;
/** Bytes of an envelope's kind and id, before its body. */
export const ENVELOPE_HEADER = 8;
/** Envelope kinds. */
export const ENVELOPE_REQUEST = 1;
export const ENVELOPE_REPLY = 2;
/** A failure on the serving side: the body is a UTF-8 message (never a loan). */
export const ENVELOPE_ERROR = 3;

/** Smallest ring capacity. */
export const MIN_CAPACITY = 1024;

/** Bytes a frame with an `n`-byte payload occupies. */
export function frameSize(n: number): number {
  return (n + FRAME_HEADER + FRAME_ALIGN - 1) & ~(FRAME_ALIGN - 1);
}

/**
 * Largest payload of one message: a quarter of the capacity, so a message
 * always fits once the reader has caught up, even when the writer has to
 * pad to the end first, and several large messages can be in flight.
 */
export function maxMessageSize(capacity: number): number {
  return capacity / 4 - FRAME_HEADER;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && Number.isInteger(Math.log2(n));
}
