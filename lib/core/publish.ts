// Publication held to the end of the tick. A writer publishes the first
// message of a tick at once (a lone message waits for nothing), and holds
// the write index back for the others until the tick's microtasks run: a
// burst of N messages costs the reader one index load and at most one
// wakeup, as Node's streams cork writes within a tick.
//
// A held publication must never be waited on by its own process: a loop
// that sends, then spins or blocks on this package's channels without
// returning to the event loop (recvSync in a worker, spinning on tryRecv)
// would wait for a reply to a message it never published. So every wait
// through this package flushes what is held first (flushHeld): an empty
// tryRecv or drain, the start of every spin or sleep of a channel end, and
// the wait-line calls below them (WaitLine.waitSync, Waiter.wait). It lives
// in core so that those can; only channel writers hold.

/** What holds a publication: a writer with messages not yet published. */
export interface Holder {
  /** Publishes what it holds (and stops holding). */
  flushHeld(): void;
}

const held = new Set<Holder>();
let scheduled = false; // endOfTick is queued

function endOfTick(): void {
  scheduled = false;
  flushHeld();
}

/** Publishes every held writer's messages (the end of the tick, or a wait). */
export function flushHeld(): void {
  if (held.size === 0) return;
  for (const h of held) h.flushHeld();
  held.clear();
}

/** Whether anything is held now: one load, for the hot paths that flush. */
export function anyHeld(): boolean {
  return held.size !== 0;
}

let exitHooked = false;

/** Holds `h` until the end of the tick (or the next wait of this process, or its exit). */
export function holdUntilTickEnd(h: Holder): void {
  if (!exitHooked) {
    // process.exit() in the tick that sent (or an uncaught exception) runs
    // no microtask, but 'exit' listeners: what was sent is published.
    exitHooked = true;
    process.on("exit", flushHeld);
  }
  held.add(h);
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(endOfTick);
  }
}

/** Stops holding `h` (it published or closed on its own). */
export function release(h: Holder): void {
  held.delete(h);
}
