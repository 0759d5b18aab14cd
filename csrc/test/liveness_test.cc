// Liveness: the OFD byte locks a segment's creator and reader hold
// (liveness.h, kFlagLocks in layout.h), what releases them and what does not
// (closing other descriptors, fork, exec, SIGKILL), Inspect (header and locks
// of a named object without mapping it), UnlinkIfSame's identity check, and
// prefaulted (MAP_POPULATE) create/attach.
#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "check.h"
#include "layout.h"
#include "liveness.h"
#include "proc.h"
#include "segment.h"

using smsh::CreateOptions;
using smsh::Header;
using smsh::Inspection;
using smsh::kOwnerLockByte;
using smsh::kReaderLockByte;
using smsh::Segment;
using smsh::Status;
using smsh_test::ShmExists;
using smsh_test::ShmPath;
using smsh_test::TestName;

using smsh_test::CountOpenFds;
using smsh_test::MakeRawObject;

namespace {

// A byte the layout does not use, for locks that are not liveness marks.
constexpr off_t kSpareByte = 2;

CreateOptions Plain(const std::string& name, uint64_t data_size = 8192) {
  CreateOptions o;
  o.name = name;
  o.data_size = data_size;
  return o;
}

// A new open file description of "/<name>", or -1.
int OpenRaw(const std::string& name, int flags = O_RDWR) {
  return shm_open(("/" + name).c_str(), flags | O_CLOEXEC, 0);
}

// ProbeByte through a fresh descriptor: what any other process would see.
// Returns 1 held, 0 not held, -1 error.
int ProbeFresh(const std::string& name, off_t byte) {
  int fd = OpenRaw(name, O_RDONLY);
  if (fd < 0) return -1;
  bool held = false;
  Status s = smsh::ProbeByte(fd, byte, &held);
  close(fd);
  if (!s.ok()) return -1;
  return held ? 1 : 0;
}

// Polls ProbeFresh until it returns `want` or timeout_ms passes; returns
// the last result.
int WaitProbe(const std::string& name, off_t byte, int want, int timeout_ms) {
  const uint64_t deadline = smsh_test::NowMs() + static_cast<uint64_t>(timeout_ms);
  int got = ProbeFresh(name, byte);
  while (got != want && smsh_test::NowMs() < deadline) {
    smsh_test::SleepMs(1);
    got = ProbeFresh(name, byte);
  }
  return got;
}

// Lines of /proc/self/maps that map /dev/shm/<name>.
int CountMappingsOf(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  if (!maps) return -1;
  const std::string path = ShmPath(name);
  int n = 0;
  std::string line;
  while (std::getline(maps, line)) {
    // "... /dev/shm/<name>" or "... /dev/shm/<name> (deleted)"
    size_t at = line.find(path);
    if (at == std::string::npos) continue;
    size_t end = at + path.size();
    if (end == line.size() || line[end] == ' ') n++;
  }
  return n;
}

// Rss in bytes of the mapping that starts at `base` (from /proc/self/smaps),
// or -1 if it is not found.
long long RssOfMapping(const void* base) {
  std::ifstream smaps("/proc/self/smaps");
  if (!smaps) return -1;
  const unsigned long long want = reinterpret_cast<uintptr_t>(base);
  bool in = false;
  std::string line;
  while (std::getline(smaps, line)) {
    // A mapping's first line: "<start>-<end> perms offset dev inode [path]".
    const size_t dash = line.find('-');
    if (dash != std::string::npos && line.find(' ') > dash) {
      char* end = nullptr;
      const unsigned long long start = std::strtoull(line.c_str(), &end, 16);
      if (end == line.c_str() + dash) {
        in = start == want;
        continue;
      }
    }
    if (in && line.compare(0, 4, "Rss:") == 0) {
      std::istringstream fields(line.substr(4));
      long long kb = -1;
      fields >> kb;
      return kb < 0 ? -1 : kb * 1024;
    }
  }
  return -1;
}

// A copy of the header of a freshly created, valid segment.
bool ValidHeaderImage(Header* out) {
  std::unique_ptr<Segment> seg;
  if (!Segment::Create(Plain(TestName()), &seg).ok()) return false;
  std::memcpy(out, seg->header(), sizeof(Header));
  seg->Unlink();
  return true;
}

// Makes every later mmap with MAP_SHARED (or MAP_SHARED_VALIDATE) in this
// process raise SIGSYS, which exits with code 3. Anonymous private mappings
// (malloc, the sanitizers' allocators) are unaffected. False if seccomp
// filters are unavailable here.
#if defined(__x86_64__)
#define SMSH_TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SMSH_TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif
#ifdef SMSH_TEST_AUDIT_ARCH
void ExitOnSigsys(int) { _exit(3); }

bool TrapSharedMmap() {
  struct sigaction sa = {};
  sa.sa_handler = ExitOnSigsys;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) return false;
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SMSH_TEST_AUDIT_ARCH, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 2),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[3])),  // flags, low half
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_SHARED, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
  };
  sock_fprog prog = {static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}
#else
bool TrapSharedMmap() { return false; }
#endif

// ---- child processes ----

struct Child {
  pid_t pid = -1;
  int ready_fd = -1;  // read end: the child writes one byte when set up
  int hold_fd = -1;   // write end: closing it lets the child exit
};

// Forks a child that runs `setup`, reports its result (1 ok, 0 failed) on
// the ready pipe, then blocks until the hold pipe is closed (or the parent
// dies) and exits 0. alarm() is the last resort against a stuck parent.
Child ForkChild(const std::function<bool()>& setup) {
  Child c;
  int ready[2], hold[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return c;
  if (pipe2(hold, O_CLOEXEC) != 0) {
    close(ready[0]);
    close(ready[1]);
    return c;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(30);
    close(ready[0]);
    close(hold[1]);
    char ok = setup() ? 1 : 0;
    while (write(ready[1], &ok, 1) < 0 && errno == EINTR) {
    }
    char b;
    while (read(hold[0], &b, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(ready[1]);
  close(hold[0]);
  if (pid < 0) {
    close(ready[0]);
    close(hold[1]);
    return c;
  }
  c.pid = pid;
  c.ready_fd = ready[0];
  c.hold_fd = hold[1];
  return c;
}

// Waits up to timeout_ms for the child's report: 1 set up, 0 setup failed,
// -1 timed out or the child went away without reporting.
int WaitReady(const Child& c, int timeout_ms) {
  const uint64_t deadline = smsh_test::NowMs() + static_cast<uint64_t>(timeout_ms);
  for (;;) {
    const uint64_t now = smsh_test::NowMs();
    if (now >= deadline) return -1;
    pollfd p{c.ready_fd, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(deadline - now));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return -1;
    char b;
    ssize_t n = read(c.ready_fd, &b, 1);
    if (n < 0 && errno == EINTR) continue;
    return n == 1 ? b : -1;
  }
}

// Reaps the child within timeout_ms (killing it if it overstays); returns
// its wait status.
int Reap(Child& c, int timeout_ms) {
  int status = 0;
  pid_t got = 0;
  const uint64_t deadline = smsh_test::NowMs() + static_cast<uint64_t>(timeout_ms);
  while ((got = waitpid(c.pid, &status, WNOHANG)) == 0 && smsh_test::NowMs() < deadline)
    smsh_test::SleepMs(1);
  if (got == 0) {
    smsh_test::Fail(__FILE__, __LINE__, "child did not exit in time; killing it");
    kill(c.pid, SIGKILL);
    waitpid(c.pid, &status, 0);
  }
  if (c.ready_fd >= 0) close(c.ready_fd);
  if (c.hold_fd >= 0) close(c.hold_fd);
  c = Child();
  return status;
}

// SIGKILL, then reap; true if the child died of that SIGKILL.
bool KillAndReap(Child& c) {
  kill(c.pid, SIGKILL);
  int status = Reap(c, 10000);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

// Lets the child exit normally, then reaps; true if it exited 0.
bool ReleaseAndReap(Child& c) {
  close(c.hold_fd);
  c.hold_fd = -1;
  int status = Reap(c, 10000);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

// ---- the locks a segment's sides hold ----

SMSH_TEST(created_segment_has_flag_and_holds_owner_byte) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  CHECK_EQ(a->header()->flags, smsh::kFlagLocks);
  REQUIRE_OK(Segment::Attach(name, &b));
  CHECK_EQ(b->header()->flags, smsh::kFlagLocks);

  // Another open file description sees the owner's lock: a raw descriptor,
  // read-only or read-write, and an attached Segment.
  CHECK_EQ(ProbeFresh(name, kOwnerLockByte), 1);
  int fd = OpenRaw(name);
  REQUIRE(fd >= 0);
  bool held = false;
  CHECK_OK(smsh::ProbeByte(fd, kOwnerLockByte, &held));
  CHECK(held);
  close(fd);
  held = false;
  CHECK_OK(b->Probe(kOwnerLockByte, &held));
  CHECK(held);
  // The owner's own description does not conflict with itself.
  held = true;
  CHECK_OK(a->Probe(kOwnerLockByte, &held));
  CHECK(!held);
  // Nobody reads yet; the spare byte is free too.
  CHECK_EQ(ProbeFresh(name, kReaderLockByte), 0);
  CHECK_EQ(ProbeFresh(name, kSpareByte), 0);
  held = true;
  CHECK_OK(a->Probe(kReaderLockByte, &held));
  CHECK(!held);

  // A ring segment holds it as well.
  const std::string ring = TestName();
  CreateOptions ro = Plain(ring, 8192);
  ro.kind = smsh::kKindRing;
  ro.capacity = 8192;
  std::unique_ptr<Segment> r;
  REQUIRE_OK(Segment::Create(ro, &r));
  CHECK_EQ(r->header()->flags, smsh::kFlagLocks);
  CHECK_EQ(ProbeFresh(ring, kOwnerLockByte), 1);
  CHECK_OK(r->Unlink());
  CHECK_OK(a->Unlink());
}

SMSH_TEST(reader_byte_lock_conflicts_and_unlocks) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a, b, c;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  REQUIRE_OK(Segment::Attach(name, &b));
  REQUIRE_OK(Segment::Attach(name, &c));

  bool held = true;
  CHECK_OK(a->Probe(kReaderLockByte, &held));
  CHECK(!held);
  bool acquired = false;
  CHECK_OK(b->Lock(kReaderLockByte, &acquired));
  CHECK(acquired);
  // Seen from the creator, the other attacher and a raw descriptor; not
  // from the holder's own description.
  held = false;
  CHECK_OK(a->Probe(kReaderLockByte, &held));
  CHECK(held);
  held = false;
  CHECK_OK(c->Probe(kReaderLockByte, &held));
  CHECK(held);
  CHECK_EQ(ProbeFresh(name, kReaderLockByte), 1);
  held = true;
  CHECK_OK(b->Probe(kReaderLockByte, &held));
  CHECK(!held);

  // Held by another description: not acquired, and no error.
  acquired = true;
  CHECK_OK(c->Lock(kReaderLockByte, &acquired));
  CHECK(!acquired);
  acquired = true;
  CHECK_OK(a->Lock(kReaderLockByte, &acquired));
  CHECK(!acquired);
  int fd = OpenRaw(name);
  REQUIRE(fd >= 0);
  acquired = true;
  CHECK_OK(smsh::LockByte(fd, kReaderLockByte, &acquired));
  CHECK(!acquired);
  // The owner byte likewise, from anyone but the creator.
  acquired = true;
  CHECK_OK(b->Lock(kOwnerLockByte, &acquired));
  CHECK(!acquired);
  acquired = true;
  CHECK_OK(smsh::LockByte(fd, kOwnerLockByte, &acquired));
  CHECK(!acquired);
  // Re-locking a byte one already holds succeeds (same description).
  acquired = false;
  CHECK_OK(b->Lock(kReaderLockByte, &acquired));
  CHECK(acquired);
  acquired = false;
  CHECK_OK(a->Lock(kOwnerLockByte, &acquired));
  CHECK(acquired);

  // Unlock releases it (once, although locked twice: locks do not nest).
  b->Unlock(kReaderLockByte);
  CHECK_EQ(ProbeFresh(name, kReaderLockByte), 0);
  held = true;
  CHECK_OK(a->Probe(kReaderLockByte, &held));
  CHECK(!held);
  // ...and the next reader gets it.
  acquired = false;
  CHECK_OK(c->Lock(kReaderLockByte, &acquired));
  CHECK(acquired);
  acquired = true;
  CHECK_OK(smsh::LockByte(fd, kReaderLockByte, &acquired));
  CHECK(!acquired);
  // Unlocking a byte one does not hold changes nothing.
  b->Unlock(kReaderLockByte);
  smsh::UnlockByte(fd, kReaderLockByte);
  CHECK_EQ(ProbeFresh(name, kReaderLockByte), 1);
  // Unmap (close) releases a Segment's locks.
  c->Unmap();
  CHECK_EQ(ProbeFresh(name, kReaderLockByte), 0);
  acquired = false;
  CHECK_OK(smsh::LockByte(fd, kReaderLockByte, &acquired));
  CHECK(acquired);
  smsh::UnlockByte(fd, kReaderLockByte);
  CHECK_EQ(ProbeFresh(name, kReaderLockByte), 0);
  close(fd);

  // The owner's lock goes with the owner's Unmap; the object stays.
  CHECK_EQ(ProbeFresh(name, kOwnerLockByte), 1);
  a->Unmap();
  CHECK_EQ(ProbeFresh(name, kOwnerLockByte), 0);
  CHECK(ShmExists(name));
  CHECK_OK(b->Unlink());
}

SMSH_TEST(lock_and_probe_on_closed_segment_are_eclosed) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  a->Unmap();
  bool flag = false;
  CHECK_CODE(a->Lock(kReaderLockByte, &flag), "ECLOSED");
  CHECK_CODE(a->Probe(kOwnerLockByte, &flag), "ECLOSED");
  a->Unlock(kReaderLockByte);  // a no-op
  CHECK_OK(a->Unlink());
}

SMSH_TEST(probe_works_on_read_only_descriptor_lock_does_not) {
  // Inspect probes through an O_RDONLY descriptor: F_OFD_GETLK must work
  // there. A write lock needs a writable descriptor.
  const std::string name = TestName();
  std::unique_ptr<Segment> a;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  int ro = OpenRaw(name, O_RDONLY);
  REQUIRE(ro >= 0);
  bool held = false;
  CHECK_OK(smsh::ProbeByte(ro, kOwnerLockByte, &held));
  CHECK(held);
  bool acquired = true;
  Status s = smsh::LockByte(ro, kReaderLockByte, &acquired);
  CHECK_CODE(s, "EBADF");
  CHECK_EQ(std::string(s.syscall), std::string("fcntl"));
  close(ro);
  // A bad descriptor is an error, not "not held".
  CHECK_CODE(smsh::ProbeByte(-1, kOwnerLockByte, &held), "EBADF");
  CHECK_OK(a->Unlink());
}

// ---- OFD semantics: what does and does not drop a lock ----

SMSH_TEST(closing_other_descriptors_keeps_owner_lock) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  int probe_fd = OpenRaw(name, O_RDONLY);
  REQUIRE(probe_fd >= 0);
  auto owner_held = [&] {
    bool held = false;
    Status s = smsh::ProbeByte(probe_fd, kOwnerLockByte, &held);
    return s.ok() && held;
  };
  CHECK(owner_held());

  // Classic POSIX locks would be dropped by each of these closes.
  int fd = OpenRaw(name);
  REQUIRE(fd >= 0);
  close(fd);
  CHECK(owner_held());
  fd = OpenRaw(name, O_RDONLY);
  REQUIRE(fd >= 0);
  close(fd);
  CHECK(owner_held());
  {
    std::unique_ptr<Segment> b;
    REQUIRE_OK(Segment::Attach(name, &b));
    b->Unmap();
  }
  CHECK(owner_held());
  Inspection in;
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK(in.owner_locked);
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK(in.owner_locked);
  CHECK(owner_held());
  CHECK_OK(smsh::UnlinkIfSame(name, in.dev, in.ino + 1));  // opens, closes, leaves it
  CHECK(ShmExists(name));
  CHECK(owner_held());

  // The control: a classic (process-owned) lock taken the same way is seen
  // by the probe, and is dropped by closing an unrelated descriptor.
  int classic = OpenRaw(name);
  REQUIRE(classic >= 0);
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = kSpareByte;
  fl.l_len = 1;
  REQUIRE(fcntl(classic, F_SETLK, &fl) == 0);
  bool held = false;
  CHECK_OK(smsh::ProbeByte(probe_fd, kSpareByte, &held));
  CHECK(held);
  fd = OpenRaw(name, O_RDONLY);
  REQUIRE(fd >= 0);
  close(fd);
  held = true;
  CHECK_OK(smsh::ProbeByte(probe_fd, kSpareByte, &held));
  CHECK(!held);  // gone, though `classic` is still open
  close(classic);

  // An OFD lock lives until the description's last reference goes: a dup
  // keeps it after the original descriptor is closed...
  int lk = OpenRaw(name);
  REQUIRE(lk >= 0);
  bool acquired = false;
  CHECK_OK(smsh::LockByte(lk, kSpareByte, &acquired));
  CHECK(acquired);
  int dupd = fcntl(lk, F_DUPFD_CLOEXEC, 0);
  REQUIRE(dupd >= 0);
  close(lk);
  held = false;
  CHECK_OK(smsh::ProbeByte(probe_fd, kSpareByte, &held));
  CHECK(held);
  // ...and so does a mapping made through it.
  void* m = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, dupd, 0);
  REQUIRE(m != MAP_FAILED);
  close(dupd);
  held = false;
  CHECK_OK(smsh::ProbeByte(probe_fd, kSpareByte, &held));
  CHECK(held);
  munmap(m, 4096);
  held = true;
  CHECK_OK(smsh::ProbeByte(probe_fd, kSpareByte, &held));
  CHECK(!held);

  // Unlinking the name does not drop the owner's lock either.
  CHECK_OK(a->Unlink());
  CHECK(!ShmExists(name));
  CHECK(owner_held());
  a->Unmap();
  CHECK(!owner_held());
  close(probe_fd);
}

// ---- death, fork and exec ----

SMSH_TEST(killed_creator_releases_owner_lock) {
  const std::string name = TestName();
  Child c = ForkChild([&] {
    std::unique_ptr<Segment> seg;
    if (!Segment::Create(Plain(name), &seg).ok()) return false;
    (void)seg.release();  // the child keeps it until it dies
    return true;
  });
  REQUIRE(c.pid > 0);
  const int ready = WaitReady(c, 10000);
  if (ready != 1) {
    smsh_test::Fail(__FILE__, __LINE__, "child did not create the segment: " + std::to_string(ready));
    KillAndReap(c);
    shm_unlink(("/" + name).c_str());
    return;
  }
  CHECK_EQ(ProbeFresh(name, kOwnerLockByte), 1);
  Inspection in;
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK_OK(in.validity);
  CHECK(in.owner_locked);
  CHECK_EQ(in.header.owner_pid, static_cast<uint32_t>(c.pid));
  CHECK_EQ(in.header.flags, smsh::kFlagLocks);
  // An attached Segment here sees the child's lock.
  std::unique_ptr<Segment> b;
  REQUIRE_OK(Segment::Attach(name, &b));
  bool held = false;
  CHECK_OK(b->Probe(kOwnerLockByte, &held));
  CHECK(held);

  const uint64_t t0 = smsh_test::NowMs();
  CHECK(KillAndReap(c));
  // Reaped: the kernel has closed the child's files and dropped its lock.
  held = true;
  CHECK_OK(b->Probe(kOwnerLockByte, &held));
  CHECK(!held);
  CHECK_EQ(ProbeFresh(name, kOwnerLockByte), 0);
  CHECK_LT(smsh_test::NowMs() - t0, uint64_t{5000});
  // The object outlives its creator: valid, unlocked, i.e. stale.
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK_OK(in.validity);
  CHECK(!in.owner_locked);
  CHECK(!in.reader_locked);
  // Someone may now claim the byte.
  bool acquired = false;
  CHECK_OK(b->Lock(kOwnerLockByte, &acquired));
  CHECK(acquired);
  b->Unlock(kOwnerLockByte);
  CHECK_OK(smsh::UnlinkIfSame(name, in.dev, in.ino));
  CHECK(!ShmExists(name));
}

SMSH_TEST(killed_reader_releases_reader_lock) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  Child c = ForkChild([&] {
    std::unique_ptr<Segment> seg;
    if (!Segment::Attach(name, &seg).ok()) return false;
    bool acquired = false;
    if (!seg->Lock(kReaderLockByte, &acquired).ok() || !acquired) return false;
    (void)seg.release();
    return true;
  });
  REQUIRE(c.pid > 0);
  const int ready = WaitReady(c, 10000);
  if (ready != 1) {
    smsh_test::Fail(__FILE__, __LINE__, "child did not lock the reader byte: " + std::to_string(ready));
    KillAndReap(c);
    a->Unlink();
    return;
  }
  bool held = false;
  CHECK_OK(a->Probe(kReaderLockByte, &held));
  CHECK(held);
  Inspection in;
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK(in.reader_locked);
  CHECK(in.owner_locked);
  bool acquired = true;
  CHECK_OK(a->Lock(kReaderLockByte, &acquired));
  CHECK(!acquired);

  CHECK(KillAndReap(c));
  held = true;
  CHECK_OK(a->Probe(kReaderLockByte, &held));
  CHECK(!held);
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK(!in.reader_locked);
  CHECK(in.owner_locked);  // the creator lives on
  acquired = false;
  CHECK_OK(a->Lock(kReaderLockByte, &acquired));
  CHECK(acquired);
  CHECK_OK(a->Unlink());
}

SMSH_TEST(cleanly_exiting_child_releases_its_locks) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  Child c = ForkChild([&] {
    std::unique_ptr<Segment> seg;
    if (!Segment::Attach(name, &seg).ok()) return false;
    bool acquired = false;
    if (!seg->Lock(kReaderLockByte, &acquired).ok() || !acquired) return false;
    (void)seg.release();  // not unlocked, not unmapped: _exit does it
    return true;
  });
  REQUIRE(c.pid > 0);
  CHECK_EQ(WaitReady(c, 10000), 1);
  CHECK_EQ(ProbeFresh(name, kReaderLockByte), 1);
  CHECK(ReleaseAndReap(c));
  CHECK_EQ(ProbeFresh(name, kReaderLockByte), 0);
  CHECK_OK(a->Unlink());
}

SMSH_TEST(fork_shares_owner_lock_exec_does_not) {
  // A forked child shares the creator's open file description, so the lock
  // lives while either holds it; O_CLOEXEC closes it in an exec'd child.
  const std::string name = TestName();
  std::unique_ptr<Segment> a;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  Child c = ForkChild([] { return true; });
  REQUIRE(c.pid > 0);
  CHECK_EQ(WaitReady(c, 10000), 1);
  a->Unmap();
  CHECK_EQ(ProbeFresh(name, kOwnerLockByte), 1);  // the child's copy holds it
  CHECK(KillAndReap(c));
  CHECK_EQ(ProbeFresh(name, kOwnerLockByte), 0);
  CHECK_OK(a->Unlink());

  const std::string name2 = TestName();
  std::unique_ptr<Segment> b;
  REQUIRE_OK(Segment::Create(Plain(name2), &b));
  int execd[2];
  REQUIRE(pipe2(execd, O_CLOEXEC) == 0);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    close(execd[0]);
    execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    char e = 1;
    (void)!write(execd[1], &e, 1);
    _exit(127);
  }
  close(execd[1]);
  if (pid < 0) {
    close(execd[0]);
    smsh_test::Fail(__FILE__, __LINE__, "fork failed");
    b->Unlink();
    return;
  }
  // EOF on the close-on-exec pipe: the exec has happened.
  Child ex;
  ex.pid = pid;
  ex.ready_fd = execd[0];
  const int r = WaitReady(ex, 10000);
  CHECK_EQ(r, -1);  // EOF, not the "exec failed" byte
  b->Unmap();
  // The exec'd child holds nothing. (A short wait: the exec drops its copy
  // of the descriptor as it closes the pipe, not necessarily before.)
  CHECK_EQ(WaitProbe(name2, kOwnerLockByte, 0, 2000), 0);
  CHECK_EQ(waitpid(pid, nullptr, WNOHANG), 0);      // though it still runs
  CHECK(KillAndReap(ex));
  CHECK_OK(b->Unlink());
}

// ---- Inspect ----

SMSH_TEST(inspect_live_segment) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(Plain(name, 3 * 4096), &a));
  struct stat st;
  REQUIRE(stat(ShmPath(name).c_str(), &st) == 0);
  const int fds = CountOpenFds();
  const int maps = CountMappingsOf(name);
  CHECK_EQ(maps, 1);  // the creator's

  Inspection in;
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK_EQ(in.size, uint64_t{4 * 4096});
  CHECK_EQ(in.uid, static_cast<uint32_t>(geteuid()));
  CHECK_EQ(in.mode, 0600u);
  CHECK_EQ(in.dev, static_cast<uint64_t>(st.st_dev));
  CHECK_EQ(in.ino, static_cast<uint64_t>(st.st_ino));
  CHECK_OK(in.validity);
  CHECK_EQ(in.header.magic, smsh::kMagic);
  CHECK_EQ(in.header.version, smsh::kLayoutVersion);
  CHECK_EQ(in.header.segment_size, uint64_t{4 * 4096});
  CHECK_EQ(in.header.data_size, uint64_t{3 * 4096});
  CHECK_EQ(in.header.flags, smsh::kFlagLocks);
  CHECK_EQ(in.header.owner_pid, static_cast<uint32_t>(getpid()));
  CHECK_EQ(in.header.owner_start_time, smsh::SelfStartTime());
  CHECK(std::memcmp(in.header.token, a->token(), smsh::kTokenSize) == 0);
  // Our own process holds the lock through another description: seen.
  CHECK(in.owner_locked);
  CHECK(!in.reader_locked);
  // Nothing left open or mapped by it.
  CHECK_EQ(CountOpenFds(), fds);
  CHECK_EQ(CountMappingsOf(name), maps);

  REQUIRE_OK(Segment::Attach(name, &b));
  bool acquired = false;
  CHECK_OK(b->Lock(kReaderLockByte, &acquired));
  CHECK(acquired);
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK(in.owner_locked);
  CHECK(in.reader_locked);
  b->Unlock(kReaderLockByte);
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK(!in.reader_locked);

  // Reader-side header fields are what the header says, read without a map.
  b->header()->reader_pid = 4242;
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK_EQ(in.header.reader_pid, 4242u);

  // The owner gone (unmapped, name kept): still valid, no longer locked.
  a->Unmap();
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK_OK(in.validity);
  CHECK(!in.owner_locked);
  CHECK_OK(b->Unlink());
}

SMSH_TEST(inspect_reports_mode_and_invalid_objects) {
  // Garbage: random bytes whose magic is neither 0 nor ours.
  std::vector<uint8_t> bytes(8192);
  REQUIRE_OK(smsh::RandomBytes(bytes.data(), bytes.size()));
  uint32_t magic;
  std::memcpy(&magic, bytes.data(), 4);
  if (magic == 0 || magic == smsh::kMagic) bytes[0] ^= 0x5A;
  const std::string garbage = TestName();
  REQUIRE(MakeRawObject(garbage, bytes, 0644));
  Inspection in;
  CHECK_OK(smsh::Inspect(garbage, &in));
  CHECK_CODE(in.validity, "ECORRUPT");
  CHECK_EQ(in.size, uint64_t{8192});
  CHECK_EQ(in.mode, 0644u);
  CHECK_EQ(in.uid, static_cast<uint32_t>(geteuid()));
  CHECK(std::memcmp(&in.header, bytes.data(), sizeof(Header)) == 0);
  CHECK(!in.owner_locked);
  CHECK(!in.reader_locked);

  // Empty: a creator between shm_open and publishing.
  const std::string empty = TestName();
  REQUIRE(MakeRawObject(empty, {}));
  CHECK_OK(smsh::Inspect(empty, &in));
  CHECK_CODE(in.validity, "EAGAIN");
  CHECK_EQ(in.size, uint64_t{0});
  CHECK_EQ(in.mode, 0600u);
  CHECK_EQ(in.header.magic, 0u);
  // Sized but zero: also not published yet.
  const std::string zeros = TestName();
  REQUIRE(MakeRawObject(zeros, std::vector<uint8_t>(8192, 0)));
  CHECK_OK(smsh::Inspect(zeros, &in));
  CHECK_CODE(in.validity, "EAGAIN");
  // Shorter than a header, the rest of the image zero-filled.
  const std::string shortobj = TestName();
  REQUIRE(MakeRawObject(shortobj, std::vector<uint8_t>(100, 0xAB)));
  CHECK_OK(smsh::Inspect(shortobj, &in));
  CHECK_CODE(in.validity, "ECORRUPT");
  CHECK_EQ(in.size, uint64_t{100});
  CHECK_EQ(in.header.magic, 0xABABABABu);
  CHECK_EQ(in.header.pad_rest[sizeof(in.header.pad_rest) - 1], uint8_t{0});
  // A valid header from another layout version.
  Header h;
  REQUIRE(ValidHeaderImage(&h));
  h.version = smsh::kLayoutVersion + 1;
  std::vector<uint8_t> image(sizeof(Header) + 8192);
  std::memcpy(image.data(), &h, sizeof(h));
  const std::string version = TestName();
  REQUIRE(MakeRawObject(version, image));
  CHECK_OK(smsh::Inspect(version, &in));
  CHECK_CODE(in.validity, "EVERSION");
  // A valid header claiming more bytes than the object has.
  h.version = smsh::kLayoutVersion;
  image.assign(sizeof(Header), 0);
  std::memcpy(image.data(), &h, sizeof(h));
  const std::string truncated = TestName();
  REQUIRE(MakeRawObject(truncated, image));
  CHECK_OK(smsh::Inspect(truncated, &in));
  CHECK_CODE(in.validity, "ECORRUPT");

  // Errors of Inspect itself: the object cannot be opened.
  const std::string missing = TestName();
  Status s = smsh::Inspect(missing, &in);
  CHECK_CODE(s, "ENOENT");
  CHECK_EQ(s.err, ENOENT);
  CHECK_CODE(smsh::Inspect("no/slash", &in), "EINVAL");
  CHECK_CODE(smsh::Inspect("", &in), "EINVAL");

  for (const std::string* n : {&garbage, &empty, &zeros, &shortobj, &version, &truncated})
    shm_unlink(("/" + *n).c_str());
}

SMSH_TEST(inspect_never_maps_or_changes_the_object) {
  // A valid, unowned object this process has never mapped.
  Header h;
  REQUIRE(ValidHeaderImage(&h));
  std::vector<uint8_t> image(h.segment_size, 0);
  std::memcpy(image.data(), &h, sizeof(h));
  const std::string name = TestName();
  REQUIRE(MakeRawObject(name, image));
  struct stat before;
  REQUIRE(stat(ShmPath(name).c_str(), &before) == 0);
  CHECK_EQ(CountMappingsOf(name), 0);
  const int fds = CountOpenFds();
  Inspection in;
  for (int i = 0; i < 3; i++) {
    CHECK_OK(smsh::Inspect(name, &in));
    CHECK_EQ(CountMappingsOf(name), 0);
  }
  CHECK_OK(in.validity);
  CHECK(!in.owner_locked);
  CHECK_EQ(CountOpenFds(), fds);
  struct stat after;
  REQUIRE(stat(ShmPath(name).c_str(), &after) == 0);
  CHECK_EQ(after.st_size, before.st_size);
  CHECK_EQ(after.st_mode, before.st_mode);
  CHECK_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  CHECK_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  // It took no lock: a writer can lock both bytes right after.
  int fd = OpenRaw(name);
  REQUIRE(fd >= 0);
  bool acquired = false;
  CHECK_OK(smsh::LockByte(fd, kOwnerLockByte, &acquired));
  CHECK(acquired);
  acquired = false;
  CHECK_OK(smsh::LockByte(fd, kReaderLockByte, &acquired));
  CHECK(acquired);
  CHECK_OK(smsh::Inspect(name, &in));
  CHECK(in.owner_locked);
  CHECK(in.reader_locked);
  close(fd);
  shm_unlink(("/" + name).c_str());
}

SMSH_TEST(inspect_makes_no_shared_mapping_under_seccomp) {
  // Proof beyond /proc/self/maps (which a map-and-unmap would not show):
  // children in which any shared mmap is fatal (exit 3). Exit codes: 0 ok,
  // 2 the operation failed, 3 it made a shared mapping, 4 no seccomp.
  Header h;
  REQUIRE(ValidHeaderImage(&h));
  std::vector<uint8_t> image(h.segment_size, 0);
  std::memcpy(image.data(), &h, sizeof(h));
  const std::string name = TestName();
  REQUIRE(MakeRawObject(name, image));
  auto run_child = [&](const std::function<bool()>& op) {
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(30);
      if (!TrapSharedMmap()) _exit(4);
      _exit(op() ? 0 : 2);
    }
    if (pid < 0) return -1;
    Child c;
    c.pid = pid;
    int status = Reap(c, 10000);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  };
  // The control: the filter catches a shared mapping of the object.
  const int control = run_child([&] {
    int fd = OpenRaw(name, O_RDONLY);
    if (fd < 0) return false;
    void* m = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
    return m != MAP_FAILED;
  });
  if (control == 4) {
    std::printf("    (seccomp filters unavailable here: case skipped)\n");
    shm_unlink(("/" + name).c_str());
    return;
  }
  CHECK_EQ(control, 3);
  // Inspect, on a valid object and on one a live owner holds.
  CHECK_EQ(run_child([&] {
             Inspection in;
             return smsh::Inspect(name, &in).ok() && in.validity.ok() && !in.owner_locked;
           }),
           0);
  std::unique_ptr<Segment> a;
  const std::string live = TestName();
  REQUIRE_OK(Segment::Create(Plain(live), &a));
  CHECK_EQ(run_child([&] {
             Inspection in;
             return smsh::Inspect(live, &in).ok() && in.validity.ok() && in.owner_locked;
           }),
           0);
  // UnlinkIfSame does not map either (and removes the raw object).
  struct stat st;
  REQUIRE(stat(ShmPath(name).c_str(), &st) == 0);
  CHECK_EQ(run_child([&] { return smsh::UnlinkIfSame(name, st.st_dev, st.st_ino).ok(); }), 0);
  CHECK(!ShmExists(name));
  shm_unlink(("/" + name).c_str());
  CHECK_OK(a->Unlink());
}

SMSH_TEST(inspect_and_unlink_if_same_do_not_follow_symlinks) {
  const std::string target = TestName();
  std::unique_ptr<Segment> a;
  REQUIRE_OK(Segment::Create(Plain(target), &a));
  const std::string link = TestName();
  REQUIRE(symlink(target.c_str(), ShmPath(link).c_str()) == 0);
  Inspection in;
  Status s = smsh::Inspect(link, &in);
  CHECK(!s.ok());
  CHECK_EQ(s.err, ELOOP);
  struct stat st;
  REQUIRE(stat(ShmPath(target).c_str(), &st) == 0);
  // A symlink is never the object: nothing is removed (the identity check
  // is an lstat, which does not follow it).
  CHECK_OK(smsh::UnlinkIfSame(link, st.st_dev, st.st_ino));
  CHECK(ShmExists(target));
  struct stat lst;
  CHECK_EQ(lstat(ShmPath(link).c_str(), &lst), 0);
  shm_unlink(("/" + link).c_str());
  CHECK_OK(a->Unlink());
}

// ---- UnlinkIfSame ----

SMSH_TEST(unlink_if_same_checks_identity) {
  const std::string name = TestName();
  std::unique_ptr<Segment> a;
  REQUIRE_OK(Segment::Create(Plain(name), &a));
  Inspection in;
  REQUIRE_OK(smsh::Inspect(name, &in));

  CHECK_OK(smsh::UnlinkIfSame(name, in.dev, in.ino + 1));
  CHECK(ShmExists(name));
  CHECK_OK(smsh::UnlinkIfSame(name, in.dev + 1, in.ino));
  CHECK(ShmExists(name));
  CHECK_OK(smsh::UnlinkIfSame(name, 0, 0));
  CHECK(ShmExists(name));
  CHECK_OK(smsh::UnlinkIfSame(name, in.dev, in.ino));
  CHECK(!ShmExists(name));
  // Missing: fine, twice.
  CHECK_OK(smsh::UnlinkIfSame(name, in.dev, in.ino));
  CHECK_OK(smsh::UnlinkIfSame(TestName(), in.dev, in.ino));
  CHECK_CODE(smsh::UnlinkIfSame("a/b", in.dev, in.ino), "EINVAL");
  CHECK_CODE(smsh::UnlinkIfSame("", in.dev, in.ino), "EINVAL");
  // The mapping outlives the name, and the lock with it.
  a->base()[smsh::kHeaderSize] = 7;
  CHECK_EQ(a->base()[smsh::kHeaderSize], uint8_t{7});

  // A sweep decided on an old inspection spares a new object of that name.
  // (The old object stays alive, mapped, so its inode cannot be reused.)
  const std::string name2 = TestName();
  std::unique_ptr<Segment> old_seg, new_seg;
  REQUIRE_OK(Segment::Create(Plain(name2), &old_seg));
  Inspection old_in;
  REQUIRE_OK(smsh::Inspect(name2, &old_in));
  REQUIRE(shm_unlink(("/" + name2).c_str()) == 0);
  REQUIRE_OK(Segment::Create(Plain(name2), &new_seg));
  CHECK_OK(smsh::UnlinkIfSame(name2, old_in.dev, old_in.ino));
  CHECK(ShmExists(name2));
  Inspection new_in;
  CHECK_OK(smsh::Inspect(name2, &new_in));
  CHECK(std::memcmp(new_in.header.token, new_seg->token(), smsh::kTokenSize) == 0);
  CHECK_OK(smsh::UnlinkIfSame(name2, new_in.dev, new_in.ino));
  CHECK(!ShmExists(name2));
  // new_seg's own Unlink now finds its name gone: fine.
  CHECK_OK(new_seg->Unlink());
  CHECK_OK(old_seg->Unlink());
}

SMSH_TEST(unlink_if_same_removes_foreign_and_empty_objects) {
  // A sweep may remove what Inspect found invalid, by the same identity.
  const std::string empty = TestName();
  REQUIRE(MakeRawObject(empty, {}));
  Inspection in;
  REQUIRE_OK(smsh::Inspect(empty, &in));
  CHECK_CODE(in.validity, "EAGAIN");
  CHECK_OK(smsh::UnlinkIfSame(empty, in.dev, in.ino));
  CHECK(!ShmExists(empty));

  const std::string junk = TestName();
  REQUIRE(MakeRawObject(junk, std::vector<uint8_t>(5000, 0x33)));
  REQUIRE_OK(smsh::Inspect(junk, &in));
  CHECK_CODE(in.validity, "ECORRUPT");
  CHECK_OK(smsh::UnlinkIfSame(junk, in.dev, in.ino));
  CHECK(!ShmExists(junk));
}

// ---- prefault ----

SMSH_TEST(prefault_create_and_attach_share_bytes) {
  const std::string name = TestName();
  const uint64_t data = 64 * 4096;
  CreateOptions o = Plain(name, data);
  o.prefault = true;
  std::unique_ptr<Segment> a, b, c;
  REQUIRE_OK(Segment::Create(o, &a));
  REQUIRE_OK(Segment::Attach(name, &b, /*prefault=*/true));
  REQUIRE_OK(Segment::Attach(name, &c));  // not prefaulted
  CHECK_EQ(b->size(), a->size());
  CHECK_EQ(a->header()->flags, smsh::kFlagLocks);
  CHECK_EQ(ProbeFresh(name, kOwnerLockByte), 1);

  // MAP_POPULATE filled the page tables: the whole mapping is resident
  // before anyone touched the data; the plain attach has nothing yet.
  const long long size = static_cast<long long>(a->size());
  CHECK_EQ(RssOfMapping(a->base()), size);
  CHECK_EQ(RssOfMapping(b->base()), size);
  const long long plain_rss = RssOfMapping(c->base());
  CHECK_GE(plain_rss, 0LL);
  CHECK_LT(plain_rss, size);

  uint8_t* da = a->base() + smsh::kHeaderSize;
  uint8_t* db = b->base() + smsh::kHeaderSize;
  uint8_t* dc = c->base() + smsh::kHeaderSize;
  for (uint64_t i = 0; i < data; i++) da[i] = static_cast<uint8_t>(i * 13 + 5);
  bool same = true;
  for (uint64_t i = 0; i < data; i++)
    same = same && db[i] == static_cast<uint8_t>(i * 13 + 5) && dc[i] == db[i];
  CHECK(same);
  db[data - 1] = 0x5C;
  CHECK_EQ(da[data - 1], uint8_t{0x5C});
  CHECK_EQ(dc[data - 1], uint8_t{0x5C});

  // A prefaulted ring, too.
  const std::string ring = TestName();
  CreateOptions ro = Plain(ring, 16384);
  ro.kind = smsh::kKindRing;
  ro.capacity = 16384;
  ro.prefault = true;
  std::unique_ptr<Segment> r, s;
  REQUIRE_OK(Segment::Create(ro, &r));
  REQUIRE_OK(Segment::Attach(ring, &s, true));
  CHECK_EQ(s->capacity(), 16384u);
  r->base()[smsh::kHeaderSize + 100] = 9;
  CHECK_EQ(s->base()[smsh::kHeaderSize + 100], uint8_t{9});
  CHECK_OK(r->Unlink());
  CHECK_OK(a->Unlink());
}

SMSH_TEST_MAIN()

// ---- pidfd watch of a peer process ----

namespace {

// poll() a pidfd: 1 readable (the process exited), 0 not within timeout_ms.
int PidfdReadable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int rc;
  do {
    rc = poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  return rc > 0 && (p.revents & POLLIN) ? 1 : 0;
}

}  // namespace

SMSH_TEST(pidfd_watch_fires_when_the_process_exits_and_checks_start_time) {
  Child c = ForkChild([] { return true; });
  REQUIRE(c.pid > 0);
  REQUIRE(WaitReady(c, 10000) == 1);
  uint64_t start = 0;
  REQUIRE_OK(smsh::ProcessStartTime(static_cast<uint32_t>(c.pid), &start));

  int fd = -1;
  bool found = false;
  // Another start time under the same pid: a reused pid, not our process.
  CHECK_OK(smsh::OpenPidfd(static_cast<uint32_t>(c.pid), start + 1, &fd, &found));
  CHECK(!found);
  CHECK_EQ(fd, -1);

  CHECK_OK(smsh::OpenPidfd(static_cast<uint32_t>(c.pid), start, &fd, &found));
  CHECK(found);
  REQUIRE(fd >= 0);
  CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  CHECK_EQ(PidfdReadable(fd, 50), 0);  // alive: nothing to read
  CHECK(KillAndReap(c));
  CHECK_EQ(PidfdReadable(fd, 5000), 1);  // gone: readable, no polling needed
  close(fd);

  // The pid is free (or someone else's) now: not found.
  fd = -1;
  CHECK_OK(smsh::OpenPidfd(static_cast<uint32_t>(c.pid), start, &fd, &found));
  CHECK(!found);
  CHECK_EQ(fd, -1);
}

SMSH_TEST(self_start_time_matches_proc_self) {
  uint64_t t = 0;
  REQUIRE_OK(smsh::ProcessStartTime(smsh::SelfPid(), &t));
  CHECK_EQ(smsh::SelfStartTime(), t);
  CHECK(t > 0);
}
