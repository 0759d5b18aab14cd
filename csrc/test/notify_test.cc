// The eventcount (Notify + the sleeper protocol of notify.h) and the
// FutexWatcher thread. The ping-pong stress tests are the ones that matter
// under ThreadSanitizer.
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "check.h"
#include "doorbell.h"
#include "futex.h"
#include "layout.h"
#include "notify.h"
#include "proc.h"
#include "segment.h"

using smsh::FutexWatcher;
using smsh::Notify;
using smsh::WaitLine;

namespace {

using smsh_test::kMs;
using smsh_test::Load;
using smsh_test::SleepMs;
using smsh_test::Store;

// A segment whose header provides real, shared wait lines and a token.
struct TestSegment {
  std::unique_ptr<smsh::Segment> seg;
  bool Create() {
    smsh::CreateOptions o;
    o.name = smsh_test::TestName();
    o.data_size = 4096;
    return smsh::Segment::Create(o, &seg).ok();
  }
  ~TestSegment() {
    if (seg) seg->Unlink();
  }
  WaitLine* reader() { return &seg->header()->reader_wait; }
  WaitLine* writer() { return &seg->header()->writer_wait; }
  const uint8_t* token() { return seg->token(); }
};

constexpr uint32_t kReaderLine = offsetof(smsh::Header, reader_wait);
constexpr uint32_t kWriterLine = offsetof(smsh::Header, writer_wait);

// Records on_wake calls and lets the test wait for one.
struct WakeLog {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  std::function<void()> Callback() {
    return [this] {
      std::lock_guard<std::mutex> lock(mu);
      count++;
      cv.notify_all();
    };
  }
  bool WaitFor(int n, int timeout_ms) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return count >= n; });
  }
  int Count() {
    std::lock_guard<std::mutex> lock(mu);
    return count;
  }
};

}  // namespace

SMSH_TEST(notify_without_sleeper_does_nothing) {
  TestSegment ts;
  REQUIRE(ts.Create());
  WaitLine* line = ts.reader();
  Store(&line->seq, 7);
  smsh::DoorbellDir dir(ts.seg->uid());
  smsh::DoorbellListener l;
  REQUIRE_OK(l.Open(dir, ts.seg->header()->token, kReaderLine));
  int sender = -1;
  REQUIRE_OK(smsh::OpenDoorbellSender(&sender));
  const smsh::DoorbellTarget bell{sender, &dir, ts.token(), kReaderLine};
  CHECK(!Notify(line, &bell));
  CHECK(!Notify(line, nullptr));
  CHECK_EQ(Load(&line->seq), 7u);
  CHECK_EQ(Load(&line->waiting), 0u);
  CHECK_EQ(l.Drain(), 0);  // no doorbell rung either
  close(sender);
}

SMSH_TEST(notify_doorbell_mode_rings_and_bumps_seq) {
  TestSegment ts;
  REQUIRE(ts.Create());
  WaitLine* line = ts.reader();
  smsh::DoorbellDir dir(ts.seg->uid());
  smsh::DoorbellListener l;
  REQUIRE_OK(l.Open(dir, ts.seg->header()->token, kReaderLine));
  int sender = -1;
  REQUIRE_OK(smsh::OpenDoorbellSender(&sender));
  const smsh::DoorbellTarget bell{sender, &dir, ts.token(), kReaderLine};
  Store(&line->waiting, smsh::kWaitDoorbell);
  CHECK(Notify(line, &bell));
  CHECK_EQ(Load(&line->seq), 1u);
  pollfd p{l.fd(), POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 2000), 1);
  CHECK_EQ(l.Drain(), 1);
  // The waker took the announcement: `waiting` is 0, and another Notify
  // before the sleeper announces again wakes nobody (no seq, no doorbell).
  CHECK_EQ(Load(&line->waiting), 0u);
  CHECK(!Notify(line, &bell));
  CHECK_EQ(Load(&line->seq), 1u);
  CHECK_EQ(l.Drain(), 0);
  // Without a doorbell target the doorbell is skipped, seq still moves.
  Store(&line->waiting, smsh::kWaitDoorbell);
  CHECK(Notify(line, nullptr));
  CHECK_EQ(Load(&line->seq), 2u);
  CHECK_EQ(l.Drain(), 0);
  // The other line's doorbell is not rung.
  smsh::DoorbellListener w;
  REQUIRE_OK(w.Open(dir, ts.seg->header()->token, kWriterLine));
  Store(&line->waiting, smsh::kWaitDoorbell);
  CHECK(Notify(line, &bell));
  CHECK_EQ(w.Drain(), 0);
  close(sender);
}

SMSH_TEST(one_wake_per_announcement_among_racing_wakers) {
  TestSegment ts;
  REQUIRE(ts.Create());
  WaitLine* line = ts.reader();
  constexpr int kWakers = 4;
  constexpr int kRounds = 2000;
  for (int round = 0; round < kRounds; round++) {
    Store(&line->waiting, smsh::kWaitFutex);  // one announcement
    std::atomic<int> woke{0};
    std::atomic<bool> go{false};
    std::thread t[kWakers];
    for (auto& th : t) {
      th = std::thread([&] {
        // Yield while waiting for the start: four spinning threads on a busy
        // 2-core machine under TSan starved the thread that starts them
        // (once past ctest's 60 s). They still race from the same moment.
        while (!go.load()) std::this_thread::yield();
        if (Notify(line, nullptr)) woke++;
      });
    }
    go = true;
    for (auto& th : t) th.join();
    CHECK_EQ(woke.load(), 1);  // exactly one waker took it
  }
  CHECK_EQ(Load(&line->seq), static_cast<uint32_t>(kRounds));
}

SMSH_TEST(watcher_wakes_on_notify) {
  TestSegment ts;
  REQUIRE(ts.Create());
  WaitLine* line = ts.reader();
  WakeLog log;
  FutexWatcher watcher(log.Callback());
  // The sleeper side of the protocol, done by an event loop with a watcher.
  uint32_t s = Load(&line->seq);
  Store(&line->waiting, smsh::kWaitFutex);
  watcher.Arm(&line->seq, s);
  SleepMs(20);  // let the watcher block in FUTEX_WAIT
  CHECK_EQ(log.Count(), 0);
  std::thread waker([&] { CHECK(Notify(line, nullptr)); });
  waker.join();
  CHECK(log.WaitFor(1, 5000));
  Store(&line->waiting, 0);
  SleepMs(20);
  CHECK_EQ(log.Count(), 1);  // one-shot
  // Arm again: a stale expected value fires at once.
  watcher.Arm(&line->seq, s);
  CHECK(log.WaitFor(2, 5000));
  // And a fresh one waits for the next Notify.
  s = Load(&line->seq);
  Store(&line->waiting, smsh::kWaitFutex);
  watcher.Arm(&line->seq, s);
  SleepMs(10);
  CHECK_EQ(log.Count(), 2);
  CHECK(Notify(line, nullptr));
  CHECK(log.WaitFor(3, 5000));
  watcher.Stop();
  CHECK_EQ(log.Count(), 3);
}

SMSH_TEST(disarm_and_stop_are_prompt_and_silent) {
  TestSegment ts;
  REQUIRE(ts.Create());
  WaitLine* line = ts.reader();
  WakeLog log;
  FutexWatcher watcher(log.Callback());
  Store(&line->waiting, smsh::kWaitFutex);
  for (int i = 0; i < 20; i++) {
    watcher.Arm(&line->seq, Load(&line->seq));
    if (i % 2) SleepMs(5);  // half the time it is surely inside FUTEX_WAIT
    uint64_t t0 = smsh_test::NowMs();
    watcher.Disarm();
    CHECK_LT(smsh_test::NowMs() - t0, uint64_t{500});
  }
  // After Disarm a Notify must not reach on_wake.
  CHECK(Notify(line, nullptr));
  Store(&line->waiting, smsh::kWaitFutex);  // announced again for the Notify below
  SleepMs(50);
  CHECK_EQ(log.Count(), 0);
  watcher.Disarm();  // disarming an idle watcher is fine

  // Re-arming replaces the wait: only the new word counts.
  WaitLine* other = ts.writer();
  Store(&other->waiting, smsh::kWaitFutex);
  watcher.Arm(&line->seq, Load(&line->seq));
  watcher.Arm(&other->seq, Load(&other->seq));
  SleepMs(10);
  CHECK(Notify(line, nullptr));
  SleepMs(50);
  CHECK_EQ(log.Count(), 0);
  CHECK(Notify(other, nullptr));
  CHECK(log.WaitFor(1, 5000));

  // Stop while armed returns promptly without calling on_wake.
  watcher.Arm(&line->seq, Load(&line->seq));
  SleepMs(10);
  uint64_t t0 = smsh_test::NowMs();
  watcher.Stop();
  CHECK_LT(smsh_test::NowMs() - t0, uint64_t{500});
  CHECK_EQ(log.Count(), 1);
  watcher.Stop();  // idempotent
  // The destructor of a watcher that is armed right now is prompt too.
  t0 = smsh_test::NowMs();
  {
    FutexWatcher w2(log.Callback());
    w2.Arm(&line->seq, Load(&line->seq));
    SleepMs(5);
  }
  CHECK_LT(smsh_test::NowMs() - t0, uint64_t{500});
  CHECK_EQ(log.Count(), 1);
}

namespace {

// The sleeper side of the eventcount (notify.h), with a futex sleep.
// Returns false if a sleep ran into its (generous) 2 s timeout: the other
// side never sleeps that long, so that is a lost wakeup.
template <typename Pred>
bool SleepUntil(WaitLine* line, Pred pred, uint64_t* sleeps) {
  while (!pred()) {
    uint32_t s = Load(&line->seq);
    Store(&line->waiting, smsh::kWaitFutex);
    if (pred()) {
      Store(&line->waiting, 0);
      break;
    }
    (*sleeps)++;
    smsh::WaitResult r = smsh::FutexWait(&line->seq, s, 2000 * kMs);
    Store(&line->waiting, 0);
    if (r == smsh::WaitResult::kTimedOut) return false;
  }
  return true;
}

// One game of ping-pong: the ball is a counter in shared memory; the player
// with parity p moves when ball == 2i + p, then notifies the other player's
// line. A lost wakeup ends the game for both (abort), so a broken wake
// costs seconds, not 100,000 timeouts.
struct Game {
  uint32_t* ball = nullptr;
  const uint8_t* token = nullptr;
  std::atomic<bool> abort{false};
};

struct Player {
  WaitLine* mine = nullptr;
  WaitLine* theirs = nullptr;
  uint32_t theirs_offset = 0;
  uint32_t parity = 0;
  uint64_t sleeps = 0;
  uint64_t notifies = 0;
  int lost = 0;
  uint32_t moves = 0;

  void Play(Game* g, uint32_t rounds) {
    for (uint32_t i = 0; i < rounds; i++) {
      const uint32_t want = 2 * i + parity;
      auto ready = [&] { return g->abort.load() || Load(g->ball) == want; };
      if (!SleepUntil(mine, ready, &sleeps)) {
        lost++;
        g->abort = true;
        Notify(theirs, nullptr);
        return;
      }
      if (g->abort.load()) return;
      Store(g->ball, want + 1);
      moves++;
      if (Notify(theirs, nullptr)) notifies++;
    }
  }
};

}  // namespace

SMSH_TEST(pingpong_100k_futex) {
  // Two threads pass the ball back and forth 100,000 times. Each sleeps on
  // its own wait line with the eventcount protocol; each move is a state
  // change followed by Notify on the other's line.
  TestSegment ts;
  REQUIRE(ts.Create());
  Game game;
  // The ball lives in the shared data region, like a ring index would.
  game.ball = reinterpret_cast<uint32_t*>(ts.seg->base() + smsh::kHeaderSize);
  game.token = ts.token();
  constexpr uint32_t kRounds = 100000;
  Player ping{ts.reader(), ts.writer(), kWriterLine, 0};
  Player pong{ts.writer(), ts.reader(), kReaderLine, 1};

  std::thread pong_thread([&] { pong.Play(&game, kRounds); });
  ping.Play(&game, kRounds);
  pong_thread.join();
  CHECK(!game.abort.load());
  CHECK_EQ(ping.lost, 0);
  CHECK_EQ(pong.lost, 0);
  CHECK_EQ(ping.moves, kRounds);
  CHECK_EQ(pong.moves, kRounds);
  CHECK_EQ(Load(game.ball), 2 * kRounds);
  CHECK_EQ(Load(&ts.reader()->waiting), 0u);
  CHECK_EQ(Load(&ts.writer()->waiting), 0u);
  std::printf("    ping: %llu sleeps, %llu notifies; pong: %llu sleeps, %llu notifies\n",
              static_cast<unsigned long long>(ping.sleeps), static_cast<unsigned long long>(ping.notifies),
              static_cast<unsigned long long>(pong.sleeps), static_cast<unsigned long long>(pong.notifies));
}

SMSH_TEST(pingpong_watcher) {
  // The same game, but one side is an "event loop" that sleeps through a
  // FutexWatcher (Arm, then wait for on_wake) as the addon's async waiter
  // does; the other side sleeps in FutexWait.
  TestSegment ts;
  REQUIRE(ts.Create());
  Game game;
  game.ball = reinterpret_cast<uint32_t*>(ts.seg->base() + smsh::kHeaderSize);
  game.token = ts.token();
  WaitLine* loop_line = ts.reader();
  constexpr uint32_t kRounds = 10000;
  Player peer{ts.writer(), loop_line, kReaderLine, 1};
  int loop_lost = 0;
  uint64_t loop_sleeps = 0;
  uint32_t loop_moves = 0;

  WakeLog log;
  FutexWatcher watcher(log.Callback());
  std::thread peer_thread([&] { peer.Play(&game, kRounds); });
  int wakes_seen = 0;
  for (uint32_t i = 0; i < kRounds && !game.abort.load(); i++) {
    const uint32_t want = 2 * i;
    auto ready = [&] { return game.abort.load() || Load(game.ball) == want; };
    while (!ready()) {
      uint32_t s = Load(&loop_line->seq);
      Store(&loop_line->waiting, smsh::kWaitFutex);
      if (ready()) {
        Store(&loop_line->waiting, 0);
        break;
      }
      loop_sleeps++;
      watcher.Arm(&loop_line->seq, s);
      bool woke = log.WaitFor(wakes_seen + 1, 2000);
      Store(&loop_line->waiting, 0);
      if (!woke) {
        watcher.Disarm();
        loop_lost++;
        game.abort = true;
        break;
      }
      wakes_seen++;
    }
    if (game.abort.load()) break;
    Store(game.ball, want + 1);
    loop_moves++;
    Notify(ts.writer(), nullptr);
  }
  if (game.abort.load()) Notify(ts.writer(), nullptr);
  peer_thread.join();
  watcher.Stop();
  CHECK(!game.abort.load());
  CHECK_EQ(loop_lost, 0);
  CHECK_EQ(peer.lost, 0);
  CHECK_EQ(loop_moves, kRounds);
  CHECK_EQ(peer.moves, kRounds);
  CHECK_EQ(Load(game.ball), 2 * kRounds);
  CHECK_EQ(log.Count(), wakes_seen);  // one on_wake per Arm that fired
  std::printf("    loop: %llu watcher sleeps; peer: %llu futex sleeps\n",
              static_cast<unsigned long long>(loop_sleeps), static_cast<unsigned long long>(peer.sleeps));
}

SMSH_TEST_MAIN()
