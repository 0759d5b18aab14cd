#include <fcntl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proc.h"

namespace smsh {

namespace {

Status StartTimeFromStat(const char* path, uint64_t* out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open", path);
  char buf[1024];
  ssize_t n;
  do {
    n = read(fd, buf, sizeof(buf) - 1);
  } while (n < 0 && errno == EINTR);
  int saved = errno;
  close(fd);
  if (n < 0) return Status::FromErrno(saved, "read", path);
  buf[n] = '\0';
  // The command name (field 2) is in parentheses and may itself contain
  // spaces and ')': the fields after it start after the *last* ')'.
  char* p = std::strrchr(buf, ')');
  if (p == nullptr) return Status::Own("EPROTO", std::string("unparsable ") + path);
  p++;
  // Field 3 follows; starttime is field 22, i.e. 19 more fields on.
  for (int field = 3; field < 22; field++) {
    while (*p == ' ') p++;
    while (*p != ' ' && *p != '\0') p++;
    if (*p == '\0') return Status::Own("EPROTO", std::string("short ") + path);
  }
  char* end = nullptr;
  unsigned long long v = std::strtoull(p, &end, 10);
  if (end == p) return Status::Own("EPROTO", std::string("no start time in ") + path);
  *out = v;
  return Status::Ok();
}

}  // namespace

Status ProcessStartTime(uint32_t pid, uint64_t* out) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%u/stat", pid);
  return StartTimeFromStat(path, out);
}

uint32_t SelfPid() { return static_cast<uint32_t>(getpid()); }

uint64_t SelfStartTime() {
  // getpid() changes across fork, so the cache is keyed by pid.
  static thread_local uint32_t cached_pid = 0;
  static thread_local uint64_t cached = 0;
  uint32_t pid = SelfPid();
  if (cached_pid != pid) {
    // /proc/self, not /proc/<getpid()>: in a PID namespace whose /proc is
    // the parent's, getpid() names another process there.
    uint64_t t = 0;
    if (!StartTimeFromStat("/proc/self/stat", &t).ok()) t = 0;
    cached = t;
    cached_pid = pid;
  }
  return cached;
}

Status OpenPidfd(uint32_t pid, uint64_t start_time, int* fd, bool* found) {
  *fd = -1;
  *found = false;
#ifdef SYS_pidfd_open
  long rc = syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0);
  if (rc < 0) {
    if (errno == ESRCH || errno == EINVAL) return Status::Ok();  // no such process here
    if (errno == ENOSYS || errno == EPERM) {
      uint64_t t = 0;
      *found = ProcessStartTime(pid, &t).ok() && t == start_time;
      return Status::Ok();
    }
    return Status::FromErrno(errno, "pidfd_open", "");
  }
  int pfd = static_cast<int>(rc);
  // The pidfd pins the pid: checked now, the start time cannot change under us.
  uint64_t t = 0;
  if (!ProcessStartTime(pid, &t).ok() || t != start_time) {
    close(pfd);
    return Status::Ok();
  }
  *fd = pfd;  // pidfds are always close-on-exec
  *found = true;
  return Status::Ok();
#else
  uint64_t t = 0;
  *found = ProcessStartTime(pid, &t).ok() && t == start_time;
  return Status::Ok();
#endif
}

Status RandomBytes(void* out, size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "getrandom", "");
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
  return Status::Ok();
}

static uint64_t ClockNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t RealtimeNs() { return ClockNs(CLOCK_REALTIME); }
uint64_t MonotonicNs() { return ClockNs(CLOCK_MONOTONIC); }

}  // namespace smsh
