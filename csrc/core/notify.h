// The eventcount over a WaitLine (layout.h), and the two ways a sleeper can
// be woken from another process: a thread in FUTEX_WAIT, or the doorbell
// socket polled by an event loop.
//
// Sleeper:  s = load(seq); store(waiting, mode); re-check the condition;
//           if it still holds, sleep while seq == s; then exchange(waiting, 0).
// Waker:    change the state the sleeper checks; then Notify(line): if
//           exchange(waiting, 0) was non-zero, seq += 1 and wake.
// All these accesses are sequentially consistent, so either the sleeper's
// re-check sees the new state or the waker sees `waiting` set. The waker
// clears `waiting` itself, so each announced sleep gets at most one wake
// syscall, however many wakers come before the sleeper runs again.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "futex.h"
#include "layout.h"

namespace smsh {

struct DoorbellTarget;

// Waker side. Does nothing (no syscall) when nobody waits. Otherwise takes
// `waiting` (exchange with 0), bumps seq and wakes by each method it named.
// `bell` addresses this line's doorbell (doorbell.h), or is nullptr to skip
// doorbells. Returns true if this call woke the line's sleeper (false when
// nobody slept or another waker took the sleep first).
bool Notify(WaitLine* line, const DoorbellTarget* bell);

// A thread that sleeps in FUTEX_WAIT on behalf of an event loop: Arm() hands
// it a word and the value seen; when the word changes or a wake arrives, it
// calls on_wake (on its own thread) once and goes idle until the next Arm.
class FutexWatcher {
 public:
  explicit FutexWatcher(std::function<void()> on_wake);
  ~FutexWatcher();  // Stop()
  FutexWatcher(const FutexWatcher&) = delete;
  FutexWatcher& operator=(const FutexWatcher&) = delete;

  // Arms a one-shot wait. The word must stay mapped until on_wake runs or
  // Stop() returns. Arming while armed replaces the previous wait.
  void Arm(uint32_t* word, uint32_t expected);
  // Cancels an armed wait without calling on_wake; returns when the thread
  // no longer touches the word.
  void Disarm();
  // Ends the thread; idempotent.
  void Stop();

 private:
  void Run();
  std::function<void()> on_wake_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint32_t* word_ = nullptr;   // guarded by mu_
  uint32_t expected_ = 0;      // guarded by mu_
  uint64_t generation_ = 0;    // guarded by mu_; bumped by Arm/Disarm
  bool waiting_ = false;       // guarded by mu_; thread is inside FutexWait
  bool stop_ = false;          // guarded by mu_
  std::thread thread_;
};

}  // namespace smsh
