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
#include <vector>

#include "futex.h"
#include "proc.h"
#include "win32.h"

namespace smsh {

namespace {

// More sleepers than this on one line at once lose a wake (until their own
// re-check); FUTEX_WAKE(INT_MAX) has no such limit.
constexpr LONG kMaxRelease = 64;

struct WakeEntry {
  uint32_t* word;
  HANDLE semaphore;
};

std::mutex g_mu;
std::vector<WakeEntry> g_words;

HANDLE Find(uint32_t* word) {
  std::lock_guard<std::mutex> g(g_mu);
  for (const WakeEntry& e : g_words)
    if (e.word == word) return e.semaphore;
  return nullptr;
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
  g_words.push_back(WakeEntry{word, static_cast<HANDLE>(semaphore)});
}

void UnregisterWakeWord(uint32_t* word) {
  std::lock_guard<std::mutex> g(g_mu);
  for (size_t i = 0; i < g_words.size(); i++) {
    if (g_words[i].word == word) {
      g_words[i] = g_words.back();
      g_words.pop_back();
      return;
    }
  }
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
  __atomic_fetch_sub(sleepers, 1u, __ATOMIC_SEQ_CST);
  if (rc == WAIT_TIMEOUT) return WaitResult::kTimedOut;
  return WaitResult::kWoken;  // released (or a failure: the caller re-checks)
}

int FutexWake(uint32_t* word, int count) {
  HANDLE sem = Find(word);
  if (sem == nullptr) return 0;  // pollers see the word change by themselves
  if (count <= 0) return 0;
  uint32_t n = __atomic_load_n(word + 2, __ATOMIC_SEQ_CST);
  LONG release = static_cast<LONG>(std::min<uint64_t>({std::max<uint32_t>(n, 1), static_cast<uint64_t>(count), kMaxRelease}));
  LONG before = 0;
  if (!ReleaseSemaphore(sem, release, &before)) return 0;  // at its maximum: everyone wakes anyway
  // Counts that reached no sleeper stay behind, and a wrong `sleepers`
  // leaves up to kMaxRelease of them per wake: without a bound they pile
  // up (tens of thousands after a few hundred wakes) and an idle sleeper
  // then spins through them. When kMaxRelease counts were pending already,
  // they wake every sleeper this release could: take it back.
  if (before >= kMaxRelease) {
    for (LONG i = 0; i < release; i++)
      if (WaitForSingleObject(sem, 0) != WAIT_OBJECT_0) break;
  }
  return static_cast<int>(release);
}

}  // namespace smsh

#endif  // _WIN32
