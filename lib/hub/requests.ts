// Request/reply between agents through the hub (docs/PROTOCOL.md §9.5): a
// u32 correlation id per requester, never reused while pending; a reply to
// an id not pending (timed out, aborted, from another agent) is dropped; a
// pending request rejects EPEERDEAD when the agent asked leaves or dies.
import { asBytes } from "../channel/end.js";
import { abortError, invalidState, shmError, type WaitOptions } from "../core/errors.js";
import { setLongTimeout, type LongTimer } from "../core/timers.js";
import { Op, type OpCode } from "./messages.js";

/** A request from another agent: answer it once, with reply() or fail(). */
export interface AgentRequest {
  from: string;
  /** The request's bytes (a buffer of its own). */
  data: Uint8Array;
  /** Sends the reply (bytes, a loan is copied); a second answer throws. */
  reply(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, options?: WaitOptions): Promise<void>;
  /** Fails the request: the requester's promise rejects with code EREMOTE and this message. */
  fail(message: string, options?: WaitOptions): Promise<void>;
}

type Send = (op: OpCode, bytes: Uint8Array, options?: WaitOptions) => Promise<void>;

interface Open {
  to: string;
  via: unknown;
  resolve(b: Uint8Array): void;
  reject(e: unknown): void;
}

export class Pending {
  readonly #open = new Map<number, Open>();
  #next = 1;

  /** A new request to `to` (over `via`): its id and the promise of its reply, bounded by signal/deadline. */
  open(to: string, via: unknown, signal: AbortSignal | undefined, deadline: number, timeout: number): { id: number; reply: Promise<Uint8Array> } {
    let id = this.#next;
    while (this.#open.has(id)) id = (id % 0xffffffff) + 1; // never one still pending
    this.#next = (id % 0xffffffff) + 1;
    const reply = new Promise<Uint8Array>((resolve, reject) => {
      let timer: LongTimer | undefined;
      const onAbort = (): void => this.fail(id, abortError(signal!));
      const done = (): void => {
        timer?.clear();
        signal?.removeEventListener("abort", onAbort);
      };
      this.#open.set(id, {
        to,
        via,
        resolve: (b) => (done(), resolve(b)),
        reject: (e) => (done(), reject(e)),
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      if (Number.isFinite(deadline)) timer = setLongTimeout(() => this.fail(id, shmError("ETIMEDOUT", `no reply from ${to} within ${timeout} ms`)), Math.max(0, deadline - performance.now()));
    });
    return { id, reply };
  }

  /** A REPLY or ERROR for `id` from `from`: settles it if it is pending and was sent to `from` over `via`; else dropped. */
  settle(id: number, from: string, via: unknown, op: OpCode, data: Uint8Array): void {
    const o = this.#open.get(id);
    if (o === undefined || o.to !== from || o.via !== via) return;
    this.#open.delete(id);
    if (op === Op.Reply) o.resolve(data);
    else {
      const e = new Error(`EREMOTE: ${from} failed the request: ${Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 1000)).toString("utf8")}`) as Error & { code: string };
      e.code = "EREMOTE";
      o.reject(e);
    }
  }

  fail(id: number, e: unknown): void {
    const o = this.#open.get(id);
    if (o === undefined) return;
    this.#open.delete(id);
    o.reject(e);
  }

  /** Every request pending to `to` over `via` rejects with `e` (it left or died). */
  failTo(to: string, via: unknown, e: unknown): void {
    for (const [id, o] of this.#open) if (o.to === to && o.via === via) this.fail(id, e);
  }

  failAll(e: unknown): void {
    for (const id of [...this.#open.keys()]) this.fail(id, e);
  }

  /** An incoming request and its one answer through `send`. */
  incoming(from: string, _id: number, data: Uint8Array, send: Send): AgentRequest {
    let answered = false;
    const once = (): void => {
      if (answered) throw invalidState("this request was answered already");
      answered = true;
    };
    return {
      from,
      data,
      reply: (bytes, options) => {
        once();
        return send(Op.Reply, asBytes(bytes), options);
      },
      fail: (message, options) => {
        once();
        return send(Op.Error, Buffer.from(String(message).slice(0, 1000), "utf8"), options);
      },
    };
  }
}
