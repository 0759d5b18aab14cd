// The async iterator of a receiving end (a channel reader, a Peer): messages
// until the end of the stream (ECLOSED ends it), copies by default.
import { anySignal, checkWaitOptions, invalidArgType, type WaitOptions } from "../core/errors.js";

export interface MessagesOptions extends WaitOptions {
  /**
   * true (default): each message is a copy (a Buffer) that stays valid for
   * as long as it is referenced: safe for Readable.from, pipeline, arrays.
   * false: zero-copy views into the ring, each valid only until the
   * iterator's next step; for loops that finish with a message before
   * asking for the next.
   */
  copy?: boolean;
}

/**
 * A message object of a broadcast ring or a subscriber, as the copying
 * iterator hands it out: a loan's bytes copied and the loan released at
 * once (its memory back to the writer), anything else as it is.
 */
export function copyLoanMessage<T extends { data: Uint8Array; loan: boolean; release(): void }>(m: T): T {
  if (!m.loan) return m;
  const data = Buffer.from(m.data);
  m.release();
  return { ...m, data, loan: false, release: () => {} };
}

/** `options.copy`, checked: true unless false. */
export function copyOption(options: MessagesOptions | undefined): boolean {
  const copy = options?.copy ?? true;
  if (typeof copy !== "boolean") throw invalidArgType("options.copy", "of type boolean", copy);
  return copy;
}

/**
 * An iterator over `recv`: each message through `copyOf` unless
 * `copy: false`; then, if given, `stepEnd` ends each message's life at the
 * next step and at the end (a broadcast loan's release(); a channel's
 * receive releases by itself). return() (a consumer that stops: break, Readable.from's
 * destroy, pipeline's abort) must end a pending receive at once, and that
 * receive must take no message: an async generator cannot do that, as its
 * return() waits for the pending step. So: a hand-written iterator whose
 * receives also listen to a signal of its own.
 */
export function receiveIterator<T = Uint8Array>(
  recv: (options: WaitOptions) => Promise<T>,
  copyOf: (m: T) => T,
  options: MessagesOptions | undefined,
  stepEnd?: (m: T) => void,
): AsyncIterableIterator<T> {
  const { timeout } = checkWaitOptions(options);
  const copy = copyOption(options);
  const stop = new AbortController();
  const signal = options?.signal === undefined ? stop.signal : anySignal(options.signal, stop.signal);
  const recvOptions: WaitOptions = Number.isFinite(timeout) ? { signal, timeout } : { signal };
  let done = false;
  let last: T | undefined;
  const endStep = (): void => {
    if (last === undefined) return;
    const m = last;
    last = undefined;
    stepEnd!(m);
  };
  const finished = (): IteratorResult<T> => {
    endStep();
    return { done: true, value: undefined };
  };
  // One step at a time: a next() called while another is pending waits for its turn (as an async
  // generator's would), so that two steps never hold a message each and `last` is never overwritten
  // unreleased. A next() with nothing pending runs at once (no promise between: this is the hot path),
  // and no promise of the queue holds a message (one nobody references goes back when collected).
  let busy = false;
  const queued: (() => void)[] = [];
  const turn = (): Promise<void> => new Promise((resolve) => queued.push(resolve));
  const handOff = (): void => {
    const next = queued.shift();
    if (next !== undefined) next(); // `busy` stays: the turn is theirs
    else busy = false;
  };
  const step = async (): Promise<IteratorResult<T>> => {
    busy = true;
    try {
      if (done) return finished();
      endStep();
      let m: T;
      try {
        m = await recv(recvOptions);
      } catch (e) {
        done = true;
        if (stop.signal.aborted || (e as { code?: string }).code === "ECLOSED") return finished();
        throw e;
      }
      if (done && !copy && stepEnd !== undefined) {
        // return() came as this receive completed: nobody will end this message's step: give it back now.
        stepEnd(m);
        return finished();
      }
      if (copy) return { done: false, value: copyOf(m) };
      if (stepEnd !== undefined) last = m;
      return { done: false, value: m };
    } finally {
      handOff();
    }
  };
  const iterator: AsyncIterableIterator<T> = {
    next: (): Promise<IteratorResult<T>> => (busy ? turn().then(step) : step()),
    return: async (): Promise<IteratorResult<T>> => {
      done = true;
      stop.abort(); // a pending step's receive ends now, taking no message
      if (busy) {
        await turn(); // after the steps before it
        handOff();
      }
      return finished();
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
