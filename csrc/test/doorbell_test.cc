// The doorbell: a pathname datagram socket per (token, line) in the
// segment owner's 0700 directory. Most cases use a scratch root under /tmp
// (mode 1777 like /dev/shm) so they can plant what another user would;
// cases that switch to uid 65534 run only as root.
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "check.h"
#include "doorbell.h"
#include "layout.h"
#include "proc.h"

using smsh::DoorbellDir;
using smsh::DoorbellFile;
using smsh::DoorbellListener;
using smsh::DoorbellTarget;
using smsh::kTokenSize;

namespace {

constexpr uint32_t kReaderLine = 512;  // offsetof(Header, reader_wait)
constexpr uint32_t kWriterLine = 640;  // offsetof(Header, writer_wait)
constexpr uint32_t kNobody = 65534;

struct Token {
  uint8_t bytes[kTokenSize];
};

Token NewToken() {
  Token t;
  if (!smsh::RandomBytes(t.bytes, kTokenSize).ok()) std::memset(t.bytes, 0x5A, kTokenSize);
  return t;
}

// poll() for readability; returns true if readable within timeout_ms.
bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int rc;
  do {
    rc = poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  return rc == 1 && (p.revents & POLLIN) != 0;
}

struct Sender {
  int fd = -1;
  Sender() {
    if (!smsh::OpenDoorbellSender(&fd).ok()) fd = -1;
  }
  ~Sender() {
    if (fd >= 0) close(fd);
  }
};

bool Ring(int fd, const DoorbellDir& dir, const Token& tok, uint32_t line) {
  return smsh::RingDoorbell(DoorbellTarget{fd, &dir, tok.bytes, line});
}

int RemoveEntry(const char* path, const struct stat*, int, FTW*) {
  remove(path);
  return 0;
}

// A scratch root for doorbell directories, mode 1777 like /dev/shm, removed
// with everything in it.
struct TempRoot {
  std::string path;
  TempRoot() {
    char t[] = "/tmp/smsh-ntest-bells-XXXXXX";
    if (mkdtemp(t) != nullptr) {
      path = t;
      chmod(path.c_str(), 01777);
    }
  }
  ~TempRoot() {
    if (!path.empty()) nftw(path.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
  }
  DoorbellDir Dir(uint32_t uid) const { return DoorbellDir(uid, path); }
  DoorbellDir Mine() const { return Dir(static_cast<uint32_t>(geteuid())); }
};

bool Exists(const std::string& path, struct stat* st = nullptr) {
  struct stat s;
  bool ok = lstat(path.c_str(), &s) == 0;
  if (ok && st != nullptr) *st = s;
  return ok;
}

std::string FileOf(const DoorbellDir& dir, const Token& tok, uint32_t line) {
  return dir.path() + "/" + smsh::DoorbellFileName(tok.bytes, line);
}

// Runs fn in a forked child; returns its exit code (128 + signal if killed,
// -1 if it had to be killed after timeout_ms).
int RunChild(const std::function<int()>& fn, int timeout_ms = 10000) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    alarm(20);
    _exit(fn());
  }
  int status = 0;
  pid_t got = 0;
  const uint64_t deadline = smsh_test::NowMs() + static_cast<uint64_t>(timeout_ms);
  while ((got = waitpid(pid, &status, WNOHANG)) == 0 && smsh_test::NowMs() < deadline) usleep(2000);
  if (got == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool BecomeNobody() { return setgroups(0, nullptr) == 0 && setgid(kNobody) == 0 && setuid(kNobody) == 0; }

// A listener in a child that is then killed with SIGKILL, leaving its
// socket file behind as a crashed sleeper does.
bool LeaveStaleFile(const DoorbellDir& dir, const Token& tok, uint32_t line) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return false;
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(pipefd[0]);
    alarm(20);
    DoorbellListener l;
    char ok = l.Open(dir, tok.bytes, line).ok() ? 'y' : 'n';
    if (write(pipefd[1], &ok, 1) != 1) _exit(3);
    pause();
    _exit(0);
  }
  close(pipefd[1]);
  char ok = 'n';
  bool got = read(pipefd[0], &ok, 1) == 1;
  close(pipefd[0]);
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  return got && ok == 'y' && Exists(FileOf(dir, tok, line));
}

}  // namespace

SMSH_TEST(listener_receives_a_ring) {
  TempRoot root;
  DoorbellDir dir = root.Mine();
  Token tok = NewToken();
  DoorbellListener l;
  REQUIRE_OK(l.Open(dir, tok.bytes, kReaderLine));
  REQUIRE(l.fd() >= 0);
  Sender s;
  REQUIRE(s.fd >= 0);
  CHECK(!Readable(l.fd(), 0));
  CHECK(Ring(s.fd, dir, tok, kReaderLine));
  CHECK(Readable(l.fd(), 2000));
  CHECK_EQ(l.Drain(), 1);
  // Drain empties it: nothing readable, nothing more to drain.
  CHECK(!Readable(l.fd(), 0));
  CHECK_EQ(l.Drain(), 0);
  // Several rings are drained at once.
  for (int i = 0; i < 3; i++) CHECK(Ring(s.fd, dir, tok, kReaderLine));
  CHECK(Readable(l.fd(), 2000));
  CHECK_EQ(l.Drain(), 3);
  CHECK(!Readable(l.fd(), 0));
}

SMSH_TEST(socket_file_lives_in_a_private_directory_and_goes_on_close) {
  TempRoot root;
  DoorbellDir dir = root.Mine();
  CHECK_EQ(dir.path(), root.path + "/.smsh-" + std::to_string(geteuid()));
  CHECK(!dir.foreign());
  Token tok = NewToken();
  {
    DoorbellListener l;
    REQUIRE_OK(l.Open(dir, tok.bytes, kReaderLine));
    struct stat st;
    REQUIRE(Exists(dir.path(), &st));
    CHECK(S_ISDIR(st.st_mode));
    CHECK_EQ(st.st_mode & 07777, 0700u);
    CHECK_EQ(st.st_uid, geteuid());
    REQUIRE(Exists(FileOf(dir, tok, kReaderLine), &st));
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQ(st.st_uid, geteuid());
    l.Close();
    CHECK(!Exists(FileOf(dir, tok, kReaderLine)));
    CHECK_EQ(l.fd(), -1);
  }
  // The directory stays: removing it would let another user take the name.
  CHECK(Exists(dir.path()));
  // A directory this user made with a umask that took bits is made exact.
  TempRoot root2;
  mode_t old = umask(0777);
  DoorbellListener l2;
  smsh::Status s = l2.Open(root2.Mine(), tok.bytes, kReaderLine);
  umask(old);
  CHECK_OK(s);
  struct stat st;
  CHECK(Exists(root2.Mine().path(), &st) && (st.st_mode & 07777) == 0700);
}

SMSH_TEST(default_directory_is_per_user_under_dev_shm) {
  const uint32_t uid = static_cast<uint32_t>(geteuid());
  DoorbellDir dir(uid);
  CHECK_EQ(dir.path(), "/dev/shm/.smsh-" + std::to_string(uid));
  const bool existed = Exists(dir.path());
  Token tok = NewToken();
  {
    DoorbellListener l;
    REQUIRE_OK(l.Open(dir, tok.bytes, kWriterLine));
    Sender s;
    CHECK(Ring(s.fd, dir, tok, kWriterLine));
    CHECK(Readable(l.fd(), 2000));
  }
  CHECK(!Exists(FileOf(dir, tok, kWriterLine)));
  if (!existed) rmdir(dir.path().c_str());  // leave /dev/shm as we found it (fails harmlessly if in use)
}

SMSH_TEST(file_name_and_address_length) {
  Token tok;
  for (size_t i = 0; i < kTokenSize; i++) tok.bytes[i] = static_cast<uint8_t>(i * 17);
  CHECK_EQ(smsh::DoorbellFileName(tok.bytes, 512), std::string("00112233445566778899aabbccddeeff.512"));
  // The longest address there can be fits sun_path with its NUL.
  std::string longest = DoorbellDir(4294967295u).path() + "/" + smsh::DoorbellFileName(tok.bytes, 4294967295u);
  CHECK_EQ(longest.size(), std::string("/dev/shm/.smsh-4294967295/").size() + 32 + 1 + 10);
  CHECK_LT(longest.size() + 1, sizeof(sockaddr_un::sun_path));
  CHECK_LE(smsh::DoorbellFileName(tok.bytes, 4294967295u).size(), smsh::kDoorbellFileNameMax);
}

SMSH_TEST(lines_and_tokens_are_separate_doorbells) {
  TempRoot root;
  DoorbellDir dir = root.Mine();
  Token tok = NewToken();
  Token other = NewToken();
  DoorbellListener reader, writer;
  REQUIRE_OK(reader.Open(dir, tok.bytes, kReaderLine));
  REQUIRE_OK(writer.Open(dir, tok.bytes, kWriterLine));
  Sender s;
  REQUIRE(s.fd >= 0);
  CHECK(Ring(s.fd, dir, tok, kWriterLine));
  CHECK(Readable(writer.fd(), 2000));
  CHECK(!Readable(reader.fd(), 0));
  CHECK_EQ(writer.Drain(), 1);
  // Another segment's token reaches neither (and nobody listens there).
  CHECK(!Ring(s.fd, dir, other, kReaderLine));
  CHECK(!Readable(reader.fd(), 20));
  CHECK_EQ(reader.Drain(), 0);
}

SMSH_TEST(ring_without_listener_returns_false) {
  TempRoot root;
  DoorbellDir dir = root.Mine();
  Token tok = NewToken();
  Sender s;
  REQUIRE(s.fd >= 0);
  CHECK(!Ring(s.fd, dir, tok, kReaderLine));  // no directory yet
  // A listener that has gone away is the same as none.
  {
    DoorbellListener l;
    REQUIRE_OK(l.Open(dir, tok.bytes, kReaderLine));
  }
  CHECK(!Ring(s.fd, dir, tok, kReaderLine));
  // A bad sender descriptor, or no directory at all, is not a crash either.
  CHECK(!Ring(-1, dir, tok, kReaderLine));
  DoorbellDir none;
  CHECK(!Ring(s.fd, none, tok, kReaderLine));
  CHECK(!smsh::RingDoorbell(DoorbellTarget{}));
  DoorbellListener l;
  CHECK_CODE(l.Open(none, tok.bytes, kReaderLine), "EDOORBELL");
}

SMSH_TEST(second_listener_is_eaddrinuse) {
  TempRoot root;
  DoorbellDir dir = root.Mine();
  Token tok = NewToken();
  DoorbellListener a, b;
  REQUIRE_OK(a.Open(dir, tok.bytes, kReaderLine));
  smsh::Status s = b.Open(dir, tok.bytes, kReaderLine);
  CHECK_CODE(s, "EADDRINUSE");
  CHECK_EQ(s.err, EADDRINUSE);
  CHECK_EQ(std::string(s.syscall), std::string("bind"));
  CHECK_EQ(b.fd(), -1);
  // The first listener still works, and its file is still there.
  CHECK(Exists(FileOf(dir, tok, kReaderLine)));
  Sender snd;
  CHECK(Ring(snd.fd, dir, tok, kReaderLine));
  CHECK(Readable(a.fd(), 2000));
  CHECK_EQ(a.Drain(), 1);
  // Once the first closes, the address is free again.
  a.Close();
  CHECK_EQ(a.fd(), -1);
  CHECK_OK(b.Open(dir, tok.bytes, kReaderLine));
  CHECK(Ring(snd.fd, dir, tok, kReaderLine));
  CHECK(Readable(b.fd(), 2000));
  CHECK_EQ(b.Drain(), 1);
}

SMSH_TEST(reopen_and_close_are_safe) {
  TempRoot root;
  DoorbellDir dir = root.Mine();
  Token tok = NewToken();
  DoorbellListener l;
  CHECK_EQ(l.Drain(), 0);  // never opened
  l.Close();
  REQUIRE_OK(l.Open(dir, tok.bytes, kReaderLine));
  // Open again on the same listener releases the old socket first.
  CHECK_OK(l.Open(dir, tok.bytes, kReaderLine));
  l.Close();
  l.Close();
  CHECK_EQ(l.Drain(), 0);
  CHECK(!Exists(FileOf(dir, tok, kReaderLine)));
  // RemoveFile takes the name away and leaves the socket open (for an event
  // loop that closes it later); the name is free for a new listener.
  REQUIRE_OK(l.Open(dir, tok.bytes, kReaderLine));
  l.RemoveFile();
  l.RemoveFile();
  CHECK(!Exists(FileOf(dir, tok, kReaderLine)));
  CHECK(l.fd() >= 0);
  DoorbellListener next;
  CHECK_OK(next.Open(dir, tok.bytes, kReaderLine));
  l.Close();
  CHECK(Exists(FileOf(dir, tok, kReaderLine)));  // the new listener's file is not ours to remove
}

SMSH_TEST(files_go_at_exit_but_not_at_a_forked_childs_exit) {
  TempRoot root;
  DoorbellDir dir = root.Mine();
  Token tok = NewToken();
  DoorbellListener l;
  REQUIRE_OK(l.Open(dir, tok.bytes, kReaderLine));
  // A forked child that exits normally (atexit handlers run) leaves the
  // parent's file alone.
  std::fflush(stdout);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) std::exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(Exists(FileOf(dir, tok, kReaderLine)));
  // What runs at exit in the process that bound it.
  DoorbellListener::RemoveAllFiles();
  CHECK(!Exists(FileOf(dir, tok, kReaderLine)));
  CHECK(l.fd() >= 0);  // the socket itself stays open until Close
  l.Close();
}

SMSH_TEST(full_queue_is_not_an_error) {
  // The ring never blocks: once the listener's queue is full further rings
  // return false (a wake is pending anyway), and Drain counts what was queued.
  TempRoot root;
  DoorbellDir dir = root.Mine();
  Token tok = NewToken();
  DoorbellListener l;
  REQUIRE_OK(l.Open(dir, tok.bytes, kReaderLine));
  Sender s;
  REQUIRE(s.fd >= 0);
  int queued = 0;
  int refused = 0;
  for (int i = 0; i < 10000 && refused < 10; i++) {
    if (Ring(s.fd, dir, tok, kReaderLine)) {
      queued++;
    } else {
      refused++;
    }
  }
  CHECK_GT(queued, 0);
  CHECK_EQ(refused, 10);
  CHECK_EQ(l.Drain(), queued);
  CHECK(Ring(s.fd, dir, tok, kReaderLine));
  CHECK_EQ(l.Drain(), 1);
}

SMSH_TEST(ring_from_another_process) {
  TempRoot root;
  DoorbellDir dir = root.Mine();
  Token tok = NewToken();
  DoorbellListener l;
  REQUIRE_OK(l.Open(dir, tok.bytes, kReaderLine));
  int code = RunChild([&] {
    int fd = -1;
    if (!smsh::OpenDoorbellSender(&fd).ok()) return 2;
    return Ring(fd, dir, tok, kReaderLine) ? 0 : 3;
  });
  CHECK_EQ(code, 0);  // 2: no sender socket, 3: the ring was not queued
  CHECK(Readable(l.fd(), 5000));
  CHECK_EQ(l.Drain(), 1);
}

SMSH_TEST(stale_socket_file_of_a_killed_listener_is_replaced) {
  TempRoot root;
  DoorbellDir dir = root.Mine();
  Token tok = NewToken();
  REQUIRE(LeaveStaleFile(dir, tok, kReaderLine));
  Sender s;
  CHECK(!Ring(s.fd, dir, tok, kReaderLine));  // nobody listens: refused
  DoorbellListener l;
  REQUIRE_OK(l.Open(dir, tok.bytes, kReaderLine));  // not EADDRINUSE
  CHECK(Exists(FileOf(dir, tok, kReaderLine)));
  CHECK(Ring(s.fd, dir, tok, kReaderLine));
  CHECK(Readable(l.fd(), 2000));
  // And a live one is still not replaced.
  DoorbellListener again;
  CHECK_CODE(again.Open(dir, tok.bytes, kReaderLine), "EADDRINUSE");
  CHECK(Exists(FileOf(dir, tok, kReaderLine)));
}

SMSH_TEST(sweep_removes_files_nobody_listens_on) {
  TempRoot root;
  DoorbellDir dir = root.Mine();
  std::vector<DoorbellFile> files;
  CHECK_OK(smsh::SweepDoorbells(dir, false, &files));  // no directory yet: nothing
  CHECK_EQ(files.size(), 0u);
  Token stale = NewToken(), live = NewToken();
  REQUIRE(LeaveStaleFile(dir, stale, kReaderLine));
  DoorbellListener l;
  REQUIRE_OK(l.Open(dir, live.bytes, kWriterLine));
  // Something that is not a doorbell's name is never touched.
  const std::string other = dir.path() + "/notes.txt";
  int fd = open(other.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  close(fd);

  CHECK_OK(smsh::SweepDoorbells(dir, true, &files));  // dry run
  REQUIRE(files.size() == 2u);
  const std::string stale_name = smsh::DoorbellFileName(stale.bytes, kReaderLine);
  for (const DoorbellFile& f : files) {
    CHECK_EQ(f.live, f.name != stale_name);
    CHECK(!f.removed);
  }
  CHECK(Exists(FileOf(dir, stale, kReaderLine)));

  CHECK_OK(smsh::SweepDoorbells(dir, false, &files));
  REQUIRE(files.size() == 2u);
  for (const DoorbellFile& f : files) CHECK_EQ(f.removed, f.name == stale_name);
  CHECK(!Exists(FileOf(dir, stale, kReaderLine)));
  CHECK(Exists(FileOf(dir, live, kWriterLine)));
  CHECK(Exists(other));
  Sender s;
  CHECK(Ring(s.fd, dir, live, kWriterLine));
  CHECK(Readable(l.fd(), 2000));
  // Only this user's own directory is swept.
  if (geteuid() == 0) CHECK_CODE(smsh::SweepDoorbells(root.Dir(kNobody), false, &files), "EDOORBELL");
}

SMSH_TEST(untrustworthy_directory_is_edoorbell_never_eaddrinuse) {
  Token tok = NewToken();
  auto check_refused = [&](const DoorbellDir& dir, const char* what) {
    for (int i = 0; i < 3; i++) {  // the same answer every time: no retry can get stuck
      DoorbellListener l;
      smsh::Status s = l.Open(dir, tok.bytes, kReaderLine);
      if (s.ok() || std::string(s.code) != "EDOORBELL")
        smsh_test::Fail(__FILE__, __LINE__, std::string(what) + ": want EDOORBELL, got " + smsh_test::Show(s));
      CHECK_EQ(l.fd(), -1);
    }
  };
  {
    // A symlink to a private directory of ours: not followed.
    TempRoot root;
    DoorbellDir dir = root.Mine();
    const std::string target = root.path + "/elsewhere";
    REQUIRE(mkdir(target.c_str(), 0700) == 0);
    REQUIRE(symlink(target.c_str(), dir.path().c_str()) == 0);
    check_refused(dir, "symlink");
    CHECK(!Exists(target + "/" + smsh::DoorbellFileName(tok.bytes, kReaderLine)));
  }
  {
    TempRoot root;
    DoorbellDir dir = root.Mine();
    int fd = open(dir.path().c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    close(fd);
    check_refused(dir, "a file");
  }
  {
    TempRoot root;
    DoorbellDir dir = root.Mine();
    REQUIRE(mkdir(dir.path().c_str(), 0700) == 0);
    REQUIRE(chmod(dir.path().c_str(), 0755) == 0);
    check_refused(dir, "mode 0755");
    REQUIRE(chmod(dir.path().c_str(), 0700) == 0);
    DoorbellListener l;
    CHECK_OK(l.Open(dir, tok.bytes, kReaderLine));  // fixed: usable again
  }
  {
    // A parent others may write to without the sticky bit.
    TempRoot root;
    REQUIRE(chmod(root.path.c_str(), 0777) == 0);
    check_refused(root.Mine(), "non-sticky world-writable root");
  }
  if (geteuid() == 0) {
    // Another user made the directory first (as in /dev/shm/.smsh-0 made
    // by uid 65534): unusable, whatever its mode.
    TempRoot root;
    DoorbellDir dir = root.Mine();
    int code = RunChild([&] {
      if (!BecomeNobody()) return 2;
      return mkdir(dir.path().c_str(), 0700) == 0 ? 0 : 3;
    });
    REQUIRE(code == 0);
    check_refused(dir, "owned by uid 65534");
    chmod(dir.path().c_str(), 0777);  // even wide open, as root could enter it
    check_refused(dir, "owned by uid 65534, mode 0777");
  } else {
    std::printf("    (skipped the other-user cases: not root)\n");
  }
}

SMSH_TEST(another_user_can_neither_ring_nor_take_a_doorbell) {
  if (geteuid() != 0) {
    std::printf("    (skipped: needs root to run a child as uid 65534)\n");
    return;
  }
  TempRoot root;
  DoorbellDir dir = root.Mine();
  Token tok = NewToken();
  DoorbellListener l;
  REQUIRE_OK(l.Open(dir, tok.bytes, kReaderLine));
  const std::string path = FileOf(dir, tok, kReaderLine);
  int code = RunChild([&] {
    if (!BecomeNobody()) return 2;
    int fd = -1;
    if (!smsh::OpenDoorbellSender(&fd).ok()) return 3;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    for (int i = 0; i < 2000; i++) {
      if (sendto(fd, "x", 1, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&a), len) >= 0) return 4;
      if (errno != EACCES) return 5;
    }
    if (Ring(fd, dir, tok, kReaderLine)) return 6;
    // Nor can it bind the name or anything else in the directory, or
    // replace the directory (sticky parent).
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (bind(s, reinterpret_cast<sockaddr*>(&a), len) == 0) return 7;
    if (rename(dir.path().c_str(), (root.path + "/moved").c_str()) == 0) return 8;
    if (rmdir(dir.path().c_str()) == 0) return 9;
    return 0;
  });
  CHECK_EQ(code, 0);
  CHECK(!Readable(l.fd(), 50));
  CHECK_EQ(l.Drain(), 0);
}

SMSH_TEST(root_uses_another_users_directory_as_that_user) {
  if (geteuid() != 0) {
    std::printf("    (skipped: needs root)\n");
    return;
  }
  TempRoot root;
  DoorbellDir theirs = root.Dir(kNobody);  // root sleeping on uid 65534's segment
  CHECK(theirs.foreign());
  Token tok = NewToken();
  DoorbellListener l;
  REQUIRE_OK(l.Open(theirs, tok.bytes, kReaderLine));
  struct stat st;
  REQUIRE(Exists(theirs.path(), &st));
  CHECK_EQ(st.st_uid, kNobody);  // made as that user: theirs, no chown
  CHECK_EQ(st.st_mode & 07777, 0700u);
  REQUIRE(Exists(FileOf(theirs, tok, kReaderLine), &st));
  CHECK_EQ(st.st_uid, kNobody);
  // The user rings root's listener (for the child the directory is its own).
  int code = RunChild([&] {
    if (!BecomeNobody()) return 2;
    DoorbellDir own(kNobody, root.path);
    if (own.foreign()) return 3;
    int fd = -1;
    if (!smsh::OpenDoorbellSender(&fd).ok()) return 4;
    return Ring(fd, own, tok, kReaderLine) ? 0 : 5;
  });
  CHECK_EQ(code, 0);
  CHECK(Readable(l.fd(), 2000));
  CHECK_EQ(l.Drain(), 1);
  // Root rings it too, through the careful path.
  Sender s;
  CHECK(Ring(s.fd, theirs, tok, kReaderLine));
  CHECK(Readable(l.fd(), 2000));
  CHECK_EQ(l.Drain(), 1);
  // A symlink planted under a doorbell's name does not make root send
  // elsewhere: root's own socket outside the directory stays silent.
  DoorbellDir mine = root.Mine();
  Token decoy_tok = NewToken();
  DoorbellListener decoy;
  REQUIRE_OK(decoy.Open(mine, decoy_tok.bytes, kReaderLine));
  REQUIRE(symlink(FileOf(mine, decoy_tok, kReaderLine).c_str(), FileOf(theirs, tok, kWriterLine).c_str()) == 0);
  CHECK(!Ring(s.fd, theirs, tok, kWriterLine));
  CHECK(!Readable(decoy.fd(), 50));
  // Closing removes root's file from their directory.
  l.Close();
  CHECK(!Exists(FileOf(theirs, tok, kReaderLine)));
  // A non-root process cannot use another user's directory at all, and does
  // not create it (that would squat the name).
  TempRoot fresh;
  code = RunChild([&] {
    if (!BecomeNobody()) return 2;
    DoorbellDir roots(0, fresh.path);
    DoorbellListener x;
    smsh::Status st2 = x.Open(roots, tok.bytes, kReaderLine);
    if (st2.ok() || std::string(st2.code) != "EDOORBELL") return 3;
    return Exists(roots.path()) ? 4 : 0;
  });
  CHECK_EQ(code, 0);
}

SMSH_TEST_MAIN()
