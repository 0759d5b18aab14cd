// Errors shaped like Node's own: a string `code` on every error. System
// failures come from the binding with `errno` and `syscall`; argument
// errors are TypeError/RangeError raised here before any syscall.

/** Codes of the package's own failures (system failures use the errno name). */
export type ShmErrorCode =
  | "ECORRUPT" // a segment's bytes are not a valid layout (foreign, truncated, scribbled)
  | "EVERSION" // a segment of another layout version
  | "ECLOSED" // the segment, waiter or channel was closed
  | "ETIMEDOUT" // a wait ran out of time
  | "EPEERDEAD" // the process on the other side died
  | "EBUSY" // the other end is already taken (a channel has one reader); a loan's memory is held by a buffer a transfer moved it to
  | "ENOTSUP" // not possible here: no native binary for this platform, or a runtime without external ArrayBuffers
  | "EMAXKEPT" // a reader already keeps its maxKept messages
  | "ESLOW" // a broadcast subscriber held a "block" writer longer than its blockTimeout and was evicted (docs/PROTOCOL.md §6), or a publish() subscriber that took nothing for its publisher's blockTimeout (§8)
  | "ENOENT" // gone: a loan whose memory the writer removed before the reader mapped it
  | "ENOSPC" // no room: /dev/shm is full, or a loan pool ran out of slab names
  | "ECONNREFUSED" // a listener refused the connection (its REFUSE message says why)
  | "ECONNRESET" // the connection dropped during the handshake
  | "EEXIST" // listen(): the ipc:// path is a file that is not a socket (never replaced)
  | "EADDRINUSE" // listen(): another listener is live on the ipc:// path
  | "ENAMETAKEN" // join(): a live agent of another process holds this name on the hub
  | "ENOAGENT" // an agent sent to (or asked) a name that is not in the hub's roster
  | "EREMOTE" // a request failed on the serving side (req.fail(), or its handler threw): the message is the other side's
  | "EPROTO"; // the other side of a conversation broke its protocol (publish/subscribe: an undecodable or out-of-order message)

/** An error of this package: `code` is an errno name or a ShmErrorCode. */
export interface ShmError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

/** Creates an Error with a string `code` (the package's own failures). */
export function shmError(code: ShmErrorCode, message: string): ShmError {
  const e = new Error(`${code}: ${message}`) as ShmError;
  e.code = code;
  return e;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return `type string (${JSON.stringify(value.slice(0, 40))})`;
  if (typeof value === "number") return `type number (${value})`;
  return `type ${typeof value}`;
}

/** TypeError with Node's ERR_INVALID_ARG_TYPE code. */
export function invalidArgType(name: string, expected: string, actual: unknown): TypeError {
  const e = new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`);
  (e as TypeError & { code: string }).code = "ERR_INVALID_ARG_TYPE";
  return e;
}

/** TypeError with Node's ERR_INVALID_ARG_VALUE code: right type, unusable value. */
export function invalidArgValue(name: string, reason: string, actual: unknown): TypeError {
  const e = new TypeError(`The "${name}" argument ${reason}. Received ${describe(actual)}`);
  (e as TypeError & { code: string }).code = "ERR_INVALID_ARG_VALUE";
  return e;
}

/** RangeError with Node's ERR_OUT_OF_RANGE code. */
export function outOfRange(name: string, range: string, actual: unknown): RangeError {
  const e = new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${describe(actual)}`);
  (e as RangeError & { code: string }).code = "ERR_OUT_OF_RANGE";
  return e;
}

/** Validates an integer argument in [min, max]; `why` explains the bounds in the message. */
export function checkInteger(name: string, value: unknown, min: number, max: number, why?: string): number {
  if (typeof value !== "number") throw invalidArgType(name, "of type number", value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `an integer >= ${min} and <= ${max}${why ? ` (${why})` : ""}`, value);
  }
  return value;
}

/**
 * The error an aborted operation rejects with, shaped like Node's own
 * (fs, events.once, timers/promises): name "AbortError", code "ABORT_ERR",
 * the signal's reason as `cause`.
 */
export function abortError(signal?: AbortSignal): Error & { code: "ABORT_ERR" } {
  const e = new Error("The operation was aborted", signal ? { cause: signal.reason } : undefined) as Error & { code: "ABORT_ERR" };
  e.name = "AbortError";
  e.code = "ABORT_ERR";
  return e;
}

/** Error with Node's ERR_INVALID_STATE code: the call does not fit the object's state. */
export function invalidState(message: string): Error & { code: string } {
  const e = new Error(`Invalid state: ${message}`) as Error & { code: string };
  e.code = "ERR_INVALID_STATE";
  return e;
}

/** A timeout in milliseconds: a non-negative number, Infinity for none. */
export function checkTimeout(name: string, value: unknown): number {
  if (typeof value !== "number") throw invalidArgType(name, "of type number", value);
  if (Number.isNaN(value) || value < 0) throw outOfRange(name, "a non-negative number of milliseconds or Infinity", value);
  return value;
}

/** Options of every call that can wait. */
export interface WaitOptions {
  /** Aborting rejects the wait with an AbortError (code ABORT_ERR); nothing is taken or sent. */
  signal?: AbortSignal;
  /** Milliseconds before the wait rejects with ETIMEDOUT (default Infinity). */
  timeout?: number;
}

/** Validates WaitOptions; returns the signal and the absolute deadline (performance.now() ms). */
export function checkWaitOptions(o: WaitOptions | undefined): { signal: AbortSignal | undefined; deadline: number; timeout: number } {
  if (o === undefined) return { signal: undefined, deadline: Infinity, timeout: Infinity };
  if (o === null || typeof o !== "object") throw invalidArgType("options", "an object", o);
  const { signal, timeout = Infinity } = o;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType("options.signal", "an AbortSignal", signal);
  checkTimeout("options.timeout", timeout);
  return { signal, deadline: performance.now() + timeout, timeout };
}

/** A signal that aborts when either does (AbortSignal.any, which Node 20.0-20.2 lack). */
export function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === "function") return AbortSignal.any([a, b]);
  const c = new AbortController();
  const onA = (): void => c.abort(a.reason);
  const onB = (): void => c.abort(b.reason);
  if (a.aborted) onA();
  else if (b.aborted) onB();
  else {
    a.addEventListener("abort", onA, { once: true });
    b.addEventListener("abort", onB, { once: true });
  }
  return c.signal;
}
