// A timer for any delay: setTimeout fires after 1 ms for delays of 2^31 ms
// or more (with a TimeoutOverflowWarning), so longer ones chain timers
// towards one deadline.

/** setTimeout's largest delay. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A cancellable timer. */
export interface LongTimer {
  clear(): void;
}

/** Calls fn after ms (finite, >= 0; any size). */
export function setLongTimeout(fn: () => void, ms: number): LongTimer {
  const deadline = performance.now() + ms;
  let timer: NodeJS.Timeout;
  const step = (): void => {
    const left = deadline - performance.now();
    timer = left > MAX_TIMER_MS ? setTimeout(step, MAX_TIMER_MS) : setTimeout(fn, Math.max(left, 0));
  };
  if (ms <= MAX_TIMER_MS) timer = setTimeout(fn, ms);
  else step();
  return { clear: () => clearTimeout(timer) };
}

/**
 * Until one of `waiting` is called (the owner's "something changed": it
 * calls them all), `signal` aborts or `deadline` (performance.now() time)
 * passes; never rejects: the caller looks again and decides.
 */
export function untilChange(waiting: Set<() => void>, signal: AbortSignal | undefined, deadline: number): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: LongTimer | undefined;
    const done = (): void => {
      waiting.delete(done);
      timer?.clear();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    // Any timeout: setTimeout fires at once for 2^31 ms and more.
    if (Number.isFinite(deadline)) timer = setLongTimeout(done, Math.max(0, deadline - performance.now()));
    signal?.addEventListener("abort", done, { once: true });
    waiting.add(done);
  });
}
