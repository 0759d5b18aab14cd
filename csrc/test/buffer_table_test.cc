// BufferTable and Segment::CloseKeepingMapping: a mapping stays while any
// buffer over it may be reachable, and goes once none is (buffer_table.h).
// The "buffers" here are plain shared_ptr copies standing in for the
// references V8's ArrayBuffers hold on a backing store.
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "buffer_table.h"
#include "check.h"
#include "segment.h"

using smsh::BufferTable;
using smsh::CreateOptions;
using smsh::Segment;
using smsh_test::TestName;

namespace {

std::shared_ptr<Segment> Make(const std::string& name, uint32_t kind = smsh::kKindPlain) {
  CreateOptions o;
  o.name = name;
  o.data_size = 8192;
  o.kind = kind;
  std::unique_ptr<Segment> seg;
  if (!Segment::Create(o, &seg).ok()) return nullptr;
  seg->Unlink();
  return std::shared_ptr<Segment>(seg.release());
}

// Whether [p, p + 4096) is mapped in this process.
bool Mapped(void* p) { return msync(p, 4096, MS_ASYNC) == 0 || errno != ENOMEM; }

}  // namespace

SMSH_TEST(counted_entry_holds_the_segment_until_released) {
  std::shared_ptr<Segment> seg = Make(TestName());
  REQUIRE(seg != nullptr);
  std::weak_ptr<Segment> weak = seg;
  const uint64_t id = BufferTable::Get().AddCounted(seg);
  seg.reset();
  CHECK(!weak.expired());
  BufferTable::Get().ReleaseIfUnused(id);  // not an uncounted entry: ignored
  CHECK(!weak.expired());
  BufferTable::Get().Release(id);
  CHECK(weak.expired());
  BufferTable::Get().Release(id);  // twice: ignored
}

SMSH_TEST(uncounted_entry_goes_once_its_store_is_the_last_reference) {
  std::shared_ptr<Segment> seg = Make(TestName());
  REQUIRE(seg != nullptr);
  std::weak_ptr<Segment> weak = seg;
  auto store = std::make_shared<int>(0);
  std::shared_ptr<void> buffer = store;  // a buffer still holds it
  const uint64_t id = BufferTable::Get().AddUncounted(seg, store, seg->base(), 4096);
  store.reset();
  seg.reset();
  BufferTable::Get().Release(id);  // the counted release does not apply
  BufferTable::Get().ReleaseIfUnused(id);
  BufferTable::Get().Sweep(false);
  CHECK(!weak.expired());
  buffer.reset();  // detached or collected
  BufferTable::Get().ReleaseIfUnused(id);
  CHECK(weak.expired());
}

SMSH_TEST(sweep_releases_what_another_thread_let_go) {
  std::shared_ptr<Segment> seg = Make(TestName());
  REQUIRE(seg != nullptr);
  uint8_t* base = seg->base();
  std::weak_ptr<Segment> weak = seg;
  std::vector<std::shared_ptr<void>> held;
  for (int i = 0; i < 100; i++) {
    auto store = std::make_shared<int>(i);
    held.push_back(store);
    BufferTable::Get().AddUncounted(seg, store, seg->base(), 4096);
  }
  // Close: the descriptor goes, the mapping stays while buffers may reach it.
  CHECK(BufferTable::Get().Reachable(seg.get()));
  seg->CloseKeepingMapping();
  CHECK(!seg->mapped());
  seg.reset();
  // Another thread (a worker's isolate) reads through its buffers, then drops them.
  std::thread other([&held, base] {
    for (int i = 0; i < 1000; i++) base[smsh::kHeaderSize + (i % 8192)] = static_cast<uint8_t>(i);
    held.clear();
  });
  other.join();
  CHECK(!weak.expired());
  CHECK(Mapped(base));
  BufferTable::Get().Sweep(true);  // lazy: may wait for more entries
  BufferTable::Get().Sweep(false);
  CHECK(weak.expired());
  CHECK(!Mapped(base));
}

SMSH_TEST(closing_but_keeping_the_mapping_releases_the_liveness_locks) {
  const std::string name = TestName();
  CreateOptions o;
  o.name = name;
  o.data_size = 8192;
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(o, &a));
  REQUIRE_OK(Segment::Attach(name, &b));
  bool got = false, held = false;
  REQUIRE_OK(a->Lock(0, &got));
  REQUIRE(got);
  REQUIRE_OK(b->Lock(1, &got));
  REQUIRE(got);
  // b closes while a buffer may still point into its mapping: the mapping
  // stays (readable), but a peer must see b's lock gone, as after a munmap.
  uint8_t* base = b->base();
  b->CloseKeepingMapping();
  CHECK_OK(a->Probe(1, &held));
  CHECK(!held);
  base[smsh::kHeaderSize] = 7;
  CHECK_EQ(a->base()[smsh::kHeaderSize], uint8_t{7});
  // And the other way: the owner's lock goes with its descriptor too.
  std::unique_ptr<Segment> c;
  REQUIRE_OK(Segment::Attach(name, &c));
  CHECK_OK(c->Probe(0, &held));
  CHECK(held);
  a->CloseKeepingMapping();
  CHECK_OK(c->Probe(0, &held));
  CHECK(!held);
  CHECK_OK(c->Unlink());
  b.reset();  // the destructor unmaps
}

SMSH_TEST(is_loan_view_matches_exactly_a_live_view_of_a_pool_slab) {
  std::shared_ptr<Segment> pool = Make(TestName(), smsh::kKindPool);
  std::shared_ptr<Segment> plain = Make(TestName());
  REQUIRE(pool != nullptr && plain != nullptr);
  uint8_t* view = pool->base() + smsh::kHeaderSize + 4096;
  auto store = std::make_shared<int>(0);
  std::shared_ptr<void> buffer = store;
  const uint64_t id = BufferTable::Get().AddUncounted(pool, store, view, 4096);
  store.reset();
  CHECK(BufferTable::Get().IsLoanView(view, 4096));
  CHECK(!BufferTable::Get().IsLoanView(view, 4095));      // a part of it
  CHECK(!BufferTable::Get().IsLoanView(view + 1, 4095));  // another start
  CHECK(!BufferTable::Get().IsLoanView(pool->base(), pool->size()));  // the whole mapping
  // Not a pool slab: a ring's or a plain segment's bytes are never a loan.
  auto other = std::make_shared<int>(1);
  std::shared_ptr<void> other_buffer = other;
  const uint64_t plain_id = BufferTable::Get().AddUncounted(plain, other, plain->base() + smsh::kHeaderSize, 4096);
  other.reset();
  CHECK(!BufferTable::Get().IsLoanView(plain->base() + smsh::kHeaderSize, 4096));
  // Counted entries never match.
  const uint64_t counted = BufferTable::Get().AddCounted(pool);
  buffer.reset();
  CHECK(BufferTable::Get().ReleaseIfUnused(id));
  CHECK(!BufferTable::Get().IsLoanView(view, 4096));  // gone with its last buffer
  BufferTable::Get().Release(counted);
  other_buffer.reset();
  CHECK(BufferTable::Get().ReleaseIfUnused(plain_id));
}

SMSH_TEST(concurrent_adds_releases_and_sweeps) {
  std::shared_ptr<Segment> seg = Make(TestName());
  REQUIRE(seg != nullptr);
  std::weak_ptr<Segment> weak = seg;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([seg] {
      for (int i = 0; i < 2000; i++) {
        auto store = std::make_shared<int>(i);
        std::shared_ptr<void> buffer = store;
        const uint64_t id = BufferTable::Get().AddUncounted(seg, std::move(store), seg->base(), 4096);
        if (i % 3 == 0) BufferTable::Get().Sweep(true);
        buffer.reset();
        if (i % 2 == 0) BufferTable::Get().ReleaseIfUnused(id);
      }
    });
  }
  seg.reset();
  for (auto& t : threads) t.join();
  BufferTable::Get().Sweep(false);
  CHECK(weak.expired());
}

SMSH_TEST_MAIN()
