// futex.h on Windows: a named semaphore per wait line (segment_win.cc
// creates "Local\synaptic-shm.<token hex>.wake<offset>" and registers it
// under the line's seq word), and a count of the threads inside the wait in
// the line's `sleepers` word, so that a wake releases every sleeper as
// FUTEX_WAKE(INT_MAX) does (an auto-reset event would release one).
//
// Sleeper: sleepers += 1; if seq != expected: leave; else wait on the
//          semaphore; sleepers -= 1.
// Waker:   (seq already incremented) n = sleepers; release n, at least 1
//          and at most 64; taken back when 64 counts were pending.
// Chain:   a sleeper woken by a real wake (seq moved) that leaves 64 or
//          more sleepers behind releases one more count, so that more than
//          64 sleepers are woken in rounds of 64: with honest counts the
//          rounds release exactly one count per sleeper (the woken of a
//          round leave n-1 .. n-64 behind; those that leave >= 64 number
//          the next round's). A sleeper that arrives during the rounds may
//          take a count meant for an older one, which then sleeps until its
//          own re-check: only with more than 64 sleepers at once.
// Both sides' accesses are sequentially consistent: either the sleeper sees
// the new seq, or the waker sees it counted. A release that finds a sleeper
// already leaving (its timeout), or none at all, leaves a surplus count
// behind: the next wait returns at once and its caller re-checks (a
// spurious wake, which the contract allows). `sleepers` is in shared memory
// and not trusted: a value overwritten with 0 (or wrapped to 0 by a
// sleeper's increment after 0xffffffff) would lose the wake without the
// floor of 1, and the cap bounds what a huge value costs in spurious wakes.
#ifdef _WIN32

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "futex.h"
#include "proc.h"
#include "win32.h"

namespace smsh {

namespace {

// The most counts one release adds: one round of the chain (above).
constexpr LONG kMaxRelease = 64;
// A `sleepers` value at or above this is not a count of threads: a
// scribbled word. It starts no chain.
constexpr uint32_t kImplausibleSleepers = 1u << 20;

// Registered words, by address: looked up on every wait and wake.
std::mutex g_mu;
std::unordered_map<uint32_t*, HANDLE> g_words;

HANDLE Find(uint32_t* word) {
  std::lock_guard<std::mutex> g(g_mu);
  auto it = g_words.find(word);
  return it == g_words.end() ? nullptr : it->second;
}

// Adds `release` counts, and takes them back at once if kMaxRelease were
// pending already. Counts that reached no sleeper stay behind, and a wrong
// `sleepers` leaves up to kMaxRelease of them per wake: without a bound
// they pile up (tens of thousands after a few hundred wakes) and an idle
// sleeper then spins through them. With kMaxRelease pending, every sleeper
// this release could wake is woken by those already.
void ReleaseBounded(HANDLE sem, LONG release) {
  LONG before = 0;
  if (!ReleaseSemaphore(sem, release, &before)) return;  // at its maximum: everyone wakes anyway
  if (before >= kMaxRelease) {
    for (LONG i = 0; i < release; i++)
      if (WaitForSingleObject(sem, 0) != WAIT_OBJECT_0) break;
  }
}

// Milliseconds to wait for what is left of `deadline_ns` (rounded up, so a
// wait never ends early); INFINITE without a deadline.
DWORD Remaining(int64_t deadline_ns) {
  if (deadline_ns < 0) return INFINITE;
  int64_t now = static_cast<int64_t>(MonotonicNs());
  if (now >= deadline_ns) return 0;
  int64_t ms = (deadline_ns - now + 999999) / 1000000;
  return static_cast<DWORD>(std::min<int64_t>(ms, INFINITE - 1));
}

}  // namespace

void RegisterWakeWord(uint32_t* word, void* semaphore) {
  std::lock_guard<std::mutex> g(g_mu);
  g_words[word] = static_cast<HANDLE>(semaphore);
}

void UnregisterWakeWord(uint32_t* word) {
  std::lock_guard<std::mutex> g(g_mu);
  g_words.erase(word);
}

WaitResult FutexWait(uint32_t* word, uint32_t expected, int64_t timeout_ns) {
  const int64_t deadline = timeout_ns < 0 ? -1 : static_cast<int64_t>(MonotonicNs()) + timeout_ns;
  HANDLE sem = Find(word);
  if (sem == nullptr) {
    // Not a registered wait line: poll (nothing we create waits this way).
    while (__atomic_load_n(word, __ATOMIC_SEQ_CST) == expected) {
      if (Remaining(deadline) == 0) return WaitResult::kTimedOut;
      Sleep(1);
    }
    return WaitResult::kWoken;
  }
  uint32_t* sleepers = word + 2;  // WaitLine::sleepers
  // SYNC POINT: seq_cst increment, then seq_cst load of seq; pairs with the
  // waker's seq_cst increment of seq, then load of sleepers.
  __atomic_fetch_add(sleepers, 1u, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != expected) {
    __atomic_fetch_sub(sleepers, 1u, __ATOMIC_SEQ_CST);
    return WaitResult::kNotEqual;
  }
  DWORD rc = WaitForSingleObject(sem, Remaining(deadline));
  const uint32_t left = __atomic_sub_fetch(sleepers, 1u, __ATOMIC_SEQ_CST);
  if (rc == WAIT_TIMEOUT) return WaitResult::kTimedOut;
  // The chain: a real wake (seq moved) that leaves a full round behind.
  if (rc == WAIT_OBJECT_0 && left >= static_cast<uint32_t>(kMaxRelease) && left < kImplausibleSleepers &&
      __atomic_load_n(word, __ATOMIC_SEQ_CST) != expected)
    ReleaseBounded(sem, 1);
  return WaitResult::kWoken;  // released (or a failure: the caller re-checks)
}

int FutexWake(uint32_t* word, int count) {
  HANDLE sem = Find(word);
  if (sem == nullptr) return 0;  // pollers see the word change by themselves
  if (count <= 0) return 0;
  uint32_t n = __atomic_load_n(word + 2, __ATOMIC_SEQ_CST);
  LONG release = static_cast<LONG>(std::min<uint64_t>({std::max<uint32_t>(n, 1), static_cast<uint64_t>(count), kMaxRelease}));
  ReleaseBounded(sem, release);
  return static_cast<int>(release);
}

}  // namespace smsh

#endif  // _WIN32
