// Cross-process sleep and wake on a 32-bit word of a shared mapping. Linux:
// futex without FUTEX_PRIVATE_FLAG, so the kernel keys waiters by the
// backing object and offset, not by this process's address space.
// Windows (futex_win.cc) has no cross-process wait on an address
// (WaitOnAddress works between threads of one process only): each wait
// line's seq word is registered with a named semaphore of its segment, and
// the line's `sleepers` word counts the threads inside the wait.
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

#ifdef _WIN32
// The semaphore that wakes sleepers on `word` (a wait line's seq; the line's
// sleepers count is the word two after it). A word with none registered is
// waited on by polling every millisecond.
void RegisterWakeWord(uint32_t* word, void* semaphore);
void UnregisterWakeWord(uint32_t* word);
#endif

}  // namespace smsh
