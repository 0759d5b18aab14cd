// A tiny test harness for the native core tests: no framework, nothing
// downloaded. Each test file defines cases with SMSH_TEST(name) and ends
// with SMSH_TEST_MAIN(). The executable runs every case (or the cases named
// on its command line), prints one line per case and each failed check, and
// exits nonzero if anything failed. `--list` prints the case names.
// CMakeLists.txt registers each case as its own ctest, "<file>.<case>",
// found by scanning the source for SMSH_TEST(<case>) at the start of a line.
//
// Segment names come from TestName() ("smsh-ntest-<pid>-<n>"). Every name
// handed out is remembered: after each case the harness reports any of them
// still present in /dev/shm as a failure (a test that leaks an object is a
// failing test) and removes it, and a sanitizer's death callback removes
// them too, so a crashing test leaves nothing behind either.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "status.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SMSH_TEST_SANITIZED 1
#include <sanitizer/common_interface_defs.h>
#else
#define SMSH_TEST_SANITIZED 0
#endif

namespace smsh_test {

struct Case {
  const char* name;
  void (*fn)();
};

inline std::vector<Case>& Cases() {
  static std::vector<Case> cases;
  return cases;
}

struct Registrar {
  Registrar(const char* name, void (*fn)()) { Cases().push_back({name, fn}); }
};

// Failed checks of the case that is running.
inline int& Failures() {
  static int failures = 0;
  return failures;
}

inline void Fail(const char* file, int line, const std::string& what) {
  Failures()++;
  // stdout, like the per-case lines, so the two stay in order in a log.
  std::printf("    FAILED %s:%d: %s\n", file, line, what.c_str());
  std::fflush(stdout);
}

// ---- segment names, remembered for cleanup ----

// A fixed table, so the death callback (which may run in a signal context)
// needs no allocation.
constexpr int kMaxNames = 256;
struct NameTable {
  char names[kMaxNames][32];
  int count;
};
inline NameTable& Names() {
  static NameTable table;
  return table;
}

// "smsh-ntest-<pid>-<n>": unique per process and call, at most 30 chars;
// padded with 'x' to pad_to characters if asked (for the longest valid name).
inline std::string TestName(size_t pad_to = 0) {
  static int counter = 0;
  char buf[32];
  int len = std::snprintf(buf, sizeof(buf), "smsh-ntest-%d-%d", static_cast<int>(getpid()), counter++);
  size_t n = len < 0 ? 0 : static_cast<size_t>(len);
  if (n > sizeof(buf) - 1) n = sizeof(buf) - 1;
  if (pad_to > sizeof(buf) - 1) pad_to = sizeof(buf) - 1;
  while (n < pad_to) buf[n++] = 'x';
  buf[n] = '\0';
  NameTable& t = Names();
  if (t.count < kMaxNames) {
    std::memcpy(t.names[t.count], buf, sizeof(buf));
    t.count++;
  }
  return buf;
}

inline std::string ShmPath(const std::string& name) { return "/dev/shm/" + name; }

inline bool ShmExists(const std::string& name) {
  struct stat st;
  return stat(ShmPath(name).c_str(), &st) == 0;
}

// Removes every remembered name; returns how many still existed.
inline int UnlinkAllNames() {
  NameTable& t = Names();
  int left = 0;
  for (int i = 0; i < t.count; i++) {
    char path[40] = "/";
    std::strncat(path, t.names[i], sizeof(path) - 2);
    if (shm_unlink(path) == 0) left++;
  }
  return left;
}

inline void ForgetNames() { Names().count = 0; }

inline void OnSanitizerDeath() { UnlinkAllNames(); }

// SIGINT/SIGTERM (Ctrl-C, a killed run): remove the objects, then die of
// the signal as usual.
inline void OnTerminationSignal(int sig) {
  UnlinkAllNames();
  signal(sig, SIG_DFL);
  raise(sig);
}

// ---- formatting helpers for check messages ----

inline std::string Show(const smsh::Status& s) {
  if (s.ok()) return "ok";
  return std::string(s.code) + " (" + s.message + ")";
}
template <typename T>
std::string Show(const T& v) {
  if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<long long>(v));
  } else if constexpr (std::is_pointer_v<T>) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%p", static_cast<const void*>(v));
    return buf;
  } else {
    return std::to_string(v);
  }
}
inline std::string Show(const std::string& v) { return "\"" + v + "\""; }
inline std::string Show(const char* v) { return v == nullptr ? "null" : "\"" + std::string(v) + "\""; }
inline std::string Show(bool v) { return v ? "true" : "false"; }

constexpr int64_t kMs = 1000000;  // nanoseconds per millisecond

inline void SleepMs(int ms) {
  timespec ts{ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Sequentially consistent access to a shared 32-bit word.
inline uint32_t Load(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
inline void Store(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

// Creates a raw object (not through Segment) holding `bytes`, with `mode`.
inline bool MakeRawObject(const std::string& name, const std::vector<uint8_t>& bytes, mode_t mode = 0600) {
  int fd = shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = fchmod(fd, mode) == 0;
  size_t off = 0;
  while (ok && off < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else off += static_cast<size_t>(n);
  }
  close(fd);
  return ok;
}

inline int CountOpenFds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(d);
  return n - 1;  // the directory's own descriptor
}


inline uint64_t NowMs() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

inline int RunAll(int argc, char** argv) {
#if SMSH_TEST_SANITIZED
  __sanitizer_set_death_callback(OnSanitizerDeath);
#endif
  signal(SIGINT, OnTerminationSignal);
  signal(SIGTERM, OnTerminationSignal);
  // Arguments: case names to run (exactly), or --list; none = all cases.
  std::vector<const Case*> selected;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--list") == 0) {
      for (const Case& c : Cases()) std::printf("%s\n", c.name);
      return 0;
    }
    const Case* found = nullptr;
    for (const Case& c : Cases())
      if (std::strcmp(c.name, argv[i]) == 0) found = &c;
    if (found == nullptr) {
      std::printf("no test case named \"%s\" (--list shows them)\n", argv[i]);
      return 2;
    }
    selected.push_back(found);
  }
  if (selected.empty())
    for (const Case& c : Cases()) selected.push_back(&c);

  int failed_cases = 0;
  for (const Case* c : selected) {
    Failures() = 0;
    std::printf("[ RUN  ] %s\n", c->name);
    std::fflush(stdout);
    uint64_t t0 = NowMs();
    c->fn();
    int leaked = UnlinkAllNames();
    ForgetNames();
    if (leaked > 0) {
      Fail(__FILE__, __LINE__,
           std::to_string(leaked) + " shared-memory object(s) left in /dev/shm by this case");
    }
    uint64_t ms = NowMs() - t0;
    if (Failures() == 0) {
      std::printf("[  OK  ] %s (%llu ms)\n", c->name, static_cast<unsigned long long>(ms));
    } else {
      failed_cases++;
      std::printf("[ FAIL ] %s (%d failed checks, %llu ms)\n", c->name, Failures(),
                  static_cast<unsigned long long>(ms));
    }
    std::fflush(stdout);
  }
  const int ran = static_cast<int>(selected.size());
  std::printf("%d/%d cases passed\n", ran - failed_cases, ran);
  return failed_cases == 0 ? 0 : 1;
}

}  // namespace smsh_test

#define SMSH_TEST(name)                                                     \
  static void smsh_test_##name();                                           \
  static ::smsh_test::Registrar smsh_test_reg_##name(#name, smsh_test_##name); \
  static void smsh_test_##name()

#define SMSH_TEST_MAIN() \
  int main(int argc, char** argv) { return ::smsh_test::RunAll(argc, argv); }

// Non-fatal checks: record the failure and carry on. Each evaluates its
// arguments exactly once.
#define CHECK(cond)                                                 \
  do {                                                              \
    if (!(cond)) ::smsh_test::Fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_OP(a, op, b)                                                              \
  do {                                                                                  \
    const auto& smsh_a_ = (a);                                                          \
    const auto& smsh_b_ = (b);                                                          \
    if (!(smsh_a_ op smsh_b_))                                                          \
      ::smsh_test::Fail(__FILE__, __LINE__,                                             \
                        #a " " #op " " #b ": " + ::smsh_test::Show(smsh_a_) + " vs " + \
                            ::smsh_test::Show(smsh_b_));                                \
  } while (0)

#define CHECK_EQ(a, b) CHECK_OP(a, ==, b)
#define CHECK_NE(a, b) CHECK_OP(a, !=, b)
#define CHECK_LT(a, b) CHECK_OP(a, <, b)
#define CHECK_LE(a, b) CHECK_OP(a, <=, b)
#define CHECK_GE(a, b) CHECK_OP(a, >=, b)
#define CHECK_GT(a, b) CHECK_OP(a, >, b)

// A Status is ok / has the given code ("ENOENT", "ECORRUPT", ...).
#define CHECK_OK(expr)                                                                \
  do {                                                                                \
    ::smsh::Status smsh_s_ = (expr);                                                  \
    if (!smsh_s_.ok())                                                                \
      ::smsh_test::Fail(__FILE__, __LINE__, #expr " failed: " + ::smsh_test::Show(smsh_s_)); \
  } while (0)

#define CHECK_CODE(expr, want)                                                          \
  do {                                                                                  \
    ::smsh::Status smsh_s_ = (expr);                                                    \
    const std::string smsh_want_ = (want);                                              \
    if (smsh_s_.ok() || smsh_want_ != smsh_s_.code)                                     \
      ::smsh_test::Fail(__FILE__, __LINE__,                                             \
                        #expr ": want " + smsh_want_ + ", got " + ::smsh_test::Show(smsh_s_)); \
  } while (0)

// Fatal within the case: record and return from the test function.
#define REQUIRE(cond)                                                   \
  do {                                                                  \
    if (!(cond)) {                                                      \
      ::smsh_test::Fail(__FILE__, __LINE__, "REQUIRE(" #cond ")");      \
      return;                                                           \
    }                                                                   \
  } while (0)

#define REQUIRE_OK(expr)                                                                  \
  do {                                                                                    \
    ::smsh::Status smsh_s_ = (expr);                                                      \
    if (!smsh_s_.ok()) {                                                                  \
      ::smsh_test::Fail(__FILE__, __LINE__, #expr " failed: " + ::smsh_test::Show(smsh_s_)); \
      return;                                                                             \
    }                                                                                     \
  } while (0)
