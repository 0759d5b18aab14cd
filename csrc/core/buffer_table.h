// Which mappings JavaScript can still reach: one entry per ArrayBuffer made
// over a segment, holding the Segment (and so its mapping) alive.
//
// Two kinds of entry, for the two ways a buffer is made (addon_segment.cc):
// - counted (Node-API external buffers): the buffer's finalizer releases its
//   entry. The finalizer's hint is the entry's id rather than a pointer we
//   allocate, because runtimes disagree on who owns the hint when
//   napi_create_external_arraybuffer fails: Node 20 refuses a length above
//   buffer.constants.MAX_LENGTH inside node::Buffer::New and calls the
//   finalizer itself, at once (older releases from a SetImmediate, later);
//   Electron returns napi_no_external_buffers_allowed and never calls it.
//   With ids, whoever removes the entry first drops the reference and the
//   other finds nothing: no double free and no leak.
// - uncounted (uncounted_buffer.h): no finalizer; the entry holds a
//   reference to the buffer's backing store and is released once that is
//   the last one (the buffer was detached, collected or torn down with its
//   isolate): on a detach, on Sweep(), which view creation runs amortized,
//   and on close.
// One table for the process (worker threads too), deliberately never
// destroyed: finalizers may run while an environment is being torn down.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "segment.h"

namespace smsh {

class BufferTable {
 public:
  static BufferTable& Get();
  // `data`/`length`: a view's bytes (view(): a loan's memory, which
  // IsLoanView matches), or nullptr/0 for a segment's whole buffer.
  uint64_t AddCounted(std::shared_ptr<Segment> seg, const void* data = nullptr, size_t length = 0);
  // `data`/`length`: the view's bytes (IsView matches them exactly).
  uint64_t AddUncounted(std::shared_ptr<Segment> seg, std::shared_ptr<void> store, const void* data, size_t length);
  // Counted: drops the entry. Idempotent: an id that is gone is ignored.
  void Release(uint64_t id);
  // Uncounted: drops the entry if no buffer holds its store any more.
  // Returns false while one still does (true: gone now or before, or a
  // counted entry, whose memory no other buffer can share).
  bool ReleaseIfUnused(uint64_t id);
  // Drops every uncounted entry no buffer holds; amortized when `lazy`
  // (only once the uncounted entries have doubled since the last sweep).
  void Sweep(bool lazy);
  // Whether a buffer over `seg` made the uncounted way may still be alive
  // (its mapping must then outlive close()).
  bool Reachable(const Segment* seg);
  // Whether [p, p + len) is exactly a live view made by view() over a pool
  // slab (a loan's): uncounted, whichever thread's buffer now holds it, or
  // counted (a thread cannot take those over: Node copies them).
  bool IsLoanView(const void* p, size_t len);
 private:
  struct Entry {
    std::shared_ptr<Segment> seg;
    std::shared_ptr<void> store;
    const void* data = nullptr;  // the view's bytes
    size_t length = 0;
  };
  static bool Unused(const Entry& e);
  std::mutex mu_;
  // Two maps: close() and view creation scan only the uncounted entries
  // (live loan views, a few), never the counted ones, which wait for
  // finalizers and pile up under create/close churn.
  struct CountedEntry {
    std::shared_ptr<Segment> seg;
    const void* data = nullptr;  // a view's bytes; nullptr for a whole buffer
    size_t length = 0;
  };
  std::unordered_map<uint64_t, CountedEntry> counted_;
  std::unordered_map<uint64_t, Entry> uncounted_;
  size_t sweep_at_ = 64;
  uint64_t next_ = 1;
};

}  // namespace smsh
