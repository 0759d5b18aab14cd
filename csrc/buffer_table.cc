#include "buffer_table.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace smsh {

BufferTable& BufferTable::Get() {
  static BufferTable* table = new BufferTable();
  return *table;
}

uint64_t BufferTable::AddCounted(std::shared_ptr<Segment> seg) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_++;
  live_.emplace(id, Entry{std::move(seg), nullptr, nullptr, 0});
  return id;
}

uint64_t BufferTable::AddUncounted(std::shared_ptr<Segment> seg, std::shared_ptr<void> store, const void* data, size_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_++;
  live_.emplace(id, Entry{std::move(seg), std::move(store), data, length});
  uncounted_++;
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
  Entry dropped;  // destroyed outside the lock (may munmap)
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(id);
  if (it == live_.end() || it->second.store) return;
  dropped = std::move(it->second);
  live_.erase(it);
}

bool BufferTable::ReleaseIfUnused(uint64_t id) {
  Entry dropped;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(id);
  if (it == live_.end() || !it->second.store) return true;
  if (!Unused(it->second)) return false;
  dropped = std::move(it->second);
  live_.erase(it);
  uncounted_--;
  return true;
}

void BufferTable::Sweep(bool lazy) {
  std::vector<Entry> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  if (lazy && uncounted_ < sweep_at_) return;
  for (auto it = live_.begin(); it != live_.end();) {
    if (it->second.store && Unused(it->second)) {
      dropped.push_back(std::move(it->second));
      it = live_.erase(it);
      uncounted_--;
    } else {
      ++it;
    }
  }
  sweep_at_ = std::max<size_t>(64, uncounted_ * 2);
}

bool BufferTable::Reachable(const Segment* seg) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, e] : live_)
    if (e.store && e.seg.get() == seg) return true;
  return false;
}

bool BufferTable::IsLoanView(const void* p, size_t len) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, e] : live_)
    if (e.store && e.data == p && e.length == len && e.seg->kind() == kKindPool) return true;
  return false;
}

}  // namespace smsh
