#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "doorbell.h"

namespace smsh {

namespace {

// "\0smsh/<32 hex token>/<offset>": the leading NUL selects the abstract
// namespace; the length passed to bind/sendto delimits the name.
socklen_t DoorbellAddress(const uint8_t* token, uint32_t line_offset, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  char name[80];
  int n = std::snprintf(name, sizeof(name), "smsh/");
  for (size_t i = 0; i < kTokenSize; i++) n += std::snprintf(name + n, sizeof(name) - static_cast<size_t>(n), "%02x", token[i]);
  n += std::snprintf(name + n, sizeof(name) - static_cast<size_t>(n), "/%u", line_offset);
  std::memcpy(addr->sun_path + 1, name, static_cast<size_t>(n));
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + static_cast<size_t>(n));
}

}  // namespace

DoorbellListener::~DoorbellListener() { Close(); }

Status DoorbellListener::Open(const uint8_t (&token)[kTokenSize], uint32_t line_offset) {
  Close();
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, "socket", "doorbell");
  sockaddr_un addr;
  socklen_t len = DoorbellAddress(token, line_offset, &addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    int err = errno;
    close(fd);
    return Status::FromErrno(err, "bind", "doorbell (is another waiter already listening on this line?)");
  }
  fd_ = fd;
  return Status::Ok();
}

int DoorbellListener::Drain() {
  int count = 0;
  char buf[64];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n >= 0) {
      count++;
      continue;
    }
    if (errno == EINTR) continue;
    return count;  // EAGAIN: empty
  }
}

void DoorbellListener::Close() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

Status OpenDoorbellSender(int* fd) {
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return Status::FromErrno(errno, "socket", "doorbell sender");
  *fd = s;
  return Status::Ok();
}

bool RingDoorbell(int sender_fd, const uint8_t* token, uint32_t line_offset) {
  sockaddr_un addr;
  socklen_t len = DoorbellAddress(token, line_offset, &addr);
  const char byte = 1;
  for (;;) {
    ssize_t n = sendto(sender_fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL,
                       reinterpret_cast<sockaddr*>(&addr), len);
    if (n == 1) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;  // EAGAIN: a wake is already queued; ECONNREFUSED: nobody listens
  }
}

}  // namespace smsh
