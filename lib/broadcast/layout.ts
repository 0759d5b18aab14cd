// The broadcast ring's layout (docs/PROTOCOL.md §6). A broadcast ring is a
// plain segment (layout v1, kind 0) made by its one writer; its data region
// starts with a control block, then a table of subscriber slots, then the
// ring of frames. Each subscriber also owns a small plain segment of its own
// (its "cursor segment"): its read position, its counters, and, in that
// segment's header, the wait line it sleeps on. No native change: every
// wait line is a v1 line (reader_wait of a cursor segment, writer_wait of
// the ring), every liveness lock a v1 OFD lock on a header byte.
//
// Offsets below are relative to the data region (segment.dataOffset).

/** "SMBC" little-endian: a broadcast ring's control block starts with it. */
export const BROADCAST_MAGIC = 0x43424d53;
export const BROADCAST_VERSION = 1;

/** Control block (data offset 0, 256 bytes). u32 unless noted. */
export const CONTROL = {
  magic: 0,
  version: 4,
  capacity: 8, // ring bytes, power of two
  max_subscribers: 12, // slots in the table
  policy: 16, // POLICY_BLOCK | POLICY_DROP
  block_timeout_ms: 20,
  writer_state: 24, // WRITER_OPEN | WRITER_CLOSED (the writer stores it last at close)
  ring_offset: 28, // data offset of the ring (after the slot table, page-aligned)
  published_seq: 32, // u32: sequence number of the next message after write_pos (stored before write_pos)
  slab_key: 40, // 8 bytes, secret (the ring is 0600): names the loan slabs (§6.8); written before magic, never changed
  write_pos: 64, // u64: bytes published since creation; always a frame boundary
  claim_pos: 128, // u64: the writer may be writing anywhere below this
  // 192..255: writer statistics (u64 each, display only)
  messages_written: 192,
  bytes_written: 200,
  writer_waits: 208,
  evictions: 216,
} as const;
export const CONTROL_SIZE = 256;

export const POLICY_BLOCK = 1;
export const POLICY_DROP = 2;
export const WRITER_OPEN = 1;
export const WRITER_CLOSED = 2;

/** One subscriber slot (128 bytes each, from data offset CONTROL_SIZE). */
export const SLOT = {
  state: 0, // SLOT_* (the subscriber writes FREE/JOINING/ACTIVE/CLOSED; the writer ACTIVE->EVICTED and reclaims)
  epoch: 4, // +1 by each new claimant
  pid: 8,
  start_time: 16, // u64, clock ticks since boot (display, pidfd watch)
  evicted_seq: 24, // written by the writer at eviction: the sequence number it had reached
  cursor_name: 32, // the subscriber's cursor segment name, ASCII, NUL-padded (32 bytes)
} as const;
export const SLOT_SIZE = 128;
export const CURSOR_NAME_SIZE = 32;

export const SLOT_FREE = 0;
export const SLOT_JOINING = 1;
export const SLOT_ACTIVE = 2;
export const SLOT_EVICTED = 3;

/** Slot i's liveness lock: an OFD write lock on this byte of the ring's header, held by its subscriber. */
export const SLOT_LOCK_BASE = 256;
/** Most slots: their lock bytes must stay inside the header page's lock range we reserve (256..511). */
export const MAX_SUBSCRIBERS = 256;

/** The cursor segment's data region (written by its subscriber only). */
export const CURSOR = {
  position: 0, // u64: everything before it consumed (a frame boundary)
  messages: 8, // u64 delivered
  missed: 16, // u64 lost to laps (drop)
  topics_len: 24, // u32 bytes of `topics` (display only)
  topics: 64, // NUL-separated prefixes, up to 960 bytes (display only)
  held: 1024, // held-loan table: HELD_ENTRIES u64 words (slab index + 1) | (generation << 32); 0 = empty (§6.8)
} as const;
export const CURSOR_TOPICS_MAX = 960;
export const HELD_ENTRIES = 64;
export const HELD_ENTRY_SIZE = 8;
export const CURSOR_DATA_SIZE = 4096;

/** Frame header (16 bytes), frames 8-aligned, never wrapped. */
export const FRAME = {
  length: 0, // u32 bytes after the header: topic + body
  type: 4, // u16
  topic_len: 6, // u16
  seq: 8, // u32 message sequence number (PAD: the next message's)
  body_len: 12, // u32 bytes of body (length = topic_len + body_len)
} as const;
export const FRAME_HEADER = 16;
export const FRAME_DATA = 1;
export const FRAME_PAD = 2;
export const FRAME_LOAN = 3;
export const MAX_TOPIC = 65535;

export const MIN_CAPACITY = 4096;
export const MAX_BROADCAST_CAPACITY = 2 ** 30;
export const DEFAULT_CAPACITY = 1 << 20;
export const DEFAULT_MAX_SUBSCRIBERS = 64;
export const DEFAULT_BLOCK_TIMEOUT_MS = 5000;

/** Largest frame: a quarter of the ring (the rest goes as a loan). */
export function maxFrame(capacity: number): number {
  return capacity / 4;
}

export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Data offset of the ring for `maxSubscribers` slots: control + table, rounded up to a page. */
export function ringOffset(maxSubscribers: number): number {
  return Math.ceil((CONTROL_SIZE + maxSubscribers * SLOT_SIZE) / 4096) * 4096;
}

/** LOAN frame body (32 bytes): which slab, its generation, the message's size. */
export const LOAN_BODY = {
  slab: 0, // u32 slab index (the slab's name: "smsh-<16 hex of the ring's slab_key>.<index>")
  gen: 4, // u32 generation (never 0)
  size: 8, // u64 bytes of the message, at LOAN_PAYLOAD_OFFSET of the slab's data region
  // 16..31 reserved, 0
} as const;
export const LOAN_BODY_SIZE = 32;

/** A broadcast loan slab: a plain segment; its data region starts with this page, then the payload. */
export const LOAN_SLAB_MAGIC = 0x4c424d53; // "SMBL"
export const LOAN_META = {
  magic: 0,
  gen: 4, // the generation of the loan the slot holds now (stored before the LOAN frame)
  slot_size: 8, // payload bytes
} as const;
export const LOAN_PAYLOAD_OFFSET = 4096;
export const DEFAULT_MAX_LOAN_BYTES = 2 ** 30;
