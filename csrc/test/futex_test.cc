// FutexWait / FutexWake: value mismatch, timeouts, EINTR, wakes between
// threads, between two mappings of one segment, and between processes.
// Every wait has a timeout, so a broken wake fails a check instead of
// hanging the run.
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "futex.h"
#include "proc.h"
#include "segment.h"

using smsh::FutexWait;
using smsh::FutexWake;
using smsh::WaitResult;

namespace {

using smsh_test::kMs;
using smsh_test::Load;
using smsh_test::SleepMs;
using smsh_test::Store;

// Calls FutexWake(word, count) until it reports a woken sleeper, for at
// most timeout_ms; returns the number woken by the successful call (0 if
// no sleeper ever showed up). Proves a sleeper was really blocked.
int WakeUntilSomeoneWakes(uint32_t* word, int count, int timeout_ms) {
  const uint64_t deadline = smsh_test::NowMs() + static_cast<uint64_t>(timeout_ms);
  while (smsh_test::NowMs() < deadline) {
    int n = FutexWake(word, count);
    if (n > 0) return n;
    SleepMs(1);
  }
  return 0;
}

void OnSignal(int) {}

}  // namespace

SMSH_TEST(wait_returns_not_equal_when_value_differs) {
  uint32_t word = 5;
  uint64_t t0 = smsh_test::NowMs();
  CHECK_EQ(FutexWait(&word, 4, 10000 * kMs), WaitResult::kNotEqual);
  CHECK_EQ(FutexWait(&word, 0, -1), WaitResult::kNotEqual);  // no limit, still immediate
  CHECK_LT(smsh_test::NowMs() - t0, uint64_t{1000});
}

SMSH_TEST(wait_times_out) {
  uint32_t word = 0;
  uint64_t t0 = smsh::MonotonicNs();
  WaitResult r = FutexWait(&word, 0, 50 * kMs);
  uint64_t elapsed_ms = (smsh::MonotonicNs() - t0) / 1000000;
  CHECK_EQ(r, WaitResult::kTimedOut);
  CHECK_GE(elapsed_ms, uint64_t{45});
  CHECK_LT(elapsed_ms, uint64_t{2000});
  // A zero timeout does not block.
  t0 = smsh::MonotonicNs();
  CHECK_EQ(FutexWait(&word, 0, 0), WaitResult::kTimedOut);
  CHECK_LT((smsh::MonotonicNs() - t0) / 1000000, uint64_t{1000});
}

SMSH_TEST(wake_without_sleepers_returns_zero) {
  uint32_t word = 0;
  CHECK_EQ(FutexWake(&word, 1), 0);
  CHECK_EQ(FutexWake(&word, INT_MAX), 0);
}

SMSH_TEST(signals_do_not_cut_or_extend_the_timeout) {
  // EINTR is retried against the same absolute deadline.
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the futex call sees EINTR
  struct sigaction old {};
  REQUIRE(sigaction(SIGUSR1, &sa, &old) == 0);
  uint32_t word = 0;
  std::atomic<int> result{-1};
  std::atomic<uint64_t> elapsed_ms{0};
  std::thread t([&] {
    uint64_t t0 = smsh::MonotonicNs();
    WaitResult r = FutexWait(&word, 0, 300 * kMs);
    elapsed_ms = (smsh::MonotonicNs() - t0) / 1000000;
    result = static_cast<int>(r);
  });
  for (int i = 0; i < 4; i++) {
    SleepMs(50);
    pthread_kill(t.native_handle(), SIGUSR1);
  }
  t.join();
  sigaction(SIGUSR1, &old, nullptr);
  CHECK_EQ(result.load(), static_cast<int>(WaitResult::kTimedOut));
  CHECK_GE(elapsed_ms.load(), uint64_t{290});
  CHECK_LT(elapsed_ms.load(), uint64_t{2000});
}

SMSH_TEST(wake_reaches_a_blocked_thread) {
  uint32_t word = 0;
  std::atomic<int> result{-1};
  std::thread t([&] { result = static_cast<int>(FutexWait(&word, 0, 5000 * kMs)); });
  // The value never changes: only the wake itself can end the wait early.
  int woken = WakeUntilSomeoneWakes(&word, 1, 5000);
  t.join();
  CHECK_EQ(woken, 1);
  CHECK_EQ(result.load(), static_cast<int>(WaitResult::kWoken));
}

SMSH_TEST(wake_count_is_respected) {
  uint32_t word = 0;
  constexpr int kThreads = 3;
  std::atomic<int> done{0};
  std::atomic<int> woken_results{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; i++) {
    threads.emplace_back([&] {
      if (FutexWait(&word, 0, 5000 * kMs) == WaitResult::kWoken) woken_results++;
      done++;
    });
  }
  // Wake one at a time: each call wakes at most one.
  int total = 0;
  const uint64_t deadline = smsh_test::NowMs() + 5000;
  while (total < kThreads && smsh_test::NowMs() < deadline) {
    int n = FutexWake(&word, 1);
    CHECK_LE(n, 1);
    total += n;
    if (n == 0) SleepMs(1);
  }
  for (auto& t : threads) t.join();
  CHECK_EQ(total, kThreads);
  CHECK_EQ(woken_results.load(), kThreads);
  CHECK_EQ(done.load(), kThreads);
}

SMSH_TEST(value_change_and_wake_end_the_wait) {
  // The normal pattern: store the new value, then wake; the sleeper loops
  // on the value, so it cannot matter whether it was asleep yet.
  uint32_t word = 0;
  std::atomic<int> timeouts{0};
  std::thread t([&] {
    const uint64_t deadline = smsh_test::NowMs() + 5000;
    while (Load(&word) == 0 && smsh_test::NowMs() < deadline) {
      if (FutexWait(&word, 0, 5000 * kMs) == WaitResult::kTimedOut) timeouts++;
    }
  });
  SleepMs(20);
  Store(&word, 1);
  FutexWake(&word, INT_MAX);
  t.join();
  CHECK_EQ(timeouts.load(), 0);
  CHECK_EQ(Load(&word), 1u);
}

SMSH_TEST(wake_through_another_mapping) {
  // Two mappings of one segment in one process: the futex is keyed by the
  // object and offset, not by the address.
  const std::string name = smsh_test::TestName();
  smsh::CreateOptions o;
  o.name = name;
  o.data_size = 4096;
  std::unique_ptr<smsh::Segment> a, b;
  REQUIRE_OK(smsh::Segment::Create(o, &a));
  REQUIRE_OK(smsh::Segment::Attach(name, &b));
  auto* wa = reinterpret_cast<uint32_t*>(a->base() + smsh::kHeaderSize);
  auto* wb = reinterpret_cast<uint32_t*>(b->base() + smsh::kHeaderSize);
  REQUIRE(wa != wb);
  std::atomic<int> result{-1};
  std::thread t([&] { result = static_cast<int>(FutexWait(wb, 0, 5000 * kMs)); });
  int woken = WakeUntilSomeoneWakes(wa, 1, 5000);
  t.join();
  CHECK_EQ(woken, 1);
  CHECK_EQ(result.load(), static_cast<int>(WaitResult::kWoken));
  CHECK_OK(a->Unlink());
}

namespace {

// Lives at the start of the data region of the cross-process segment.
struct Shared {
  uint32_t word;            // the futex word
  uint32_t ready;           // child: attached and about to wait
  uint32_t unchanged_wakes; // child: wakes seen while word was still 0
  uint32_t pad;
};

// The child: attach by name, wait on the word until it becomes 1. Exit
// codes: 0 ok, 2 attach failed, 3 a wait timed out, 4 overall deadline.
[[noreturn]] void CrossProcessChild(const std::string& name) {
  alarm(20);  // last resort: never outlive a stuck parent
  std::unique_ptr<smsh::Segment> seg;
  if (!smsh::Segment::Attach(name, &seg).ok()) _exit(2);
  auto* sh = reinterpret_cast<Shared*>(seg->base() + smsh::kHeaderSize);
  Store(&sh->ready, 1);
  const uint64_t deadline = smsh::MonotonicNs() + 10000 * static_cast<uint64_t>(kMs);
  for (;;) {
    WaitResult r = FutexWait(&sh->word, 0, 3000 * kMs);
    if (Load(&sh->word) == 1) _exit(0);
    if (r == WaitResult::kTimedOut) _exit(3);
    if (r == WaitResult::kWoken) __atomic_fetch_add(&sh->unchanged_wakes, 1u, __ATOMIC_SEQ_CST);
    if (smsh::MonotonicNs() > deadline) _exit(4);
  }
}

}  // namespace

SMSH_TEST(wake_reaches_another_process) {
  const std::string name = smsh_test::TestName();
  smsh::CreateOptions o;
  o.name = name;
  o.data_size = 4096;
  std::unique_ptr<smsh::Segment> seg;
  REQUIRE_OK(smsh::Segment::Create(o, &seg));
  auto* sh = reinterpret_cast<Shared*>(seg->base() + smsh::kHeaderSize);

  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) CrossProcessChild(name);

  // 1. Wait for the child to attach.
  uint64_t deadline = smsh_test::NowMs() + 10000;
  while (Load(&sh->ready) == 0 && smsh_test::NowMs() < deadline) SleepMs(1);
  CHECK_EQ(Load(&sh->ready), 1u);
  // 2. A wake through our mapping reaches the child blocked in its own
  //    mapping, with the value unchanged: proof the wait is cross-process.
  int woken = WakeUntilSomeoneWakes(&sh->word, 1, 5000);
  CHECK_EQ(woken, 1);
  deadline = smsh_test::NowMs() + 5000;
  while (Load(&sh->unchanged_wakes) == 0 && smsh_test::NowMs() < deadline) SleepMs(1);
  CHECK_GE(Load(&sh->unchanged_wakes), 1u);
  // 3. The real signal: change the word, then wake.
  Store(&sh->word, 1);
  FutexWake(&sh->word, INT_MAX);

  int status = 0;
  pid_t got = 0;
  deadline = smsh_test::NowMs() + 10000;
  while ((got = waitpid(pid, &status, WNOHANG)) == 0 && smsh_test::NowMs() < deadline) SleepMs(2);
  if (got == 0) {
    smsh_test::Fail(__FILE__, __LINE__, "child did not exit within 10 s; killing it");
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  } else {
    CHECK_EQ(got, pid);
    CHECK(WIFEXITED(status));
    if (WIFEXITED(status)) {
      const int exit_code = WEXITSTATUS(status);  // 2 attach, 3 wait timed out, 4 deadline
      CHECK_EQ(exit_code, 0);
    } else if (WIFSIGNALED(status)) {
      smsh_test::Fail(__FILE__, __LINE__, "child killed by signal " + std::to_string(WTERMSIG(status)));
    }
  }
  CHECK_OK(seg->Unlink());
}

SMSH_TEST_MAIN()
