// Facts about processes that the header records: who created a segment and
// when that process started (a pid alone is ambiguous after pid reuse).
#pragma once

#include <cstddef>
#include <cstdint>

#include "status.h"

namespace smsh {

// Start time of `pid` in clock ticks since boot (field 22 of
// /proc/<pid>/stat), or ESRCH/ENOENT if there is no such process.
Status ProcessStartTime(uint32_t pid, uint64_t* out);

// The current process's pid and start time, read once and cached.
uint32_t SelfPid();
uint64_t SelfStartTime();

// A pidfd (pidfd_open) for the process `pid` whose start time is
// `start_time`: it becomes readable when that process exits, without any
// polling. *fd = -1 and *alive = false if no such process runs here (it died,
// or `pid` now names another process: start times differ); *fd = -1 and
// *alive = true if it runs but cannot be watched this way (no pidfd support).
// A process in another PID namespace has another pid here: it is reported as
// not found, so callers must not treat "not found" as "dead" by itself.
Status OpenPidfd(uint32_t pid, uint64_t start_time, int* fd, bool* found);

// Cryptographically random bytes (getrandom).
Status RandomBytes(void* out, size_t n);

// CLOCK_REALTIME in nanoseconds; CLOCK_MONOTONIC in nanoseconds.
uint64_t RealtimeNs();
uint64_t MonotonicNs();

}  // namespace smsh
