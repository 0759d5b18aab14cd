// Loan memory that a transfer moved to another buffer. A view made by the
// binding can be posted to a worker in a transfer list (or moved by
// ArrayBuffer.prototype.transfer where the runtime has it): our buffer is
// detached, and the buffer that took the memory over still reads and writes
// the slot. Detaching ours then says so (a nonzero token,
// csrc/binding/addon_segment.h), and the slot must not go back (to the writer's pool,
// or to the writer from the reader) until that buffer is gone too: otherwise
// the next loan's bytes would change under whoever holds it. whenUnused()
// runs `then` once nothing holds the memory, checking every POLL_MS; rare,
// so one unref'd timer for the process is enough.
import { invalidArgType } from "../core/errors.js";
import { native, type SegmentHandle } from "../core/native.js";

/** How often memory still held elsewhere is checked, in ms: the delay before its slot is given back. */
export const POLL_MS = 10;

interface Away {
  readonly handle: SegmentHandle;
  readonly token: number;
  readonly then: () => void;
}

const away = new Set<Away>();
let timer: NodeJS.Timeout | null = null;

function check(): void {
  for (const a of away) {
    if (a.handle.viewInUse(a.token)) continue;
    away.delete(a);
    a.then();
  }
  if (away.size === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
  }
}

/** Runs `then` once the memory behind `token` (from detachView) is no longer held by any buffer; at once for token 0. */
export function whenUnused(handle: SegmentHandle, token: number, then: () => void): void {
  if (token === 0 || !handle.viewInUse(token)) {
    then();
    return;
  }
  away.add({ handle, token, then });
  if (timer === null) {
    timer = setInterval(check, POLL_MS);
    timer.unref();
  }
}

/** Slots waiting for memory held elsewhere (tests and stats). */
export function awayCount(): number {
  return away.size;
}

/**
 * How a loan's view posted to another thread in a transfer list arrives
 * there. "move": the same shared memory, no copy (our view is detached; the
 * reader's release() holds the slot back until the other thread lets go:
 * call detachLoan() there when done). "copy": Node copies the buffer, as it
 * does every external buffer; the copy is the other thread's own and the
 * loan is released as usual (Windows, and runtimes where views are made
 * through Node-API: csrc/binding/uncounted_buffer.h).
 */
export function loanTransfer(): "move" | "copy" {
  return native().viewKind === "uncounted" ? "move" : "copy";
}

/**
 * Detaches a loan's view in this thread: one a transfer moved here (a worker
 * that took a received loan, or a loan before it was sent). It reads as
 * length 0 from now, and its slot goes back (to the writer's pool, or from
 * the reader to the writer) within POLL_MS, rather than once this thread's
 * garbage collector collects it, which an idle thread may never do. For a
 * view in the thread that made it, release()/cancelLoan() are the calls.
 * TypeError for a buffer that is not over this package's shared memory;
 * an already detached one is ignored.
 */
export function detachLoan(view: ArrayBuffer | ArrayBufferView): void {
  const ab = ArrayBuffer.isView(view) ? view.buffer : view;
  if (!(ab instanceof ArrayBuffer)) throw invalidArgType("view", "an ArrayBuffer or a view of one", view);
  native().detachShared(ab);
}
