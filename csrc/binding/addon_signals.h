// The binding's side of signal cleanup (csrc/core/signal_cleanup.h): which
// handler found in place is Node's own (and may be chained to), and the
// functions lib/core/cleanup.ts calls.
#pragma once

#include <napi.h>

namespace smsh {

// Installs the cleanup handler for SIGINT, SIGTERM and SIGHUP wherever the
// disposition is the default action or Node's own exit handler.
void ArmCleanupSignals();

// armSignalCleanup(): ArmCleanupSignals(); returns the names of the signals
// whose disposition is now the cleanup handler.
Napi::Value ArmSignalCleanupJs(const Napi::CallbackInfo& info);

// unlinkOwned(): unlinks the names this environment's segments would unlink
// on close (its owners'), for the 'exit' event.
Napi::Value UnlinkOwnedJs(const Napi::CallbackInfo& info);

// ownPath(path, directory): registers the file (or, with directory, the
// directory) at the absolute `path` as it is now (its identity from lstat)
// for removal when SIGINT, SIGTERM or SIGHUP ends the process; returns a
// handle for disownPath, or null (no such file, too long a path, Windows).
Napi::Value OwnPathJs(const Napi::CallbackInfo& info);
// disownPath(handle): forgets it (null: nothing).
Napi::Value DisownPathJs(const Napi::CallbackInfo& info);

}  // namespace smsh
