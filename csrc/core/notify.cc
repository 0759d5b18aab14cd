#include "notify.h"

#include <climits>

#include "doorbell.h"

namespace smsh {

bool Notify(WaitLine* line, const DoorbellTarget* bell) {
  // SYNC POINT: seq_cst load; pairs with the sleeper's seq_cst store of
  // `waiting` before its re-check (see the protocol in notify.h). A plain
  // load first: no locked instruction while nobody sleeps.
  if (__atomic_load_n(&line->waiting, __ATOMIC_SEQ_CST) == 0) return false;
  // SYNC POINT: seq_cst exchange. The one waker that takes the non-zero
  // `waiting` wakes; every other waker until the sleeper announces its next
  // sleep finds 0 and makes no syscall: one wake per sleep, however many
  // commits land while the sleeper is being woken.
  uint32_t waiting = __atomic_exchange_n(&line->waiting, 0u, __ATOMIC_SEQ_CST);
  if (waiting == 0) return false;
  // SYNC POINT: seq_cst increment; the sleeper's FUTEX_WAIT compares seq
  // with the value it read before setting `waiting`.
  __atomic_fetch_add(&line->seq, 1u, __ATOMIC_SEQ_CST);
#if SMSH_HAVE_DOORBELL
  if (waiting & kWaitFutex) FutexWake(&line->seq, INT_MAX);
  if ((waiting & kWaitDoorbell) && bell != nullptr) RingDoorbell(*bell);
#else
  // No doorbell here (PROTOCOL §5): every sleeper waits on the line's wake
  // object, whichever bit it announced (a sleeper that asked for the
  // doorbell was given the waiter thread).
  FutexWake(&line->seq, INT_MAX);
  static_cast<void>(bell);
#endif
  return true;
}

FutexWatcher::FutexWatcher(std::function<void()> on_wake) : on_wake_(std::move(on_wake)) {
  thread_ = std::thread([this] { Run(); });
}

FutexWatcher::~FutexWatcher() { Stop(); }

void FutexWatcher::Arm(uint32_t* word, uint32_t expected) {
  Disarm();  // a wait still in progress would not see the new word
  {
    std::lock_guard<std::mutex> lock(mu_);
    word_ = word;
    expected_ = expected;
    generation_++;
  }
  cv_.notify_one();
}

void FutexWatcher::Disarm() {
  std::unique_lock<std::mutex> lock(mu_);
  uint32_t* word = word_;
  word_ = nullptr;
  generation_++;
  // Kick the thread out of FUTEX_WAIT. A wake on the shared word may also
  // wake another waiter on it; every waiter re-checks, so that is harmless.
  while (waiting_ && word != nullptr) {
    FutexWake(word, INT_MAX);
    cv_.wait_for(lock, std::chrono::milliseconds(1));
  }
}

void FutexWatcher::Stop() {
  Disarm();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void FutexWatcher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || word_ != nullptr; });
    if (stop_) return;
    uint32_t* word = word_;
    uint32_t expected = expected_;
    uint64_t generation = generation_;
    waiting_ = true;
    lock.unlock();
    FutexWait(word, expected, -1);
    lock.lock();
    waiting_ = false;
    cv_.notify_all();  // Disarm may be waiting for us to leave FutexWait
    if (generation != generation_) continue;  // re-armed or disarmed meanwhile
    word_ = nullptr;
    lock.unlock();
    on_wake_();
    lock.lock();
  }
}

}  // namespace smsh
