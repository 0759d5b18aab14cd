// How the core reports failure without knowing about Node: a Status carries
// either an errno from a failed syscall (code = the errno's name) or one of
// the package's own codes. The binding turns it into an Error with `code`,
// `errno` and `syscall`, the way Node's own fs errors look.
#pragma once

#include <string>

namespace smsh {

struct Status {
  int err = 0;                 // errno, 0 for the package's own codes
  const char* code = nullptr;  // "ENOENT", "ECORRUPT", ...; nullptr = ok
  const char* syscall = "";    // the call that failed, "" if none
  std::string message;         // human context: the name, sizes involved

  bool ok() const { return code == nullptr; }
  static Status Ok() { return Status(); }
  // A failed syscall; `what` says what we were doing ("shm_open /smsh-x").
  static Status FromErrno(int err, const char* syscall, std::string what);
  // A failure of our own with its own code, e.g. ECORRUPT.
  static Status Own(const char* code, std::string message);
};

// The symbolic name of an errno value ("ENOENT"), or "EUNKNOWN".
const char* ErrnoName(int err);

}  // namespace smsh
