// Facts about processes that the header records: who created a segment and
// when that process started (a pid alone is ambiguous after pid reuse).
#pragma once

#include <cstddef>
#include <cstdint>

#include "status.h"

namespace smsh {

// The largest pid a process can have: Linux's PID_MAX_LIMIT (2^22);
// Windows process ids are DWORDs.
#ifdef _WIN32
constexpr double kMaxPid = 4294967295.0;
#else
constexpr double kMaxPid = 4194304;
#endif

// Start time of `pid`, or ESRCH/ENOENT if there is no such process. Linux:
// clock ticks since boot (field 22 of /proc/<pid>/stat). Windows:
// microseconds since the Unix epoch (GetProcessTimes' creation time; whole
// 100 ns units would not fit a JavaScript number exactly).
Status ProcessStartTime(uint32_t pid, uint64_t* out);

// The current process's pid and start time, read once and cached.
uint32_t SelfPid();
uint64_t SelfStartTime();

#ifndef _WIN32
// A pidfd (pidfd_open) for the process `pid` whose start time is
// `start_time`: it becomes readable when that process exits, without any
// polling. *fd = -1 and *alive = false if no such process runs here (it died,
// or `pid` now names another process: start times differ); *fd = -1 and
// *alive = true if it runs but cannot be watched this way (no pidfd support).
// A process in another PID namespace has another pid here: it is reported as
// not found, so callers must not treat "not found" as "dead" by itself.
Status OpenPidfd(uint32_t pid, uint64_t start_time, int* fd, bool* found);
#else
// A handle (SYNCHRONIZE) to the process `pid` whose start time is
// `start_time`: it is signalled when that process exits. *handle = nullptr
// and *found = false if no such process runs (it exited, or `pid` now names
// another process: start times differ; Windows reuses pids at once).
Status OpenProcessWatch(uint32_t pid, uint64_t start_time, void** handle, bool* found);
#endif

// Cryptographically random bytes (getrandom; Windows: BCryptGenRandom).
Status RandomBytes(void* out, size_t n);

// CLOCK_REALTIME in nanoseconds; CLOCK_MONOTONIC in nanoseconds.
uint64_t RealtimeNs();
uint64_t MonotonicNs();

}  // namespace smsh
