// Removing this process's shared-memory names when SIGINT, SIGTERM or
// SIGHUP ends it, from a native signal handler, so that the process dies of
// the signal as promptly as it would have without us (a JavaScript listener
// only runs when the event loop does, and replaces the default action).
//
// Two parts:
//   - a process-wide registry of the names this process must remove (all
//     threads, all Node environments): each entry holds the object's path
//     and identity (dev, ino), published so that a signal handler can read
//     it without locks (a sequence count per slot; slots live in chunks that
//     are never freed);
//   - a sigaction handler for those signals, installed only over the
//     default action (or over a handler the caller says ends the process:
//     Node's own exit handler, which we then chain to). It unlinks every
//     registered name that still refers to its object (stat + unlink, both
//     async-signal-safe), puts back the disposition it replaced and raises
//     the signal again, so the process dies of it exactly as it would have.
//
// Windows (signal_cleanup_none.cc): nothing to do. A mapping and its name
// die with the last handle, whatever ends the process; the registry keeps
// nothing and there is no signal handler.
#pragma once

#include <cstdint>
#include <string>

#ifndef _WIN32
#include <signal.h>
#endif

namespace smsh {

#ifndef _WIN32
// The signals whose default action ends the process and which we clean up on.
constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};
#endif

// One registered name (opaque).
struct OwnedName;

// Registers the object named "/<name>" (the file /dev/shm/<name> on Linux)
// whose identity is (dev, ino). Returns nullptr if the name cannot be held
// (longer than kMaxNameLength) or memory runs out: the name is then simply
// not removed by a signal. Thread-safe.
OwnedName* RegisterOwnedName(const std::string& name, uint64_t dev, uint64_t ino);

// The longest absolute path RegisterOwnedPath holds (a Unix socket's path,
// 107 bytes, fits).
constexpr size_t kMaxOwnedPath = 127;

// Registers any file this process made and must remove when a signal ends
// it (a doorbell socket, a listener's socket file): its absolute `path` and
// identity (dev, ino); with `directory`, a directory to rmdir once the files
// are gone (it stays if anything else is in it). nullptr if the path is
// longer than kMaxOwnedPath or memory runs out. UnregisterOwnedName forgets
// it. Thread-safe.
OwnedName* RegisterOwnedPath(const std::string& path, uint64_t dev, uint64_t ino, bool directory = false);

// Forgets a registration (nullptr: nothing). Thread-safe; the slot is reused.
void UnregisterOwnedName(OwnedName* entry);

// Unlinks every registered name and path that still refers to its object, without
// locks or allocation: async-signal-safe. Returns how many it removed.
// Registrations stay (a later unlink finds nothing).
int UnlinkOwnedNames();

// How many names are registered now. Async-signal-safe; for tests.
int CountOwnedNames();

#ifndef _WIN32
// Decides whether a handler found in place may be replaced and chained to:
// only a handler that always ends the process by the signal qualifies.
using ChainPredicate = bool (*)(const struct sigaction& current);

// Installs the cleanup handler for `signo` if its disposition is the default
// action, or a handler `may_chain` accepts (then called after the cleanup,
// instead of the default action). Never over SIG_IGN or anyone else's
// handler. Returns whether the cleanup handler is in place afterwards.
// Thread-safe; cheap when already installed (one sigaction query).
bool ArmSignalCleanup(int signo, ChainPredicate may_chain);

// Whether the cleanup handler is the disposition of `signo` now.
bool SignalCleanupArmed(int signo);
#endif

}  // namespace smsh
