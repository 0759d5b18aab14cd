#include "buffer_table.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace smsh {

BufferTable& BufferTable::Get() {
  static BufferTable* table = new BufferTable();
  return *table;
}

uint64_t BufferTable::AddCounted(std::shared_ptr<Segment> seg, const void* data, size_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_++;
  counted_.emplace(id, CountedEntry{std::move(seg), data, length});
  return id;
}

uint64_t BufferTable::AddUncounted(std::shared_ptr<Segment> seg, std::shared_ptr<void> store, const void* data, size_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_++;
  uncounted_.emplace(id, Entry{std::move(seg), std::move(store), data, length});
  return id;
}

bool BufferTable::Unused(const Entry& e) {
  if (e.store.use_count() != 1) return false;
  // use_count() is a relaxed load. The last other owner (an isolate, maybe
  // on another thread, maybe V8's background sweeper) dropped its reference
  // with a release decrement; its reads of the mapping must happen before
  // our munmap. lock() is an acquire read-modify-write of that same count,
  // so it pairs with it (a fence would too, but ThreadSanitizer does not
  // model fences).
  std::shared_ptr<void> probe = std::weak_ptr<void>(e.store).lock();
  return probe.use_count() == 2;
}

void BufferTable::Release(uint64_t id) {
  std::shared_ptr<Segment> dropped;  // destroyed outside the lock (may munmap)
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counted_.find(id);
  if (it == counted_.end()) return;
  dropped = std::move(it->second.seg);
  counted_.erase(it);
}

bool BufferTable::ReleaseIfUnused(uint64_t id) {
  Entry dropped;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = uncounted_.find(id);
  if (it == uncounted_.end()) return true;
  if (!Unused(it->second)) return false;
  dropped = std::move(it->second);
  uncounted_.erase(it);
  return true;
}

void BufferTable::Sweep(bool lazy) {
  std::vector<Entry> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  if (lazy && uncounted_.size() < sweep_at_) return;
  for (auto it = uncounted_.begin(); it != uncounted_.end();) {
    if (Unused(it->second)) {
      dropped.push_back(std::move(it->second));
      it = uncounted_.erase(it);
    } else {
      ++it;
    }
  }
  sweep_at_ = std::max<size_t>(64, uncounted_.size() * 2);
}

bool BufferTable::Reachable(const Segment* seg) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, e] : uncounted_)
    if (e.seg.get() == seg) return true;
  return false;
}

bool BufferTable::IsLoanView(const void* p, size_t len) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, e] : uncounted_)
    if (e.data == p && e.length == len && e.seg->kind() == kKindPool) return true;
  // Counted entries wait for finalizers and can be many: only where views
  // are counted (Windows, SMSH_COUNTED_VIEWS=1) does a detach reach here.
  for (const auto& [id, e] : counted_)
    if (e.data != nullptr && e.data == p && e.length == len && e.seg->kind() == kKindPool) return true;
  return false;
}

}  // namespace smsh
