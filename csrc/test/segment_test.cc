// Segment: create/attach, name rules, permissions, header validation of
// foreign, short, empty and wrong-version objects, Unlink's identity check,
// and descriptor hygiene.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "check.h"
#include "layout.h"
#include "proc.h"
#include "segment.h"

using smsh::CreateOptions;
using smsh::Header;
using smsh::Segment;
using smsh::Status;
using smsh_test::ShmExists;
using smsh_test::ShmPath;
using smsh_test::TestName;

using smsh_test::CountOpenFds;
using smsh_test::MakeRawObject;

namespace {

CreateOptions Plain(const std::string& name, uint64_t data_size = 8192) {
  CreateOptions o;
  o.name = name;
  o.data_size = data_size;
  return o;
}

CreateOptions Ring(const std::string& name, uint64_t data_size, uint32_t capacity) {
  CreateOptions o;
  o.name = name;
  o.data_size = data_size;
  o.kind = smsh::kKindRing;
  o.capacity = capacity;
  return o;
}


// A copy of the header of a freshly created, valid segment.
bool ValidHeaderImage(uint32_t kind, Header* out) {
  std::unique_ptr<Segment> seg;
  std::string name = TestName();
  CreateOptions o = kind == smsh::kKindRing ? Ring(name, 8192, 8192) : Plain(name, 8192);
  if (!Segment::Create(o, &seg).ok()) return false;
  std::memcpy(out, seg->header(), sizeof(Header));
  seg->Unlink();
  return true;
}

}  // namespace

SMSH_TEST(create_and_attach_share_bytes) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(Plain(name, 3 * 4096), &a));
  REQUIRE_OK(Segment::Attach(name, &b));
  CHECK(a->owner());
  CHECK(!b->owner());
  CHECK_EQ(a->size(), uint64_t{4 * 4096});
  CHECK_EQ(b->size(), a->size());
  CHECK_EQ(b->data_size(), uint64_t{3 * 4096});
  CHECK_EQ(b->kind(), smsh::kKindPlain);
  CHECK_EQ(b->capacity(), 0u);
  CHECK_EQ(b->name(), name);
  CHECK(std::memcmp(a->token(), b->token(), smsh::kTokenSize) == 0);
  CHECK(a->base() != b->base());  // two mappings of one object

  // The header the creator published.
  const Header* h = b->header();
  CHECK_EQ(h->magic, smsh::kMagic);
  CHECK_EQ(h->version, smsh::kLayoutVersion);
  CHECK_EQ(h->header_size, smsh::kHeaderSize);
  CHECK_EQ(h->segment_size, a->size());
  CHECK_EQ(h->data_size, uint64_t{3 * 4096});
  CHECK_EQ(h->owner_pid, static_cast<uint32_t>(getpid()));
  CHECK_EQ(h->owner_start_time, smsh::SelfStartTime());
  CHECK_NE(h->owner_start_time, uint64_t{0});
  CHECK_NE(h->created_ns, uint64_t{0});
  CHECK_EQ(h->writer_state, smsh::kSideAbsent);
  CHECK(std::memcmp(h->token, a->token(), smsh::kTokenSize) == 0);
  static const uint8_t zero[smsh::kTokenSize] = {};
  CHECK(std::memcmp(a->token(), zero, smsh::kTokenSize) != 0);

  // Bytes written through one mapping are read through the other, across
  // the whole data region, in both directions.
  uint8_t* da = a->base() + smsh::kHeaderSize;
  uint8_t* db = b->base() + smsh::kHeaderSize;
  for (uint64_t i = 0; i < a->data_size(); i++) da[i] = static_cast<uint8_t>(i * 7 + 1);
  bool same = true;
  for (uint64_t i = 0; i < b->data_size(); i++) same = same && db[i] == static_cast<uint8_t>(i * 7 + 1);
  CHECK(same);
  db[a->data_size() - 1] = 0xEE;
  CHECK_EQ(da[a->data_size() - 1], uint8_t{0xEE});

  CHECK_OK(a->Unlink());
  CHECK(!ShmExists(name));
  // Existing mappings outlive the name.
  da[0] = 0x42;
  CHECK_EQ(db[0], uint8_t{0x42});
}

SMSH_TEST(ring_segment_header) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(Ring(name, 65536, 65536), &a));
  REQUIRE_OK(Segment::Attach(name, &b));
  CHECK_EQ(b->kind(), smsh::kKindRing);
  CHECK_EQ(b->capacity(), 65536u);
  CHECK_EQ(b->header()->writer_state, smsh::kSideOpen);
  CHECK_EQ(b->header()->reader_state, smsh::kSideAbsent);
  CHECK_EQ(b->header()->write_index, 0u);
  CHECK_EQ(b->header()->read_index, 0u);
  CHECK_OK(a->Unlink());
}

SMSH_TEST(duplicate_create_is_eexist) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  Status s = Segment::Create(Plain(name), &b);
  CHECK_CODE(s, "EEXIST");
  CHECK_EQ(s.err, EEXIST);
  CHECK_EQ(std::string(s.syscall), std::string("shm_open"));
  CHECK(b == nullptr);
  // The failed create must not have removed the first one's name.
  CHECK(ShmExists(name));
  std::unique_ptr<Segment> c;
  CHECK_OK(Segment::Attach(name, &c));
  CHECK_OK(a->Unlink());
}

SMSH_TEST(attach_missing_is_enoent) {
  const std::string name = TestName();
  std::unique_ptr<Segment> seg;
  Status s = Segment::Attach(name, &seg);
  CHECK_CODE(s, "ENOENT");
  CHECK_EQ(s.err, ENOENT);
  CHECK(seg == nullptr);
}

SMSH_TEST(created_object_is_mode_0600) {
  // Whatever the umask: fchmod makes the mode exact.
  for (mode_t mask : {mode_t{022}, mode_t{0}, mode_t{077}}) {
    mode_t old = umask(mask);
    const std::string name = TestName();
    std::unique_ptr<Segment> seg;
    Status s = Segment::Create(Plain(name), &seg);
    umask(old);
    REQUIRE_OK(s);
    struct stat st;
    REQUIRE(stat(ShmPath(name).c_str(), &st) == 0);
    CHECK_EQ(st.st_mode & 07777, mode_t{0600});
    CHECK_EQ(st.st_uid, getuid());
    CHECK_OK(seg->Unlink());
  }
}

SMSH_TEST(invalid_names_are_einval) {
  const std::string too_long(31, 'a');
  const std::string longest(30, 'b');
  CHECK(smsh::IsValidName(longest));
  CHECK(smsh::IsValidName("A-z_0.9"));
  CHECK(smsh::IsValidName("smsh-abcdefghijklmnop"));  // generated names
  CHECK(smsh::IsValidName("0abc"));
  // Near misses of the reserved names are fine.
  for (const char* ok : {"sem", "sem-x", "semx", "sema.x", "x.sem.y", "CONS", "con_x", "contoso.txt", "NULL", "AUXI",
                         "COM10", "LPT", "com1x", "lpt1-2", "xcon", "a.CON", "PRN-1"})
    if (!smsh::IsValidName(ok)) smsh_test::Fail(__FILE__, __LINE__, std::string("IsValidName(\"") + ok + "\") is false");
  const std::vector<std::string> bad = {
      "", "/", "a/b", "/abc", "abc/", too_long, ".hidden", "..", "sp ace", "tab\t", "uml\xc3\xa4ut",
      std::string("nul\0x", 5),
      // Must start with a letter or digit.
      "-", "-abc", "_x", "--", "_",
      // glibc's POSIX semaphores: /dev/shm/sem.<name>.
      "sem.x", "SEM.x", "Sem.", "sem.smsh-1",
      // Windows device names, any case, alone or with an extension.
      "CON", "con", "Con.txt", "PRN", "aux", "AUX.tar.gz", "NUL", "nul.", "COM1", "com9.log", "COM0", "LPT1",
      "lpt9", "LPT0.x",
  };
  for (const std::string& name : bad) {
    CHECK(!smsh::IsValidName(name));
    std::unique_ptr<Segment> seg;
    Status s = Segment::Create(Plain(name), &seg);
    if (s.ok() || std::string(s.code) != "EINVAL" || s.err != EINVAL) {
      smsh_test::Fail(__FILE__, __LINE__, "Create(\"" + name + "\"): " + smsh_test::Show(s));
      if (seg) seg->Unlink();
    }
    s = Segment::Attach(name, &seg);
    if (s.ok() || std::string(s.code) != "EINVAL")
      smsh_test::Fail(__FILE__, __LINE__, "Attach(\"" + name + "\"): " + smsh_test::Show(s));
  }
  // The 30-character name works end to end (and is the macOS limit).
  std::unique_ptr<Segment> seg;
  const std::string name = TestName(smsh::kMaxNameLength);
  CHECK_EQ(name.size(), smsh::kMaxNameLength);
  CHECK_OK(Segment::Create(Plain(name), &seg));
  if (seg) CHECK_OK(seg->Unlink());
}

SMSH_TEST(truncated_object_is_ecorrupt) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(Plain(name, 4 * 4096), &a));
  // Shorter than header.segment_size, still holding the whole header.
  REQUIRE(truncate(ShmPath(name).c_str(), 3 * 4096) == 0);
  Status s = Segment::Attach(name, &b);
  CHECK_CODE(s, "ECORRUPT");
  CHECK(s.message.find("truncated") != std::string::npos);
  CHECK(b == nullptr);
  // Shorter than the header itself.
  REQUIRE(truncate(ShmPath(name).c_str(), 100) == 0);
  CHECK_CODE(Segment::Attach(name, &b), "ECORRUPT");
  // The creator's mapping now reaches past the object's end; only unmap it.
  CHECK_OK(a->Unlink());
  a->Unmap();
}

SMSH_TEST(garbage_object_is_ecorrupt) {
  std::vector<uint8_t> bytes(8192);
  REQUIRE_OK(smsh::RandomBytes(bytes.data(), bytes.size()));
  // Random bytes, except that the magic is neither 0 (EAGAIN) nor valid.
  uint32_t magic;
  std::memcpy(&magic, bytes.data(), 4);
  if (magic == 0 || magic == smsh::kMagic) bytes[0] ^= 0x5A;
  const std::string name = TestName();
  REQUIRE(MakeRawObject(name, bytes));
  std::unique_ptr<Segment> seg;
  CHECK_CODE(Segment::Attach(name, &seg), "ECORRUPT");
  CHECK(seg == nullptr);

  // Garbage behind a valid magic and version is still caught (sizes).
  std::memcpy(bytes.data(), &smsh::kMagic, 4);
  std::memcpy(bytes.data() + 4, &smsh::kLayoutVersion, 4);
  const std::string name2 = TestName();
  REQUIRE(MakeRawObject(name2, bytes));
  CHECK_CODE(Segment::Attach(name2, &seg), "ECORRUPT");

  // A file that is a valid header but claims a size larger than the object.
  Header h;
  REQUIRE(ValidHeaderImage(smsh::kKindPlain, &h));
  std::vector<uint8_t> image(sizeof(Header));
  std::memcpy(image.data(), &h, sizeof(h));
  const std::string name3 = TestName();
  REQUIRE(MakeRawObject(name3, image));
  CHECK_CODE(Segment::Attach(name3, &seg), "ECORRUPT");
  // ...and attaches once the object is as long as the header says.
  REQUIRE(truncate(ShmPath(name3).c_str(), static_cast<off_t>(h.segment_size)) == 0);
  CHECK_OK(Segment::Attach(name3, &seg));

  shm_unlink(("/" + name).c_str());
  shm_unlink(("/" + name2).c_str());
  shm_unlink(("/" + name3).c_str());
}

SMSH_TEST(empty_or_unpublished_object_is_eagain) {
  const std::string name = TestName();
  REQUIRE(MakeRawObject(name, {}));
  std::unique_ptr<Segment> seg;
  CHECK_CODE(Segment::Attach(name, &seg), "EAGAIN");
  CHECK(seg == nullptr);
  // Sized but the magic not yet stored: the creator is still initialising.
  const std::string name2 = TestName();
  REQUIRE(MakeRawObject(name2, std::vector<uint8_t>(8192, 0)));
  CHECK_CODE(Segment::Attach(name2, &seg), "EAGAIN");
  // Non-empty but shorter than a header: not something we made.
  const std::string name3 = TestName();
  REQUIRE(MakeRawObject(name3, std::vector<uint8_t>(100, 0)));
  CHECK_CODE(Segment::Attach(name3, &seg), "ECORRUPT");
  shm_unlink(("/" + name).c_str());
  shm_unlink(("/" + name2).c_str());
  shm_unlink(("/" + name3).c_str());
}

SMSH_TEST(wrong_version_is_eversion) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  a->header()->version = smsh::kLayoutVersion + 1;
  Status s = Segment::Attach(name, &b);
  CHECK_CODE(s, "EVERSION");
  CHECK(b == nullptr);
  a->header()->version = 0;
  CHECK_CODE(Segment::Attach(name, &b), "EVERSION");
  a->header()->version = smsh::kLayoutVersion;
  CHECK_OK(Segment::Attach(name, &b));
  CHECK_OK(a->Unlink());
}

SMSH_TEST(validate_header_rejects_inconsistent_headers) {
  Header plain, ring;
  REQUIRE(ValidHeaderImage(smsh::kKindPlain, &plain));
  REQUIRE(ValidHeaderImage(smsh::kKindRing, &ring));
  const uint64_t size = plain.segment_size;
  CHECK_OK(smsh::ValidateHeader(plain, size));
  CHECK_OK(smsh::ValidateHeader(plain, size + 4096));  // a longer object is fine
  CHECK_OK(smsh::ValidateHeader(ring, ring.segment_size));
  Header pool = plain;
  pool.kind = smsh::kKindPool;  // a loan slab: checked like a plain segment here, its pool line by its user
  CHECK_OK(smsh::ValidateHeader(pool, size));

  auto expect = [&](const Header& base, uint64_t object_size, const char* code, const char* what,
                    auto mutate) {
    Header h = base;
    mutate(h);
    Status s = smsh::ValidateHeader(h, object_size);
    if (s.ok() || std::string(s.code) != code)
      smsh_test::Fail(__FILE__, __LINE__,
                      std::string(what) + ": want " + code + ", got " + smsh_test::Show(s));
  };
  expect(plain, size, "EAGAIN", "magic 0", [](Header& h) { h.magic = 0; });
  expect(plain, size, "ECORRUPT", "bad magic", [](Header& h) { h.magic = 0x12345678; });
  // Windows' unlink marks the header removed (PROTOCOL §5): gone, as after shm_unlink.
  expect(plain, size, "ENOENT", "removed", [](Header& h) { h.magic = smsh::kMagicRemoved; });
  expect(plain, size, "EVERSION", "version 2", [](Header& h) { h.version = 2; });
  expect(plain, size, "ECORRUPT", "header_size", [](Header& h) { h.header_size = 8192; });
  expect(plain, size, "ECORRUPT", "segment_size != header+data",
         [](Header& h) { h.segment_size += 4096; });
  expect(plain, size, "ECORRUPT", "data_size != segment-header",
         [](Header& h) { h.data_size -= 1; });
  expect(plain, size, "ECORRUPT", "data_size 0", [](Header& h) {
    h.data_size = 0;
    h.segment_size = smsh::kHeaderSize;
  });
  expect(plain, ~uint64_t{0}, "ECORRUPT", "absurd size", [](Header& h) {
    h.data_size = smsh::kMaxSegmentSize;
    h.segment_size = smsh::kHeaderSize + h.data_size;
  });
  expect(plain, ~uint64_t{0}, "ECORRUPT", "size wraps", [](Header& h) {
    h.data_size = ~uint64_t{0} - smsh::kHeaderSize + 2;
    h.segment_size = smsh::kHeaderSize + h.data_size;  // wraps to 1
  });
  expect(plain, size - 1, "ECORRUPT", "object shorter than segment_size", [](Header&) {});
  expect(plain, size, "ECORRUPT", "plain with a capacity", [](Header& h) { h.capacity = 4096; });
  expect(plain, size, "ECORRUPT", "unknown kind 3", [](Header& h) { h.kind = 3; });
  expect(plain, size, "ECORRUPT", "unknown kind ~0", [](Header& h) { h.kind = ~0u; });
  const uint64_t rsize = ring.segment_size;
  expect(ring, rsize, "ECORRUPT", "ring capacity 0", [](Header& h) { h.capacity = 0; });
  expect(ring, rsize, "ECORRUPT", "ring capacity 3000", [](Header& h) { h.capacity = 3000; });
  expect(ring, rsize, "ECORRUPT", "ring capacity 4097", [](Header& h) { h.capacity = 4097; });
  expect(ring, rsize, "ECORRUPT", "ring capacity > data_size",
         [](Header& h) { h.capacity = 16384; });
  expect(ring, rsize, "ECORRUPT", "ring capacity 2^31 > data_size",
         [](Header& h) { h.capacity = 1u << 31; });
  // Rings are created with data_size == capacity: a smaller capacity is not
  // one of ours, and a huge data_size (a sparse object) must never be mapped.
  expect(ring, rsize, "ECORRUPT", "ring capacity < data_size",
         [](Header& h) { h.capacity = 4096; });
  expect(ring, ~uint64_t{0}, "ECORRUPT", "ring of 2^31 claiming 4 GiB of data", [](Header& h) {
    h.capacity = 1u << 31;
    h.data_size = uint64_t{1} << 32;
    h.segment_size = smsh::kHeaderSize + h.data_size;
  });
  // The largest ring is fine.
  Header big = ring;
  big.capacity = 1u << 31;
  big.data_size = big.capacity;
  big.segment_size = smsh::kHeaderSize + big.data_size;
  CHECK_OK(smsh::ValidateHeader(big, big.segment_size));
}

SMSH_TEST(sparse_ring_claiming_4gib_is_ecorrupt) {
  // A hostile object: a valid-looking ring header whose data_size is 4 GiB
  // (a sparse file costs nothing), capacity 2^31. Attach must refuse it
  // before mapping anything.
  Header h;
  REQUIRE(ValidHeaderImage(smsh::kKindRing, &h));
  h.capacity = 1u << 31;
  h.data_size = uint64_t{1} << 32;
  h.segment_size = smsh::kHeaderSize + h.data_size;
  std::vector<uint8_t> image(sizeof(Header));
  std::memcpy(image.data(), &h, sizeof(h));
  const std::string name = TestName();
  REQUIRE(MakeRawObject(name, image));
  REQUIRE(truncate(ShmPath(name).c_str(), static_cast<off_t>(h.segment_size)) == 0);
  std::unique_ptr<Segment> seg;
  Status s = Segment::Attach(name, &seg);
  CHECK_CODE(s, "ECORRUPT");
  CHECK(s.message.find("capacity") != std::string::npos);
  CHECK(seg == nullptr);
  shm_unlink(("/" + name).c_str());
}

SMSH_TEST(unlink_spares_a_recreated_object) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a, b, c;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  REQUIRE(shm_unlink(("/" + name).c_str()) == 0);  // someone else unlinks A
  REQUIRE_OK(Segment::Create(Plain(name, 4096), &b));  // and creates B
  CHECK_OK(a->Unlink());
  CHECK(a->unlinked());
  CHECK(ShmExists(name));
  REQUIRE_OK(Segment::Attach(name, &c));
  CHECK(std::memcmp(c->token(), b->token(), smsh::kTokenSize) == 0);
  CHECK_EQ(c->size(), b->size());
  CHECK_OK(b->Unlink());
  CHECK(!ShmExists(name));

  // The same when A was unmapped (its object freed) before the swap.
  const std::string name2 = TestName();
  std::unique_ptr<Segment> d, e;
  REQUIRE_OK(Segment::Create(Plain(name2), &d));
  d->Unmap();
  REQUIRE(shm_unlink(("/" + name2).c_str()) == 0);
  REQUIRE_OK(Segment::Create(Plain(name2), &e));
  CHECK_OK(d->Unlink());
  CHECK(ShmExists(name2));
  CHECK_OK(e->Unlink());
  CHECK(!ShmExists(name2));
}

SMSH_TEST(unlink_never_blocks_on_a_fifo_squatting_the_name) {
  // The README calls `rm /dev/shm/<name>` safe; if someone then mkfifo's the
  // name, opening it for reading would wait for a writer forever. Unlink,
  // UnlinkIfSame and Inspect must return at once and leave the FIFO alone.
  alarm(30);  // a hang kills the case (SIGALRM) instead of waiting for ctest's timeout
  const std::string name = TestName();
  std::unique_ptr<Segment> a;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  struct stat ours;
  REQUIRE(stat(ShmPath(name).c_str(), &ours) == 0);
  REQUIRE(shm_unlink(("/" + name).c_str()) == 0);
  REQUIRE(mkfifo(ShmPath(name).c_str(), 0600) == 0);
  struct stat fifo;
  REQUIRE(lstat(ShmPath(name).c_str(), &fifo) == 0);

  CHECK_OK(a->Unlink());
  CHECK(a->unlinked());
  CHECK_OK(smsh::UnlinkIfSame(name, ours.st_dev, ours.st_ino));
  CHECK_OK(smsh::UnlinkIfSame(name, fifo.st_dev, fifo.st_ino));  // not a segment: never removed
  smsh::Inspection in;
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK_CODE(in.validity, "ECORRUPT");
  std::unique_ptr<Segment> b;
  CHECK_CODE(Segment::Attach(name, &b), "ECORRUPT");  // O_NONBLOCK, then "not a regular object"
  struct stat after;
  CHECK(lstat(ShmPath(name).c_str(), &after) == 0 && S_ISFIFO(after.st_mode));
  alarm(0);
  unlink(ShmPath(name).c_str());
}

SMSH_TEST(unlink_never_follows_a_symlink) {
  // Someone replaces A's name with a symlink to segment B: neither A's
  // Unlink nor UnlinkIfSame with B's identity may remove anything, and
  // Attach refuses the link.
  const std::string name_a = TestName(), name_b = TestName();
  std::unique_ptr<Segment> a, b, c;
  REQUIRE_OK(Segment::Create(Plain(name_a), &a));
  REQUIRE_OK(Segment::Create(Plain(name_b), &b));
  struct stat sb;
  REQUIRE(stat(ShmPath(name_b).c_str(), &sb) == 0);
  REQUIRE(shm_unlink(("/" + name_a).c_str()) == 0);
  REQUIRE(symlink(ShmPath(name_b).c_str(), ShmPath(name_a).c_str()) == 0);
  CHECK_OK(a->Unlink());
  CHECK_OK(smsh::UnlinkIfSame(name_a, sb.st_dev, sb.st_ino));
  struct stat st;
  CHECK(lstat(ShmPath(name_a).c_str(), &st) == 0 && S_ISLNK(st.st_mode));
  CHECK(ShmExists(name_b));
  CHECK_CODE(Segment::Attach(name_a, &c), "ELOOP");
  unlink(ShmPath(name_a).c_str());
  CHECK_OK(b->Unlink());
  CHECK(!ShmExists(name_b));
}

SMSH_TEST(unlink_works_at_the_descriptor_limit) {
  // Out of descriptors (EMFILE), close() and the exit cleanup must still
  // remove the names: the identity check needs no descriptor.
  const std::string name_a = TestName(), name_b = TestName();
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(Plain(name_a), &a));
  REQUIRE_OK(Segment::Create(Plain(name_b), &b));
  struct stat sb;
  REQUIRE(stat(ShmPath(name_b).c_str(), &sb) == 0);

  struct rlimit old;
  REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
  struct rlimit low = old;
  if (low.rlim_cur > 256) low.rlim_cur = 256;  // a few hundred dups instead of the whole limit
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> fds;
  for (;;) {
    int fd = dup(2);
    if (fd < 0) {
      CHECK_EQ(errno, EMFILE);
      break;
    }
    fds.push_back(fd);
  }
  // At the limit now: opening anything fails...
  int probe = shm_open(("/" + name_a).c_str(), O_RDONLY | O_CLOEXEC, 0);
  int probe_errno = errno;
  if (probe >= 0) close(probe);
  CHECK_EQ(probe, -1);
  CHECK_EQ(probe_errno, EMFILE);
  // ...and the names still go.
  Status s1 = a->Unlink();
  Status s2 = smsh::UnlinkIfSame(name_b, sb.st_dev, sb.st_ino);
  bool a_gone = !ShmExists(name_a), b_gone = !ShmExists(name_b);
  for (int fd : fds) close(fd);
  setrlimit(RLIMIT_NOFILE, &old);
  CHECK_OK(s1);
  CHECK_OK(s2);
  CHECK(a->unlinked());
  CHECK(a_gone);
  CHECK(b_gone);
}

SMSH_TEST(unlink_and_unmap_twice_are_safe) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  REQUIRE_OK(Segment::Attach(name, &b));
  // Any side may unlink, and the attacher's view of the name follows.
  CHECK_OK(b->Unlink());
  CHECK(b->unlinked());
  CHECK(!ShmExists(name));
  CHECK_OK(b->Unlink());
  CHECK_OK(a->Unlink());  // already gone: fine
  CHECK_OK(a->Unlink());
  a->Unmap();
  CHECK(!a->mapped());
  CHECK(a->base() == nullptr);
  a->Unmap();
  b->Unmap();
  b->Unmap();
  CHECK(!b->mapped());

  // Unmap first, then Unlink still removes the name.
  const std::string name2 = TestName();
  std::unique_ptr<Segment> c;
  REQUIRE_OK(Segment::Create(Plain(name2), &c));
  c->Unmap();
  CHECK(ShmExists(name2));
  CHECK_OK(c->Unlink());
  CHECK(!ShmExists(name2));
  // The destructor after Unmap is fine too (c goes out of scope).
}

SMSH_TEST(create_rejects_bad_options) {
  const std::string name = TestName();
  std::unique_ptr<Segment> seg;
  auto einval = [&](const CreateOptions& o, const char* what) {
    Status s = Segment::Create(o, &seg);
    if (s.ok() || std::string(s.code) != "EINVAL" || s.err != EINVAL)
      smsh_test::Fail(__FILE__, __LINE__, std::string(what) + ": " + smsh_test::Show(s));
    if (seg) {
      seg->Unlink();
      seg.reset();
    }
    if (ShmExists(name))
      smsh_test::Fail(__FILE__, __LINE__, std::string(what) + ": left an object behind");
  };
  einval(Ring(name, 8192, 3000), "ring capacity 3000");
  einval(Ring(name, 8192, 4097), "ring capacity 4097");
  einval(Ring(name, 8192, 0), "ring capacity 0");
  einval(Ring(name, 8192, 16384), "ring capacity > data_size");
  einval(Ring(name, 8192, 1024), "ring capacity < data_size");
  einval(Plain(name, 0), "data_size 0");
  einval(Plain(name, smsh::kMaxSegmentSize), "data_size too large");
  CreateOptions plain_cap = Plain(name);
  plain_cap.capacity = 4096;
  einval(plain_cap, "plain with capacity");
  CreateOptions unknown = Plain(name);
  unknown.kind = 3;
  einval(unknown, "unknown kind");
  // A power-of-two ring as large as the data region is fine.
  CHECK_OK(Segment::Create(Ring(name, 8192, 8192), &seg));
  if (seg) CHECK_OK(seg->Unlink());
}

SMSH_TEST(no_descriptor_leak_over_1000_cycles) {
  const int before = CountOpenFds();
  REQUIRE(before > 0);
  for (int i = 0; i < 1000; i++) {
    const std::string name = TestName();
    smsh_test::ForgetNames();  // the table is bounded; each name is removed below
    std::unique_ptr<Segment> a, b, c;
    Status s = Segment::Create(i % 2 ? Plain(name, 4096) : Ring(name, 8192, 8192), &a);
    if (!s.ok()) {
      smsh_test::Fail(__FILE__, __LINE__, "cycle " + std::to_string(i) + ": " + smsh_test::Show(s));
      return;
    }
    // Failure paths must close what they opened too.
    if (i % 10 == 0) {
      CHECK_CODE(Segment::Create(Plain(name), &c), "EEXIST");
      a->header()->version = 99;
      CHECK_CODE(Segment::Attach(name, &c), "EVERSION");
      a->header()->version = smsh::kLayoutVersion;
    }
    CHECK_OK(Segment::Attach(name, &b));
    b->Unmap();
    a->Unmap();
    CHECK_OK(a->Unlink());
    if (ShmExists(name)) {
      smsh_test::Fail(__FILE__, __LINE__, "cycle " + std::to_string(i) + " left " + name);
      shm_unlink(("/" + name).c_str());
      return;
    }
  }
  CHECK_EQ(CountOpenFds(), before);
}

SMSH_TEST_MAIN()
