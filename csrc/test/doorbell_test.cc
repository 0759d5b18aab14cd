// The doorbell: an abstract-namespace datagram socket per (token, line).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "check.h"
#include "doorbell.h"
#include "layout.h"
#include "proc.h"

using smsh::DoorbellListener;
using smsh::kTokenSize;
using smsh::RingDoorbell;

namespace {

constexpr uint32_t kReaderLine = 512;  // offsetof(Header, reader_wait)
constexpr uint32_t kWriterLine = 640;  // offsetof(Header, writer_wait)

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

}  // namespace

SMSH_TEST(listener_receives_a_ring) {
  Token tok = NewToken();
  DoorbellListener l;
  REQUIRE_OK(l.Open(tok.bytes, kReaderLine));
  REQUIRE(l.fd() >= 0);
  Sender s;
  REQUIRE(s.fd >= 0);
  CHECK(!Readable(l.fd(), 0));
  CHECK(RingDoorbell(s.fd, tok.bytes, kReaderLine));
  CHECK(Readable(l.fd(), 2000));
  CHECK_EQ(l.Drain(), 1);
  // Drain empties it: nothing readable, nothing more to drain.
  CHECK(!Readable(l.fd(), 0));
  CHECK_EQ(l.Drain(), 0);
  // Several rings are drained at once.
  for (int i = 0; i < 3; i++) CHECK(RingDoorbell(s.fd, tok.bytes, kReaderLine));
  CHECK(Readable(l.fd(), 2000));
  CHECK_EQ(l.Drain(), 3);
  CHECK(!Readable(l.fd(), 0));
}

SMSH_TEST(lines_and_tokens_are_separate_doorbells) {
  Token tok = NewToken();
  Token other = NewToken();
  DoorbellListener reader, writer;
  REQUIRE_OK(reader.Open(tok.bytes, kReaderLine));
  REQUIRE_OK(writer.Open(tok.bytes, kWriterLine));
  Sender s;
  REQUIRE(s.fd >= 0);
  CHECK(RingDoorbell(s.fd, tok.bytes, kWriterLine));
  CHECK(Readable(writer.fd(), 2000));
  CHECK(!Readable(reader.fd(), 0));
  CHECK_EQ(writer.Drain(), 1);
  // Another segment's token reaches neither (and nobody listens there).
  CHECK(!RingDoorbell(s.fd, other.bytes, kReaderLine));
  CHECK(!Readable(reader.fd(), 20));
  CHECK_EQ(reader.Drain(), 0);
}

SMSH_TEST(ring_without_listener_returns_false) {
  Token tok = NewToken();
  Sender s;
  REQUIRE(s.fd >= 0);
  CHECK(!RingDoorbell(s.fd, tok.bytes, kReaderLine));
  // A listener that has gone away is the same as none.
  {
    DoorbellListener l;
    REQUIRE_OK(l.Open(tok.bytes, kReaderLine));
  }
  CHECK(!RingDoorbell(s.fd, tok.bytes, kReaderLine));
  // A bad sender descriptor is not a crash either.
  CHECK(!RingDoorbell(-1, tok.bytes, kReaderLine));
}

SMSH_TEST(second_listener_is_eaddrinuse) {
  Token tok = NewToken();
  DoorbellListener a, b;
  REQUIRE_OK(a.Open(tok.bytes, kReaderLine));
  smsh::Status s = b.Open(tok.bytes, kReaderLine);
  CHECK_CODE(s, "EADDRINUSE");
  CHECK_EQ(s.err, EADDRINUSE);
  CHECK_EQ(std::string(s.syscall), std::string("bind"));
  CHECK_EQ(b.fd(), -1);
  // The first listener still works.
  Sender snd;
  CHECK(RingDoorbell(snd.fd, tok.bytes, kReaderLine));
  CHECK(Readable(a.fd(), 2000));
  CHECK_EQ(a.Drain(), 1);
  // Once the first closes, the address is free again (abstract sockets
  // leave no file behind).
  a.Close();
  CHECK_EQ(a.fd(), -1);
  CHECK_OK(b.Open(tok.bytes, kReaderLine));
  CHECK(RingDoorbell(snd.fd, tok.bytes, kReaderLine));
  CHECK(Readable(b.fd(), 2000));
  CHECK_EQ(b.Drain(), 1);
}

SMSH_TEST(reopen_and_close_are_safe) {
  Token tok = NewToken();
  DoorbellListener l;
  CHECK_EQ(l.Drain(), 0);  // never opened
  l.Close();
  REQUIRE_OK(l.Open(tok.bytes, kReaderLine));
  // Open again on the same listener releases the old socket first.
  CHECK_OK(l.Open(tok.bytes, kReaderLine));
  l.Close();
  l.Close();
  CHECK_EQ(l.Drain(), 0);
}

SMSH_TEST(full_queue_is_not_an_error) {
  // The ring never blocks: once the listener's queue is full further rings
  // return false (a wake is pending anyway), and Drain counts what was queued.
  Token tok = NewToken();
  DoorbellListener l;
  REQUIRE_OK(l.Open(tok.bytes, kReaderLine));
  Sender s;
  REQUIRE(s.fd >= 0);
  int queued = 0;
  int refused = 0;
  for (int i = 0; i < 10000 && refused < 10; i++) {
    if (RingDoorbell(s.fd, tok.bytes, kReaderLine)) {
      queued++;
    } else {
      refused++;
    }
  }
  CHECK_GT(queued, 0);
  CHECK_EQ(refused, 10);
  CHECK_EQ(l.Drain(), queued);
  CHECK(RingDoorbell(s.fd, tok.bytes, kReaderLine));
  CHECK_EQ(l.Drain(), 1);
}

SMSH_TEST(ring_from_another_process) {
  Token tok = NewToken();
  DoorbellListener l;
  REQUIRE_OK(l.Open(tok.bytes, kReaderLine));
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    alarm(20);
    int fd = -1;
    if (!smsh::OpenDoorbellSender(&fd).ok()) _exit(2);
    _exit(RingDoorbell(fd, tok.bytes, kReaderLine) ? 0 : 3);
  }
  CHECK(Readable(l.fd(), 5000));
  CHECK_EQ(l.Drain(), 1);
  int status = 0;
  pid_t got = 0;
  const uint64_t deadline = smsh_test::NowMs() + 10000;
  while ((got = waitpid(pid, &status, WNOHANG)) == 0 && smsh_test::NowMs() < deadline) usleep(2000);
  if (got == 0) {
    smsh_test::Fail(__FILE__, __LINE__, "child did not exit; killing it");
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  } else {
    const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    CHECK_EQ(exit_code, 0);  // 2: no sender socket, 3: the ring was not queued
  }
}

SMSH_TEST_MAIN()
