// proc.h on Windows.
#ifdef _WIN32

#include <cerrno>

#include "proc.h"
#include "win32.h"

// bcrypt.h needs ntstatus types that windows.h under WIN32_LEAN_AND_MEAN
// leaves out.
#include <bcrypt.h>

namespace smsh {

namespace {

// FILETIME of 1970-01-01 (100 ns units since 1601).
constexpr uint64_t kUnixEpochFiletime = 116444736000000000ull;

uint64_t FiletimeU64(const FILETIME& ft) {
  return (static_cast<uint64_t>(ft.dwHighDateTime) << 32) | ft.dwLowDateTime;
}

// Creation time of an open process in microseconds since the Unix epoch;
// ESRCH if it has exited (a dead process stays openable for a while).
Status StartTimeOf(HANDLE h, uint64_t* out) {
  if (WaitForSingleObject(h, 0) != WAIT_TIMEOUT) return Status::FromErrno(ESRCH, "WaitForSingleObject", "exited");
  FILETIME created, exited, kernel, user;
  if (!GetProcessTimes(h, &created, &exited, &kernel, &user)) return WinStatus(GetLastError(), "GetProcessTimes", "");
  uint64_t t = FiletimeU64(created);
  *out = t > kUnixEpochFiletime ? (t - kUnixEpochFiletime) / 10 : 0;
  return Status::Ok();
}

HANDLE OpenForWatch(uint32_t pid) {
  return OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
}

}  // namespace

Status ProcessStartTime(uint32_t pid, uint64_t* out) {
  HANDLE h = OpenForWatch(pid);
  if (h == nullptr) {
    DWORD err = GetLastError();
    // An unknown pid is ERROR_INVALID_PARAMETER.
    if (err == ERROR_INVALID_PARAMETER) return Status::FromErrno(ESRCH, "OpenProcess", "");
    return WinStatus(err, "OpenProcess", "");
  }
  Status s = StartTimeOf(h, out);
  CloseHandle(h);
  return s;
}

uint32_t SelfPid() { return static_cast<uint32_t>(GetCurrentProcessId()); }

uint64_t SelfStartTime() {
  static const uint64_t cached = [] {
    uint64_t t = 0;
    if (!StartTimeOf(GetCurrentProcess(), &t).ok()) t = 0;
    return t;
  }();
  return cached;
}

Status OpenProcessWatch(uint32_t pid, uint64_t start_time, void** handle, bool* found) {
  *handle = nullptr;
  *found = false;
  HANDLE h = OpenForWatch(pid);
  if (h == nullptr) {
    DWORD err = GetLastError();
    if (err == ERROR_INVALID_PARAMETER) return Status::Ok();  // no such process
    return WinStatus(err, "OpenProcess", "");
  }
  // The handle pins the process object: checked now, it cannot become
  // another process under us.
  uint64_t t = 0;
  if (!StartTimeOf(h, &t).ok() || t != start_time) {
    CloseHandle(h);
    return Status::Ok();
  }
  *handle = h;
  *found = true;
  return Status::Ok();
}

Status RandomBytes(void* out, size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    ULONG chunk = n > 0x10000000 ? 0x10000000 : static_cast<ULONG>(n);
    if (BCryptGenRandom(nullptr, p, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
      return Status::FromErrno(EIO, "BCryptGenRandom", "");
    p += chunk;
    n -= chunk;
  }
  return Status::Ok();
}

uint64_t RealtimeNs() {
  FILETIME ft;
  GetSystemTimePreciseAsFileTime(&ft);
  uint64_t t = FiletimeU64(ft);
  return t > kUnixEpochFiletime ? (t - kUnixEpochFiletime) * 100 : 0;
}

uint64_t MonotonicNs() {
  static const uint64_t freq = [] {
    LARGE_INTEGER f;
    QueryPerformanceFrequency(&f);
    return static_cast<uint64_t>(f.QuadPart);
  }();
  LARGE_INTEGER c;
  QueryPerformanceCounter(&c);
  const uint64_t ticks = static_cast<uint64_t>(c.QuadPart);
  return ticks / freq * 1000000000ull + ticks % freq * 1000000000ull / freq;
}

}  // namespace smsh

#endif  // _WIN32
