// Liveness marks the kernel removes when their holder dies: open-file-
// description (OFD) write locks on single bytes of a segment's object (see
// kFlagLocks in layout.h). Unlike classic POSIX locks they belong to the
// open file description, so closing some other descriptor of the same file
// in the same process does not drop them, and a probe from another
// descriptor of the same process sees them.
#pragma once

#include <sys/types.h>

#include "status.h"

namespace smsh {

// Takes a write lock on `byte` without waiting. *acquired = false if another
// open file description holds it.
Status LockByte(int fd, off_t byte, bool* acquired);

// Releases our lock on `byte` (nothing if we hold none).
void UnlockByte(int fd, off_t byte);

// Releases every lock of fd's open file description. Closing the last
// descriptor is not enough while a mapping of the file lives: the mapping
// holds the open file description, and with it the locks.
void UnlockAll(int fd);

// *held = true if an open file description other than fd's holds a lock
// on `byte`.
Status ProbeByte(int fd, off_t byte, bool* held);

}  // namespace smsh
