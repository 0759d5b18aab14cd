// Owner cleanup: the names of the segments this process owns are removed on
// close(), and otherwise when the process ends:
//   - normally, by process.exit() or by an uncaught exception: all emit
//     'exit', where we unlink this thread's owned segments (unlinkOwned);
//   - by SIGINT, SIGTERM or SIGHUP: a native signal handler (csrc/
//     signal_cleanup.h) unlinks every name the process owns (all threads)
//     and re-raises, so the process dies of the signal as promptly as it
//     would have without us, even in a busy loop or a blocking wait. It is
//     installed only over the default action (or Node's own exit handler):
//     a JavaScript listener for the signal (the user's, signal-exit's)
//     replaces it and decides, and if that ends the process, 'exit' cleans
//     up. When the last listener goes, libuv leaves the default action
//     behind and the 'removeListener' hook below re-installs ours;
//   - worker threads: the addon's environment cleanup hook.
// No per-segment bookkeeping here: the registry of owned names is native.
// Crashes (SIGKILL, SIGSEGV) leave segments behind: sweep() removes them.
import { isMainThread } from "node:worker_threads";

import { native } from "./native.js";

const SIGNALS: ReadonlySet<string | symbol> = new Set(["SIGINT", "SIGTERM", "SIGHUP"]);
let installed = false;

function onExit(): void {
  native().unlinkOwned();
}

function onRemoveListener(event: string | symbol): void {
  // Node's own 'removeListener' hook, registered at bootstrap, runs before
  // this one: when it stopped the last listener's libuv watcher, the
  // disposition is back to SIG_DFL and the native handler can go back in.
  if (SIGNALS.has(event)) native().armSignalCleanup();
}

/** Called when this thread creates a segment it owns: hooks 'exit' (and, on the main thread, re-arming). */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on("exit", onExit);
  // Signal listeners exist only on the main thread's process object.
  if (isMainThread) process.on("removeListener", onRemoveListener);
}
