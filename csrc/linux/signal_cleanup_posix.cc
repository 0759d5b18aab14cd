#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "segment.h"
#include "signal_cleanup.h"

namespace smsh {

// Everything the handler reads is a lock-free atomic: a plain load may tear
// or be reordered, and a lock could be held by the very thread the signal
// interrupted.
static_assert(std::atomic<uint64_t>::is_always_lock_free, "the signal handler needs lock-free 64-bit atomics");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "the signal handler needs lock-free 32-bit atomics");

namespace {

// shm_open("/<name>") is the file /dev/shm/<name> with glibc and musl; the
// handler works on that path because shm_unlink is not async-signal-safe
// and unlink is.
constexpr char kShmDir[] = "/dev/shm/";
constexpr size_t kPathWords = 16;  // 128 bytes: any path RegisterOwnedPath takes, and its NUL
constexpr size_t kPathBytes = kPathWords * sizeof(uint64_t);
static_assert(kMaxOwnedPath + 1 <= kPathBytes, "a slot holds the longest path");
static_assert(sizeof(kShmDir) - 1 + kMaxNameLength <= kMaxOwnedPath, "a slot holds the longest segment path");

}  // namespace

// A slot is written by registering threads (one at a time, under a mutex)
// and read by the handler on any thread, as a sequence lock: the writer
// makes `seq` odd, writes, makes it even again; a reader copies the fields
// and keeps the copy only if `seq` was even and unchanged around it.
struct OwnedName {
  std::atomic<uint32_t> seq{0};
  std::atomic<uint32_t> live{0};
  std::atomic<uint64_t> dev{0};
  std::atomic<uint64_t> ino{0};
  std::atomic<uint64_t> path[kPathWords] = {};
};

namespace {

constexpr int kSlotsPerChunk = 64;

// Chunks are linked at the head and never freed, so a handler walking the
// list never meets freed memory.
struct Chunk {
  OwnedName slots[kSlotsPerChunk];
  Chunk* next = nullptr;  // written before the chunk is published, never after
};

std::atomic<Chunk*> g_chunks{nullptr};

// Writers' state, never destroyed: a worker may still register while the
// process runs its static destructors.
std::mutex& WriterMutex() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}
std::vector<OwnedName*>& FreeSlots() {
  static std::vector<OwnedName*>* free_slots = new std::vector<OwnedName*>();
  return *free_slots;
}

// Under WriterMutex. Without fences (ThreadSanitizer does not model them):
// the fields are stored with release and loaded with acquire, so a reader
// that sees any value of this write also sees the odd `seq` stored before it,
// and its closing `seq` check fails.
void Publish(OwnedName* s, uint32_t live, const uint64_t* words, uint64_t dev, uint64_t ino) {
  const uint32_t q = s->seq.load(std::memory_order_relaxed);
  s->seq.store(q + 1, std::memory_order_relaxed);
  s->live.store(live, std::memory_order_release);
  s->dev.store(dev, std::memory_order_release);
  s->ino.store(ino, std::memory_order_release);
  for (size_t i = 0; i < kPathWords; i++) s->path[i].store(words[i], std::memory_order_release);
  s->seq.store(q + 2, std::memory_order_release);
}

// A slot's `live`: 0 free, else what to do with its path.
constexpr uint32_t kLiveFile = 1;  // unlink
constexpr uint32_t kLiveDir = 2;   // rmdir, after every file

struct Snapshot {
  char path[kPathBytes];
  uint64_t dev;
  uint64_t ino;
  uint32_t live;
};

// Async-signal-safe. False if the slot is free, or is being written (by
// another thread that did not finish within a few tries, or by the thread
// this handler interrupted: then it never will, so do not wait for it).
bool Read(const OwnedName* s, Snapshot* out) {
  for (int attempt = 0; attempt < 1000; attempt++) {
    const uint32_t q1 = s->seq.load(std::memory_order_acquire);
    if (q1 & 1) continue;
    const uint32_t live = s->live.load(std::memory_order_acquire);
    out->dev = s->dev.load(std::memory_order_acquire);
    out->ino = s->ino.load(std::memory_order_acquire);
    for (size_t i = 0; i < kPathWords; i++) {
      const uint64_t w = s->path[i].load(std::memory_order_acquire);
      std::memcpy(out->path + i * sizeof(w), &w, sizeof(w));
    }
    if (s->seq.load(std::memory_order_relaxed) != q1) continue;
    out->path[kPathBytes - 1] = '\0';
    out->live = live;
    return live != 0;
  }
  return false;
}

}  // namespace

OwnedName* RegisterOwnedName(const std::string& name, uint64_t dev, uint64_t ino) {
  if (name.empty() || name.size() > kMaxNameLength) return nullptr;
  return RegisterOwnedPath(kShmDir + name, dev, ino);
}

OwnedName* RegisterOwnedPath(const std::string& path, uint64_t dev, uint64_t ino, bool directory) {
  if (path.empty() || path[0] != '/' || path.size() > kMaxOwnedPath) return nullptr;
  uint64_t words[kPathWords] = {};
  std::memcpy(reinterpret_cast<char*>(words), path.data(), path.size());

  std::lock_guard<std::mutex> lock(WriterMutex());
  std::vector<OwnedName*>& free_slots = FreeSlots();
  if (free_slots.empty()) {
    Chunk* chunk = new (std::nothrow) Chunk();
    if (chunk == nullptr) return nullptr;
    try {
      free_slots.reserve(free_slots.size() + kSlotsPerChunk);
    } catch (const std::bad_alloc&) {
      delete chunk;
      return nullptr;
    }
    for (int i = kSlotsPerChunk - 1; i >= 0; i--) free_slots.push_back(&chunk->slots[i]);
    chunk->next = g_chunks.load(std::memory_order_relaxed);
    g_chunks.store(chunk, std::memory_order_release);
  }
  OwnedName* slot = free_slots.back();
  free_slots.pop_back();
  Publish(slot, directory ? kLiveDir : kLiveFile, words, dev, ino);
  return slot;
}

void UnregisterOwnedName(OwnedName* entry) {
  if (entry == nullptr) return;
  static const uint64_t kNoPath[kPathWords] = {};
  std::lock_guard<std::mutex> lock(WriterMutex());
  Publish(entry, 0, kNoPath, 0, 0);
  // Cannot throw: RegisterOwnedName reserved room for every slot.
  FreeSlots().push_back(entry);
}

int UnlinkOwnedNames() {
  int removed = 0;
  // Files first, then directories (a directory goes only once empty).
  for (uint32_t pass : {kLiveFile, kLiveDir}) {
    for (Chunk* c = g_chunks.load(std::memory_order_acquire); c != nullptr; c = c->next) {
      for (OwnedName& slot : c->slots) {
        Snapshot snap;
        if (!Read(&slot, &snap) || snap.live != pass) continue;
        // Only if the name still refers to our object: after someone else
        // removed it and a third party created a new one under that name,
        // a blind unlink would destroy theirs.
        struct stat st;
        if (lstat(snap.path, &st) != 0) continue;
        if (static_cast<uint64_t>(st.st_dev) != snap.dev || static_cast<uint64_t>(st.st_ino) != snap.ino) continue;
        if ((pass == kLiveDir ? rmdir(snap.path) : unlink(snap.path)) == 0) removed++;
      }
    }
  }
  return removed;
}

int CountOwnedNames() {
  int n = 0;
  for (Chunk* c = g_chunks.load(std::memory_order_acquire); c != nullptr; c = c->next) {
    for (OwnedName& slot : c->slots) {
      Snapshot snap;
      if (Read(&slot, &snap)) n++;
    }
  }
  return n;
}

// ---- the handler ----

namespace {

// What the handler replaced, per signal: SIG_DFL, or the handler it chains
// to. Written (under SignalMutex) only while the handler is not installed
// for that signal, and before it is.
struct sigaction g_replaced[NSIG];

std::mutex& SignalMutex() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}

void OnCleanupSignal(int signo) {
  const int saved_errno = errno;
  UnlinkOwnedNames();
  // Back to the disposition we replaced, and the signal again: it stays
  // pending while this handler runs (the kernel blocks it here) and is
  // delivered as soon as we return, so the process dies of it exactly as
  // it would have without us (or the chained handler ends it).
  sigaction(signo, &g_replaced[signo], nullptr);
  raise(signo);
  errno = saved_errno;
}

bool IsOurs(const struct sigaction& sa) {
  return (sa.sa_flags & SA_SIGINFO) == 0 && sa.sa_handler == OnCleanupSignal;
}

bool IsDefault(const struct sigaction& sa) { return (sa.sa_flags & SA_SIGINFO) == 0 && sa.sa_handler == SIG_DFL; }

bool IsIgnored(const struct sigaction& sa) { return (sa.sa_flags & SA_SIGINFO) == 0 && sa.sa_handler == SIG_IGN; }

}  // namespace

bool ArmSignalCleanup(int signo, ChainPredicate may_chain) {
  if (signo <= 0 || signo >= NSIG) return false;
  std::lock_guard<std::mutex> lock(SignalMutex());
  struct sigaction current;
  if (sigaction(signo, nullptr, &current) != 0) return false;
  if (IsOurs(current)) return true;
  if (IsIgnored(current)) return false;
  if (!IsDefault(current) && (may_chain == nullptr || !may_chain(current))) return false;

  g_replaced[signo] = current;
  struct sigaction ours;
  std::memset(&ours, 0, sizeof(ours));
  ours.sa_handler = OnCleanupSignal;
  sigemptyset(&ours.sa_mask);
  for (int s : kCleanupSignals) sigaddset(&ours.sa_mask, s);  // one cleanup at a time per thread
  ours.sa_flags = SA_RESTART;
  struct sigaction before;
  if (sigaction(signo, &ours, &before) != 0) return false;
  // Someone (libuv, for a JavaScript listener added on another thread) may
  // have installed a handler between our query and our install: theirs
  // wins, we put it back.
  if ((before.sa_flags & SA_SIGINFO) != (current.sa_flags & SA_SIGINFO) ||
      before.sa_handler != current.sa_handler) {
    sigaction(signo, &before, nullptr);
    return false;
  }
  return true;
}

bool SignalCleanupArmed(int signo) {
  if (signo <= 0 || signo >= NSIG) return false;
  struct sigaction current;
  return sigaction(signo, nullptr, &current) == 0 && IsOurs(current);
}

}  // namespace smsh
