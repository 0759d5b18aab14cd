#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "futex.h"

namespace smsh {

namespace {

long Futex(uint32_t* word, int op, uint32_t val, const timespec* ts, uint32_t val3) {
  return syscall(SYS_futex, word, op, val, ts, nullptr, val3);
}

}  // namespace

WaitResult FutexWait(uint32_t* word, uint32_t expected, int64_t timeout_ns) {
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a retry
  // after EINTR does not extend the wait.
  timespec deadline{};
  const timespec* dl = nullptr;
  if (timeout_ns >= 0) {
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int64_t ns = deadline.tv_nsec + timeout_ns % 1000000000;
    deadline.tv_sec += static_cast<time_t>(timeout_ns / 1000000000 + ns / 1000000000);
    deadline.tv_nsec = static_cast<long>(ns % 1000000000);
    dl = &deadline;
  }
  for (;;) {
    long rc = Futex(word, FUTEX_WAIT_BITSET, expected, dl, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0) return WaitResult::kWoken;
    if (errno == EAGAIN) return WaitResult::kNotEqual;
    if (errno == ETIMEDOUT) return WaitResult::kTimedOut;
    if (errno == EINTR) continue;
    // EFAULT/EINVAL cannot happen for an aligned word of a live mapping;
    // report a wake so the caller re-checks its condition.
    return WaitResult::kWoken;
  }
}

int FutexWake(uint32_t* word, int count) {
  long rc = Futex(word, FUTEX_WAKE, static_cast<uint32_t>(count), nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

}  // namespace smsh
