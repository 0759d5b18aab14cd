// Normal cleanup of the segments this process owns: unlinked on close(), and
// otherwise when the process exits (normally, by process.exit, or by an
// uncaught exception: all emit 'exit') or is ended by SIGINT, SIGTERM or
// SIGHUP. The signal handling changes nothing the user would notice:
//   - if the user listens for the signal too, their handlers decide; we do
//     nothing (if they end the process, 'exit' cleans up);
//   - otherwise we unlink, restore the default action and re-raise the
//     signal, so the process dies of it exactly as it would have.
// Worker threads are covered by the addon's environment cleanup hook.
// Crashes (SIGKILL, SIGSEGV) leave segments behind: sweep() removes them.
import { isMainThread } from "node:worker_threads";

import type { SegmentHandle } from "./native.js";

// Weak references: an owned segment that user code dropped without close()
// is still collected (its finalizer unlinks it), not kept alive by us.
const owned = new Set<WeakRef<SegmentHandle>>();
const refs = new WeakMap<SegmentHandle, WeakRef<SegmentHandle>>();
const pruner = new FinalizationRegistry<WeakRef<SegmentHandle>>((ref) => owned.delete(ref));
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let installed = false;

function unlinkAll(): void {
  for (const ref of owned) {
    try {
      ref.deref()?.unlink();
    } catch {
      /* already gone, or not ours any more: nothing to do at exit */
    }
  }
  owned.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // the user's handlers decide
  unlinkAll();
  process.removeListener(signal, onSignal); // back to the default action
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", unlinkAll);
  // Signals reach only the main thread's process object.
  if (isMainThread) for (const s of SIGNALS) process.on(s, onSignal);
}

/** The segment behind `handle` is ours to unlink when the process ends. */
export function adopt(handle: SegmentHandle): void {
  if (refs.has(handle)) return;
  const ref = new WeakRef(handle);
  refs.set(handle, ref);
  owned.add(ref);
  pruner.register(handle, ref, ref);
  install();
}

/** No longer ours to unlink (closed, or handed over). */
export function disown(handle: SegmentHandle): void {
  const ref = refs.get(handle);
  if (!ref) return;
  refs.delete(handle);
  owned.delete(ref);
  pruner.unregister(ref);
}
