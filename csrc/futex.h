// Cross-process sleep and wake on a 32-bit word of a shared mapping: Linux
// futex without FUTEX_PRIVATE_FLAG, so the kernel keys waiters by the
// backing object and offset, not by this process's address space.
#pragma once

#include <cstdint>

namespace smsh {

enum class WaitResult {
  kWoken,     // FUTEX_WAKE reached us (or a signal/spurious wake: re-check)
  kNotEqual,  // *word != expected when we got there: nothing to wait for
  kTimedOut,  // the timeout elapsed
};

// Sleeps while *word == expected, for at most timeout_ns (< 0: no limit).
// EINTR is retried against the same absolute deadline.
WaitResult FutexWait(uint32_t* word, uint32_t expected, int64_t timeout_ns);

// Wakes up to `count` sleepers on word; returns how many were woken.
int FutexWake(uint32_t* word, int count);

}  // namespace smsh
