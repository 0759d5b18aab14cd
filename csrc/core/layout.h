// The shared-memory layout, version 1. This header is the contract between
// every process (and every language) that maps a segment: lib/core/layout.ts
// mirrors it, the addon exports these offsets and a test compares the two.
// docs/PROTOCOL.md section 1 describes the same bytes in prose.
//
// All multi-byte fields are little-endian (the only byte order we build for;
// see the static_assert below) and naturally aligned. Fields that two
// processes write concurrently sit on their own 128-byte line, so neither
// false sharing nor adjacent-line prefetch couples the writer and the reader.
#pragma once

#include <cstddef>
#include <cstdint>

namespace smsh {

// "SMSH" in memory order: bytes 'S' 'M' 'S' 'H'.
constexpr uint32_t kMagic = 0x48534D53u;
// "SMSX": a removed segment where a name cannot be removed while the object
// lives (Windows: Segment::Unlink stores it over kMagic). Attach and inspect
// treat it as ENOENT; processes that have the segment open go on using it.
constexpr uint32_t kMagicRemoved = 0x58534D53u;
constexpr uint32_t kLayoutVersion = 1;
constexpr uint32_t kHeaderSize = 4096;  // page 0; data starts on page 1
constexpr uint32_t kLineSize = 128;     // spacing of concurrently written lines
constexpr uint32_t kTokenSize = 16;

// Segment kinds (header.kind).
constexpr uint32_t kKindPlain = 0;  // a plain data region (bulk buffers)
constexpr uint32_t kKindRing = 1;   // data region is a SPSC byte ring
constexpr uint32_t kKindPool = 2;   // a loan pool slab: equal slots lent by a ring's writer

// Side states (header.writer_state / header.reader_state).
constexpr uint32_t kSideAbsent = 0;
constexpr uint32_t kSideOpen = 1;
constexpr uint32_t kSideClosed = 2;

// Bits of header.flags.
// kFlagLocks: liveness is kept with open-file-description locks (fcntl
// F_OFD_SETLK, write locks on single bytes of the object): the creator holds
// kOwnerLockByte while it lives, a channel's reader holds kReaderLockByte.
// The kernel drops a lock when its holder dies, in any PID namespace, so
// "lock not held" means "gone" without trusting pids. Without this flag a
// reader of the header falls back to owner_pid + owner_start_time.
constexpr uint32_t kFlagLocks = 1u;
constexpr uint32_t kOwnerLockByte = 0;
constexpr uint32_t kReaderLockByte = 1;

// Bits of a wait line's `waiting` word: how the sleeper wants to be woken.
constexpr uint32_t kWaitFutex = 1u;     // a thread sleeps in FUTEX_WAIT on seq
constexpr uint32_t kWaitDoorbell = 2u;  // an event loop polls the doorbell socket

// Free-running u32 indices: write_index and read_index count bytes since
// creation and wrap at 2^32. used = (write_index - read_index) mod 2^32,
// position in the data region = index & (capacity - 1). Capacity is a power
// of two no larger than 2^31, so `used` never overflows and JavaScript reads
// the indices as Int32 with `>>> 0` and no BigInt.

// One eventcount: the sleeper reads seq, sets waiting, re-checks its
// condition, then sleeps while seq is unchanged; the waker changes state,
// then, if it exchanges a non-zero `waiting` for 0, increments seq and wakes.
struct WaitLine {
  uint32_t seq;       // +0   futex word, incremented by the waker
  uint32_t waiting;   // +4   kWait* bits set by the sleeper, taken (set 0) by its waker
  uint32_t sleepers;  // +8   Windows only: threads inside the wait (futex_win.cc); 0 on Linux
  uint8_t pad[kLineSize - 12];
};

struct Header {
  // ---- line 0: identity, written once by the creator before `magic` ----
  uint32_t magic;             // 0   kMagic, stored last (release) at creation
  uint32_t version;           // 4   kLayoutVersion
  uint32_t header_size;       // 8   kHeaderSize
  uint32_t kind;              // 12  kKind*
  uint64_t segment_size;      // 16  whole mapping: header + data
  uint64_t data_size;         // 24  bytes after the header
  uint32_t capacity;          // 32  ring capacity (power of two) or 0
  uint32_t flags;             // 36  kFlag* bits
  uint32_t owner_pid;         // 40  creator's pid (display; see start time)
  uint32_t reserved0;         // 44
  uint64_t owner_start_time;  // 48  creator's start time, clock ticks since boot
  uint64_t created_ns;        // 56  CLOCK_REALTIME at creation, nanoseconds
  uint8_t token[kTokenSize];  // 64  random; names the doorbell sockets
  uint8_t peer_nonce[kTokenSize];  // 80  random, by a control-plane creator (PROTOCOL §4): never in a name or on a socket
  uint8_t pad0[kLineSize - 96];

  // ---- line 1: the two sides' states ----
  uint32_t writer_state;      // 128 kSide*
  uint32_t reader_state;      // 132 kSide*
  uint32_t reader_pid;        // 136 attached reader's pid, 0 if none
  uint32_t reserved1;         // 140
  uint64_t reader_start_time; // 144
  uint8_t pad1[kLineSize - 24];

  // ---- line 2: writer-owned ----
  uint32_t write_index;       // 256 free-running byte counter
  uint32_t reserved2;         // 260
  uint64_t messages_written;  // 264
  uint64_t bytes_written;     // 272
  uint64_t writer_waits;      // 280 times the writer waited for space
  uint64_t wakeups_sent;      // 288 wakes the writer sent to the reader
  uint8_t pad2[kLineSize - 40];

  // ---- line 3: reader-owned ----
  uint32_t read_index;        // 384 free-running byte counter
  uint32_t reserved3;         // 388
  uint64_t messages_read;     // 392
  uint64_t bytes_read;        // 400
  uint8_t pad3[kLineSize - 24];

  WaitLine reader_wait;       // 512 reader sleeps here (ring empty)
  WaitLine writer_wait;       // 640 writer sleeps here (ring full)

  uint8_t pad_rest[kHeaderSize - 768];
};

static_assert(sizeof(Header) == kHeaderSize, "header is exactly one page");
static_assert(sizeof(WaitLine) == kLineSize, "wait line is one line");
static_assert(offsetof(Header, magic) == 0, "layout v1");
static_assert(offsetof(Header, version) == 4, "layout v1");
static_assert(offsetof(Header, header_size) == 8, "layout v1");
static_assert(offsetof(Header, kind) == 12, "layout v1");
static_assert(offsetof(Header, segment_size) == 16, "layout v1");
static_assert(offsetof(Header, data_size) == 24, "layout v1");
static_assert(offsetof(Header, capacity) == 32, "layout v1");
static_assert(offsetof(Header, flags) == 36, "layout v1");
static_assert(offsetof(Header, owner_pid) == 40, "layout v1");
static_assert(offsetof(Header, owner_start_time) == 48, "layout v1");
static_assert(offsetof(Header, created_ns) == 56, "layout v1");
static_assert(offsetof(Header, token) == 64, "layout v1");
static_assert(offsetof(Header, peer_nonce) == 80, "layout v1");
static_assert(offsetof(Header, writer_state) == 128, "layout v1");
static_assert(offsetof(Header, reader_state) == 132, "layout v1");
static_assert(offsetof(Header, reader_pid) == 136, "layout v1");
static_assert(offsetof(Header, reader_start_time) == 144, "layout v1");
static_assert(offsetof(Header, write_index) == 256, "layout v1");
static_assert(offsetof(Header, messages_written) == 264, "layout v1");
static_assert(offsetof(Header, bytes_written) == 272, "layout v1");
static_assert(offsetof(Header, writer_waits) == 280, "layout v1");
static_assert(offsetof(Header, wakeups_sent) == 288, "layout v1");
static_assert(offsetof(Header, read_index) == 384, "layout v1");
static_assert(offsetof(Header, messages_read) == 392, "layout v1");
static_assert(offsetof(Header, bytes_read) == 400, "layout v1");
static_assert(offsetof(Header, reader_wait) == 512, "layout v1");
static_assert(offsetof(Header, writer_wait) == 640, "layout v1");
static_assert(offsetof(WaitLine, seq) == 0, "layout v1");
static_assert(offsetof(WaitLine, waiting) == 4, "layout v1");
static_assert(offsetof(Header, write_index) % kLineSize == 0, "own line");
static_assert(offsetof(Header, read_index) % kLineSize == 0, "own line");
static_assert(offsetof(Header, reader_wait) % kLineSize == 0, "own line");
static_assert(offsetof(Header, writer_wait) % kLineSize == 0, "own line");

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "layout v1 is little-endian; a big-endian port needs byte swaps"
#endif

// Where wait lines may be: reader_wait and writer_wait, nothing else. The
// `waiting` word of a "line" at offset 0 would overwrite the magic, one at
// 256 the write index, one at 768 the loan line.
constexpr uint32_t kFirstWaitLineOffset = offsetof(Header, reader_wait);
constexpr uint32_t kLastWaitLineOffset = offsetof(Header, writer_wait);
constexpr bool IsWaitLineOffset(uint64_t offset) {
  return offset >= kFirstWaitLineOffset && offset <= kLastWaitLineOffset && offset % kLineSize == 0;
}
static_assert(IsWaitLineOffset(offsetof(Header, writer_wait)), "writer_wait is a wait line");

// ---- Loans (PROTOCOL.md section 3) ----
// The header's line 6 (offset 768) has a meaning per kind: in a ring, the
// writer's loan line; in a pool slab, the slab's geometry. The rest of the
// page after it is reserved in a ring; in a slab it holds the slot table.
constexpr uint32_t kLoanLineOffset = 768;

// A ring's loan line: written by the ring's writer only.
struct LoanLine {
  uint32_t loan_epoch;       // 768 descriptors of another epoch were revoked (reader death)
  uint32_t pool_slabs;       // 772 statistic: slabs the pool holds
  uint64_t pool_bytes;       // 776 statistic: bytes of slot memory the pool holds
  uint64_t loans_sent;       // 784 statistic: loan descriptors published
  uint64_t bytes_loaned;     // 792 statistic: bytes lent to the writer's user, not yet sent
  uint64_t bytes_in_flight;  // 800 statistic: bytes sent and not yet seen released
  uint32_t pool_slots;       // 808 statistic: slots the pool holds
  uint32_t reserved;         // 812
  uint8_t slab_key[8];       // 816 secret (the ring is 0600): names the pool's slabs; written by the creator
                             //     after magic, before the ring's name is given out; never changed
};
static_assert(sizeof(LoanLine) == 56, "loan line");
constexpr uint32_t kSlabKeySize = 8;

// A pool slab's geometry: written by its creator right after creation and
// before any descriptor naming the slab is published; never changed.
struct PoolLine {
  uint64_t slot_size;            // 768 bytes per slot, a multiple of 4096
  uint32_t slot_count;           // 776 1..kMaxSlots
  uint32_t slab_index;           // 780 the index its name carries
  uint8_t ring_token[kTokenSize];  // 784 the token of the ring whose writer lends it
  uint32_t retired;              // 800 set to 1 by the writer before it closes the slab
  uint32_t reader_attached;      // 804 set to 1 by the reader once it has mapped the slab
};
static_assert(sizeof(PoolLine) == 40, "pool line");

// A slab's slot table: one entry per slot. sent_gen is stored by the
// writer before it publishes a descriptor of that generation; released_gen
// by the reader when it releases it.
constexpr uint32_t kSlotTableOffset = 1024;
constexpr uint32_t kMaxSlots = 64;

// A ring made by a control-plane Peer: who it connects, as UTF-8 text
// (NUL-padded), written by its creator after the handshake; display only
// (synaptic-shm ls), never trusted. Past any slab's slot table.
constexpr uint32_t kPeerLabelOffset = 2048;
constexpr uint32_t kPeerLabelSize = 256;
static_assert(kSlotTableOffset + 8 * kMaxSlots <= kPeerLabelOffset, "the label is past the slot table");
static_assert(kPeerLabelOffset + kPeerLabelSize <= kHeaderSize, "the label is in the header page");
struct SlotEntry {
  uint32_t sent_gen;
  uint32_t released_gen;
};
static_assert(kSlotTableOffset + kMaxSlots * sizeof(SlotEntry) <= kHeaderSize, "slot table fits the header page");

// The descriptor a LOAN frame (type 3) carries.
struct LoanDescriptor {
  uint32_t slab;     // +0
  uint32_t slot;     // +4
  uint32_t gen;      // +8
  uint32_t epoch;    // +12
  uint64_t offset;   // +16 in the slab's data region
  uint64_t size;     // +24
};
static_assert(sizeof(LoanDescriptor) == 32, "loan descriptor");

// Largest ring capacity: indices are u32 and `used` must fit in 31 bits.
constexpr uint64_t kMaxCapacity = 1ull << 31;
// Largest segment this build maps (1 TiB: a bound on absurd requests).
constexpr uint64_t kMaxSegmentSize = 1ull << 40;

// One table of (name, offset) for the addon to export and tests to compare.
struct LayoutEntry {
  const char* name;
  uint32_t offset;
};

#define SMSH_LAYOUT_ENTRY(field) {#field, static_cast<uint32_t>(offsetof(Header, field))}
constexpr LayoutEntry kLayoutEntries[] = {
    SMSH_LAYOUT_ENTRY(magic),          SMSH_LAYOUT_ENTRY(version),
    SMSH_LAYOUT_ENTRY(header_size),    SMSH_LAYOUT_ENTRY(kind),
    SMSH_LAYOUT_ENTRY(segment_size),   SMSH_LAYOUT_ENTRY(data_size),
    SMSH_LAYOUT_ENTRY(capacity),       SMSH_LAYOUT_ENTRY(flags),
    SMSH_LAYOUT_ENTRY(owner_pid),      SMSH_LAYOUT_ENTRY(owner_start_time),
    SMSH_LAYOUT_ENTRY(created_ns),     SMSH_LAYOUT_ENTRY(token),
    SMSH_LAYOUT_ENTRY(peer_nonce),
    SMSH_LAYOUT_ENTRY(writer_state),   SMSH_LAYOUT_ENTRY(reader_state),
    SMSH_LAYOUT_ENTRY(reader_pid),     SMSH_LAYOUT_ENTRY(reader_start_time),
    SMSH_LAYOUT_ENTRY(write_index),    SMSH_LAYOUT_ENTRY(messages_written),
    SMSH_LAYOUT_ENTRY(bytes_written),  SMSH_LAYOUT_ENTRY(writer_waits),
    SMSH_LAYOUT_ENTRY(wakeups_sent),   SMSH_LAYOUT_ENTRY(read_index),
    SMSH_LAYOUT_ENTRY(messages_read),  SMSH_LAYOUT_ENTRY(bytes_read),
    SMSH_LAYOUT_ENTRY(reader_wait),    SMSH_LAYOUT_ENTRY(writer_wait),
    {"loan_epoch", kLoanLineOffset + offsetof(LoanLine, loan_epoch)},
    {"pool_slabs", kLoanLineOffset + offsetof(LoanLine, pool_slabs)},
    {"pool_bytes", kLoanLineOffset + offsetof(LoanLine, pool_bytes)},
    {"loans_sent", kLoanLineOffset + offsetof(LoanLine, loans_sent)},
    {"bytes_loaned", kLoanLineOffset + offsetof(LoanLine, bytes_loaned)},
    {"bytes_in_flight", kLoanLineOffset + offsetof(LoanLine, bytes_in_flight)},
    {"pool_slots", kLoanLineOffset + offsetof(LoanLine, pool_slots)},
    {"slab_key", kLoanLineOffset + offsetof(LoanLine, slab_key)},
    {"peer_label", kPeerLabelOffset},
};

// A pool slab's own fields (line 6 and the slot table), at offsets a ring
// uses for its loan line: a table of their own, in offset order too.
constexpr LayoutEntry kPoolLayoutEntries[] = {
    {"slot_size", kLoanLineOffset + offsetof(PoolLine, slot_size)},
    {"slot_count", kLoanLineOffset + offsetof(PoolLine, slot_count)},
    {"slab_index", kLoanLineOffset + offsetof(PoolLine, slab_index)},
    {"ring_token", kLoanLineOffset + offsetof(PoolLine, ring_token)},
    {"slab_retired", kLoanLineOffset + offsetof(PoolLine, retired)},
    {"slab_reader_attached", kLoanLineOffset + offsetof(PoolLine, reader_attached)},
    {"slot_table", kSlotTableOffset},
};
#undef SMSH_LAYOUT_ENTRY

}  // namespace smsh
