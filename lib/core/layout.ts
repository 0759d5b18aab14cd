// The version-1 shared-memory layout, mirrored from csrc/core/layout.h (the
// contract). test/core/layout.test.ts checks every offset against the addon's
// exported table, so the two languages cannot drift. Byte-level prose:
// docs/PROTOCOL.md section 1.

export const MAGIC = 0x48534d53; // bytes "SMSH"
export const LAYOUT_VERSION = 1;
export const HEADER_SIZE = 4096;
export const LINE_SIZE = 128;
export const TOKEN_SIZE = 16;

export const KIND_PLAIN = 0;
export const KIND_RING = 1;
/** A loan pool slab: equal slots lent by a ring's writer (PROTOCOL.md section 3). */
export const KIND_POOL = 2;

export const SIDE_ABSENT = 0;
export const SIDE_OPEN = 1;
export const SIDE_CLOSED = 2;

/** header.flags: liveness is kept with OFD locks on the bytes below (csrc/core/layout.h). */
export const FLAG_LOCKS = 1;
/** Held (OFD write lock) by the creator while it lives. */
export const OWNER_LOCK_BYTE = 0;
/** Held by a channel's reader while it lives. */
export const READER_LOCK_BYTE = 1;

/** Bits of a wait line's `waiting` word. */
export const WAIT_FUTEX = 1;
export const WAIT_DOORBELL = 2;

/** Largest ring capacity (u32 indices, `used` fits in 31 bits). */
export const MAX_CAPACITY = 2 ** 31;
/** Largest segment this build maps. */
export const MAX_SEGMENT_SIZE = 2 ** 40;
/** Longest segment name (macOS: 31 bytes including the leading '/'). */
export const MAX_NAME_LENGTH = 30;

/** Byte offsets of the header fields. u32 unless noted. */
export const OFFSETS = {
  magic: 0,
  version: 4,
  header_size: 8,
  kind: 12,
  segment_size: 16, // u64
  data_size: 24, // u64
  capacity: 32,
  flags: 36,
  owner_pid: 40,
  owner_start_time: 48, // u64
  created_ns: 56, // u64
  token: 64, // 16 bytes
  peer_nonce: 80, // 16 bytes
  writer_state: 128,
  reader_state: 132,
  reader_pid: 136,
  reader_start_time: 144, // u64
  write_index: 256,
  messages_written: 264, // u64
  bytes_written: 272, // u64
  writer_waits: 280, // u64
  wakeups_sent: 288, // u64
  read_index: 384,
  messages_read: 392, // u64
  bytes_read: 400, // u64
  reader_wait: 512, // wait line
  writer_wait: 640, // wait line
  // Line 6 (768) of a ring: the writer's loan line.
  loan_epoch: 768,
  pool_slabs: 772,
  pool_bytes: 776, // u64
  loans_sent: 784, // u64
  bytes_loaned: 792, // u64
  bytes_in_flight: 800, // u64
  pool_slots: 808,
  // 8 secret bytes (the ring is 0600) that name the pool's slabs (PROTOCOL §3): written by the
  // ring's creator after magic, before its name is given out; never changed.
  slab_key: 816,
  // A ring made by a Peer (PROTOCOL §1): who it connects, UTF-8, NUL-padded; display only.
  peer_label: 2048, // PEER_LABEL_SIZE bytes
  // Line 6 (768) of a pool slab: its geometry; then its slot table.
  slot_size: 768, // u64
  slot_count: 776,
  slab_index: 780,
  ring_token: 784, // 16 bytes
  slab_retired: 800,
  slab_reader_attached: 804,
  slot_table: 1024, // slot_count entries of { u32 sent_gen, u32 released_gen }
} as const;

/** Bytes of a ring's slab_key (and of a broadcast ring's, PROTOCOL §6.1). */
export const SLAB_KEY_SIZE = 8;

/** Bytes of a ring's peer_label. */
export const PEER_LABEL_SIZE = 256;

/** Most slots one pool slab holds (its slot table's entries). */
export const MAX_SLOTS = 64;
/** Bytes of a LOAN frame's payload (the descriptor). */
export const LOAN_DESCRIPTOR_SIZE = 32;

export type HeaderField = keyof typeof OFFSETS;

/** Wait lines are reader_wait (FIRST_WAIT_LINE) and writer_wait (LAST_WAIT_LINE), nothing else. */
export const FIRST_WAIT_LINE = 512;
export const LAST_WAIT_LINE = 640;

/** Offsets inside a wait line. */
export const WAIT_LINE = { seq: 0, waiting: 4 } as const;
