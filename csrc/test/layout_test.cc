// Layout v1: the sizes and offsets are static_asserted in layout.h; this
// checks the exported tables (kLayoutEntries: the header and a ring's loan
// line; kPoolLayoutEntries: a pool slab's own fields, which reuse the loan
// line's offsets) that the addon hands to JavaScript and lib/core/layout.ts
// is compared against.
#include <cstddef>
#include <cstring>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "check.h"
#include "layout.h"

using smsh::kLayoutEntries;
using smsh::kPoolLayoutEntries;

SMSH_TEST(entries_have_unique_names) {
  // One namespace for both tables: JavaScript gets them as one object.
  std::set<std::string> names;
  auto add = [&](const smsh::LayoutEntry& e) {
    CHECK(e.name != nullptr && e.name[0] != '\0');
    if (!names.insert(e.name).second)
      smsh_test::Fail(__FILE__, __LINE__, std::string("duplicate entry ") + e.name);
  };
  for (const smsh::LayoutEntry& e : kLayoutEntries) add(e);
  for (const smsh::LayoutEntry& e : kPoolLayoutEntries) add(e);
  CHECK_EQ(names.size(), std::size(kLayoutEntries) + std::size(kPoolLayoutEntries));
}

SMSH_TEST(entries_are_inside_the_header_and_aligned) {
  std::vector<smsh::LayoutEntry> all(std::begin(kLayoutEntries), std::end(kLayoutEntries));
  all.insert(all.end(), std::begin(kPoolLayoutEntries), std::end(kPoolLayoutEntries));
  for (const smsh::LayoutEntry& e : all) {
    if (e.offset >= smsh::kHeaderSize)
      smsh_test::Fail(__FILE__, __LINE__, std::string(e.name) + " at " + std::to_string(e.offset) +
                                              " is outside the header page");
    if (e.offset % 4 != 0)
      smsh_test::Fail(__FILE__, __LINE__, std::string(e.name) + " at " + std::to_string(e.offset) +
                                              " is not 4-byte aligned");
  }
}

template <size_t N>
static void CheckOrdered(const smsh::LayoutEntry (&table)[N]) {
  for (size_t i = 1; i < N; i++) {
    if (table[i].offset <= table[i - 1].offset)
      smsh_test::Fail(__FILE__, __LINE__, std::string(table[i].name) + " does not follow " + table[i - 1].name);
  }
}

SMSH_TEST(entries_are_in_layout_order_and_distinct) {
  // Declaration order is offset order within each table; two names at one
  // offset of one kind of segment would make the JavaScript mirror ambiguous.
  CheckOrdered(kLayoutEntries);
  CheckOrdered(kPoolLayoutEntries);
}

SMSH_TEST(table_matches_the_struct) {
  // Spot checks that the table was generated from the struct we ship,
  // including the fields the wait protocol and the ring indices use.
  auto find = [](const char* name) -> long {
    for (const smsh::LayoutEntry& e : kLayoutEntries)
      if (std::strcmp(e.name, name) == 0) return static_cast<long>(e.offset);
    return -1;
  };
  CHECK_EQ(find("magic"), 0L);
  CHECK_EQ(find("token"), static_cast<long>(offsetof(smsh::Header, token)));
  CHECK_EQ(find("write_index"), 256L);
  CHECK_EQ(find("read_index"), 384L);
  CHECK_EQ(find("reader_wait"), 512L);
  CHECK_EQ(find("writer_wait"), 640L);
  // 64-bit fields are 8-byte aligned (JavaScript reads them as BigUint64).
  for (const char* name : {"segment_size", "data_size", "owner_start_time", "created_ns",
                           "reader_start_time", "messages_written", "bytes_written",
                           "writer_waits", "wakeups_sent", "messages_read", "bytes_read"}) {
    long off = find(name);
    CHECK(off >= 0);
    if (off % 8 != 0) smsh_test::Fail(__FILE__, __LINE__, std::string(name) + " is not 8-byte aligned");
  }
  // Every field of the struct is in the table: 26 fields in layout v1, the
  // 8 fields of a ring's loan line and a peer ring's label; a slab's 6
  // pool-line fields and its slot table.
  CHECK_EQ(std::size(kLayoutEntries), size_t{36});
  CHECK_EQ(std::size(kPoolLayoutEntries), size_t{7});
  CHECK_EQ(find("loan_epoch"), long{smsh::kLoanLineOffset});
  CHECK_EQ(find("peer_label"), long{smsh::kPeerLabelOffset});
  CHECK_EQ(find("slab_key"), 816L);
  // Wait-line words are 4-byte words at the start of their own line.
  CHECK_EQ(offsetof(smsh::WaitLine, seq), size_t{0});
  CHECK_EQ(offsetof(smsh::WaitLine, waiting), size_t{4});
  CHECK_EQ(sizeof(smsh::Header), size_t{smsh::kHeaderSize});
}

SMSH_TEST_MAIN()
