// What a Peer's requests() hands out (docs/PROTOCOL.md §7): one request
// from the other side, answered once, by reply() or fail().
import { invalidState, type WaitOptions } from "../core/errors.js";
import type { Bytes } from "../channel/writer.js";

/** How a request is answered: the Peer sends an envelope of `kind` (2 reply, 3 error) back over the connection it came on. */
export type Answer = (kind: number, id: number, bytes: Bytes, options: WaitOptions | undefined) => Promise<void>;

export class PeerRequest {
  /** The request's id on its connection (what correlates the reply). */
  readonly id: number;
  /**
   * The request's bytes. A copy when it came as a ring frame or over
   * ZeroMQ (valid for as long as it is referenced); a loan (shm): the
   * sender's memory itself, no copy, valid until this request is answered
   * (reply(), fail()), then it reads as empty.
   */
  readonly data: Uint8Array;
  #answer: Answer | null;
  #release: (() => void) | null;

  /** @internal made by the Peer */
  constructor(id: number, data: Uint8Array, answer: Answer, release: (() => void) | null) {
    this.id = id;
    this.data = data;
    this.#answer = answer;
    this.#release = release;
  }

  /** Whether reply() or fail() was called. */
  get answered(): boolean {
    return this.#answer === null;
  }

  #take(call: string): Answer {
    const a = this.#answer;
    if (a === null) throw invalidState(`${call}(): request ${this.id} was answered already`);
    this.#answer = null;
    return a;
  }

  /** @internal the request's loan (if it is one) goes back to its sender */
  drop(): void {
    const r = this.#release;
    this.#release = null;
    r?.();
  }

  /**
   * Answers with `bytes` (a loan of this peer's goes without a copy on
   * "shm"), which resolve the other side's request(). Resolves once sent;
   * rejects as send() does (ECLOSED, EPEERDEAD: the connection the request
   * came on is over, ETIMEDOUT, AbortError, RangeError above the largest
   * message). ERR_INVALID_STATE if the request was answered already. The
   * request's data (a loan) is released once the reply is written.
   */
  reply(bytes: Bytes, options?: WaitOptions): Promise<void> {
    return this.#send("reply", 2, bytes, options);
  }

  /**
   * Answers with a failure: the other side's request() rejects with an
   * error of code EREMOTE whose message includes `message` (UTF-8, cut to
   * 1024 bytes). Otherwise as reply().
   */
  fail(message: string, options?: WaitOptions): Promise<void> {
    return this.#send("fail", 3, utf8Prefix(String(message), 1024), options);
  }

  /** An argument the Peer refuses at once (a TypeError, a RangeError: nothing was sent) leaves the request unanswered; any other failure answers it. */
  #send(call: string, kind: number, bytes: Bytes, options: WaitOptions | undefined): Promise<void> {
    let sent: Promise<void>;
    try {
      const answer = this.#take(call);
      try {
        sent = answer(kind, this.id, bytes, options);
      } catch (e) {
        if (e instanceof TypeError || e instanceof RangeError) this.#answer = answer; // nothing was sent: answer it otherwise
        else this.drop();
        throw e;
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return sent.finally(() => this.drop());
  }
}

/** `text` as UTF-8, cut to at most `max` bytes at a character's boundary (never half a character: docs/PROTOCOL.md §7.1 says UTF-8). */
function utf8Prefix(text: string, max: number): Buffer {
  const b = Buffer.from(text, "utf8");
  if (b.length <= max) return b;
  let n = max;
  while (n > 0 && (b[n]! & 0xc0) === 0x80) n--; // b[n] continues a character that starts before it
  return b.subarray(0, n);
}
