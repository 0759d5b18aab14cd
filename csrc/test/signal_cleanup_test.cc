// Signal cleanup: the registry of owned names (slots reused, identity
// checked before unlinking, concurrent writers and lock-free readers) and
// the handler (installed only over the default action or an accepted
// handler; unlinks, then the process dies of the signal; chains to the
// handler it replaced). Cases that deliver a signal run in a forked child.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "segment.h"
#include "signal_cleanup.h"

using smsh::ArmSignalCleanup;
using smsh::CountOwnedNames;
using smsh::CreateOptions;
using smsh::OwnedName;
using smsh::RegisterOwnedName;
using smsh::RegisterOwnedPath;
using smsh::Segment;
using smsh::SignalCleanupArmed;
using smsh::UnlinkOwnedNames;
using smsh::UnregisterOwnedName;
using smsh_test::ShmExists;
using smsh_test::TestName;

namespace {

CreateOptions Plain(const std::string& name) {
  CreateOptions o;
  o.name = name;
  o.data_size = 4096;
  return o;
}

OwnedName* RegisterSegment(const Segment& seg) {
  return RegisterOwnedName(seg.name(), static_cast<uint64_t>(seg.dev()), static_cast<uint64_t>(seg.ino()));
}

// Saves a signal's disposition and puts it back at the end of a case.
class SavedDisposition {
 public:
  explicit SavedDisposition(int signo) : signo_(signo) { sigaction(signo_, nullptr, &saved_); }
  ~SavedDisposition() { sigaction(signo_, &saved_, nullptr); }

 private:
  int signo_;
  struct sigaction saved_;
};

void Set(int signo, void (*handler)(int), int flags = 0) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = flags;
  sigaction(signo, &sa, nullptr);
}

void Foreign(int) {}

int g_chain_pipe = -1;

// Stands in for Node's own exit handler: one-shot (SA_RESETHAND), says it
// ran, raises the signal again.
void ExitHandler(int signo) {
  char c = 'H';
  ssize_t n = write(g_chain_pipe, &c, 1);
  (void)n;
  raise(signo);
}

bool AcceptExitHandler(const struct sigaction& sa) {
  return (sa.sa_flags & SA_SIGINFO) == 0 && sa.sa_handler == ExitHandler;
}

// Runs `child` in a forked process; returns its wait status.
template <typename F>
int InChild(F child) {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    child();
    _exit(100);  // the child was meant to die of a signal
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

SMSH_TEST(registry_counts_and_reuses_slots) {
  const int base = CountOwnedNames();
  std::vector<OwnedName*> entries;
  for (int i = 0; i < 200; i++) {  // more than one chunk of slots
    OwnedName* e = RegisterOwnedName("smsh-ntest-none-" + std::to_string(i), 1, static_cast<uint64_t>(i));
    CHECK(e != nullptr);
    entries.push_back(e);
  }
  CHECK_EQ(CountOwnedNames(), base + 200);
  for (size_t i = 0; i < entries.size(); i += 2) UnregisterOwnedName(entries[i]);
  CHECK_EQ(CountOwnedNames(), base + 100);
  // Freed slots are reused before any new one.
  OwnedName* again = RegisterOwnedName("smsh-ntest-none-again", 1, 1);
  bool reused = false;
  for (size_t i = 0; i < entries.size(); i += 2) reused = reused || entries[i] == again;
  CHECK(reused);
  UnregisterOwnedName(again);
  for (size_t i = 1; i < entries.size(); i += 2) UnregisterOwnedName(entries[i]);
  CHECK_EQ(CountOwnedNames(), base);
  UnregisterOwnedName(nullptr);  // allowed, does nothing
}

SMSH_TEST(registry_refuses_names_it_cannot_hold) {
  CHECK(RegisterOwnedName("", 1, 1) == nullptr);
  CHECK(RegisterOwnedName(std::string(smsh::kMaxNameLength + 10, 'a'), 1, 1) == nullptr);
  OwnedName* longest = RegisterOwnedName(std::string(smsh::kMaxNameLength, 'a'), 1, 1);
  CHECK(longest != nullptr);
  UnregisterOwnedName(longest);
}

SMSH_TEST(unlink_owned_names_removes_only_our_objects) {
  const std::string mine = TestName(), replaced = TestName(), missing = TestName();
  std::unique_ptr<Segment> a, b;
  REQUIRE_OK(Segment::Create(Plain(mine), &a));
  REQUIRE_OK(Segment::Create(Plain(replaced), &b));
  OwnedName* ea = RegisterSegment(*a);
  // As if our object had been removed and someone else created this name.
  OwnedName* eb = RegisterOwnedName(replaced, static_cast<uint64_t>(b->dev()), static_cast<uint64_t>(b->ino()) + 1);
  OwnedName* ec = RegisterOwnedName(missing, 1, 1);
  CHECK_EQ(UnlinkOwnedNames(), 1);
  CHECK(!ShmExists(mine));
  CHECK(ShmExists(replaced));
  CHECK_EQ(UnlinkOwnedNames(), 0);  // nothing left that is ours
  UnregisterOwnedName(ea);
  UnregisterOwnedName(eb);
  UnregisterOwnedName(ec);
  CHECK_OK(b->Unlink());
}

SMSH_TEST(owned_paths_any_file_absolute_and_short_enough) {
  CHECK(RegisterOwnedPath("", 1, 1) == nullptr);
  CHECK(RegisterOwnedPath("relative/file", 1, 1) == nullptr);
  CHECK(RegisterOwnedPath("/" + std::string(smsh::kMaxOwnedPath, 'a'), 1, 1) == nullptr);
  OwnedName* longest = RegisterOwnedPath("/" + std::string(smsh::kMaxOwnedPath - 1, 'a'), 1, 1);
  CHECK(longest != nullptr);
  UnregisterOwnedName(longest);
  // A file outside /dev/shm (as a doorbell socket is), removed only while it is ours.
  char dir[] = "/tmp/smsh-ntest-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/" + std::string(100 - sizeof(dir), 'f');  // a long path
  int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  close(fd);
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  OwnedName* e = RegisterOwnedPath(path, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
  CHECK(e != nullptr);
  CHECK_EQ(UnlinkOwnedNames(), 1);
  CHECK(access(path.c_str(), F_OK) != 0);
  UnregisterOwnedName(e);
  rmdir(dir);
}

SMSH_TEST(arm_only_over_the_default_action_or_an_accepted_handler) {
  SavedDisposition saved(SIGHUP);
  Set(SIGHUP, SIG_IGN);
  CHECK(!ArmSignalCleanup(SIGHUP, nullptr));  // never over SIG_IGN
  CHECK(!SignalCleanupArmed(SIGHUP));
  Set(SIGHUP, Foreign);
  CHECK(!ArmSignalCleanup(SIGHUP, nullptr));  // nor over someone else's handler
  CHECK(!ArmSignalCleanup(SIGHUP, AcceptExitHandler));
  struct sigaction now;
  sigaction(SIGHUP, nullptr, &now);
  CHECK(now.sa_handler == Foreign);  // left as it was
  Set(SIGHUP, ExitHandler, SA_RESETHAND);
  CHECK(ArmSignalCleanup(SIGHUP, AcceptExitHandler));
  CHECK(SignalCleanupArmed(SIGHUP));
  Set(SIGHUP, SIG_DFL);
  CHECK(ArmSignalCleanup(SIGHUP, nullptr));
  CHECK(ArmSignalCleanup(SIGHUP, nullptr));  // again: already in place
  CHECK(SignalCleanupArmed(SIGHUP));
  CHECK(!ArmSignalCleanup(0, nullptr));
  CHECK(!ArmSignalCleanup(NSIG, nullptr));
}

SMSH_TEST(a_signal_unlinks_owned_names_and_the_process_dies_of_it) {
  for (int signo : smsh::kCleanupSignals) {
    const std::string name = TestName(), kept = TestName();
    int status = InChild([&] {
      Set(signo, SIG_DFL);  // the harness catches SIGINT/SIGTERM itself
      std::unique_ptr<Segment> seg, other;
      if (!Segment::Create(Plain(name), &seg).ok() || !Segment::Create(Plain(kept), &other).ok()) _exit(101);
      if (RegisterSegment(*seg) == nullptr) _exit(102);
      if (!ArmSignalCleanup(signo, nullptr)) _exit(103);
      raise(signo);
      _exit(104);  // not reached: the re-raised signal is delivered when the handler returns
    });
    CHECK(WIFSIGNALED(status));
    if (WIFSIGNALED(status)) CHECK_EQ(WTERMSIG(status), signo);
    if (WIFEXITED(status)) CHECK_EQ(WEXITSTATUS(status), 0);  // shows which step failed
    CHECK(!ShmExists(name));
    CHECK(ShmExists(kept));  // not registered: not ours to remove
    shm_unlink(("/" + kept).c_str());
  }
}

SMSH_TEST(the_handler_chains_to_the_handler_it_replaced) {
  const std::string name = TestName();
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  int status = InChild([&] {
    close(fds[0]);
    g_chain_pipe = fds[1];
    Set(SIGTERM, ExitHandler, SA_RESETHAND);
    std::unique_ptr<Segment> seg;
    if (!Segment::Create(Plain(name), &seg).ok()) _exit(101);
    if (RegisterSegment(*seg) == nullptr) _exit(102);
    if (!ArmSignalCleanup(SIGTERM, AcceptExitHandler)) _exit(103);
    raise(SIGTERM);
    _exit(104);
  });
  close(fds[1]);
  char buf[8] = {};
  ssize_t n = read(fds[0], buf, sizeof(buf));
  close(fds[0]);
  CHECK(WIFSIGNALED(status));
  if (WIFSIGNALED(status)) CHECK_EQ(WTERMSIG(status), SIGTERM);
  if (WIFEXITED(status)) CHECK_EQ(WEXITSTATUS(status), 0);
  CHECK_EQ(n, ssize_t{1});  // the replaced handler ran, after the cleanup
  CHECK(!ShmExists(name));
}

SMSH_TEST(writers_and_lock_free_readers_run_concurrently) {
  // Registering threads and a reader walking the registry the way the
  // handler does (ThreadSanitizer checks the publication protocol).
  const int base = CountOwnedNames();
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      int n = CountOwnedNames();
      CHECK_GE(n, base);
      UnlinkOwnedNames();  // the names do not exist: it unlinks nothing
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; t++) {
    writers.emplace_back([t] {
      for (int i = 0; i < 2000; i++) {
        OwnedName* e = RegisterOwnedName("smsh-ntest-none-" + std::to_string(t) + "-" + std::to_string(i), 1, 1);
        UnregisterOwnedName(e);
      }
    });
  }
  for (std::thread& w : writers) w.join();
  stop.store(true);
  reader.join();
  CHECK_EQ(CountOwnedNames(), base);
}

SMSH_TEST_MAIN()
