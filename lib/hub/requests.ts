// Request/reply between agents (docs/PROTOCOL.md §9.5). Over a direct pair
// it is the Peer's own (§7: peer.request(), peer.requests()); through the
// hub, ROUTE frames of op REQUEST/REPLY/ERROR carry the requester's u32
// correlation id, kept in the Peer's PendingRequests (never reused while
// pending; a reply to an id not pending, or from another agent than the
// one asked, is dropped and counted).
import { asBytes } from "../channel/end.js";
import { invalidState, shmError, type WaitOptions } from "../core/errors.js";
import { PendingRequests } from "../peer/pending.js";
import type { PeerRequest } from "../peer/request.js";
import { Op, type OpCode } from "./messages.js";

/** A request from another agent: answer it once, with reply() or fail(). */
export interface AgentRequest {
  from: string;
  /** The request's bytes: a copy, or (a direct "shm" pair) the sender's loan itself, valid until answered. */
  data: Uint8Array;
  /** Sends the reply (through the hub a loan is copied); a second answer throws ERR_INVALID_STATE. */
  reply(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, options?: WaitOptions): Promise<void>;
  /** Fails the request: the requester's promise rejects with code EREMOTE and this message. */
  fail(message: string, options?: WaitOptions): Promise<void>;
}

type Send = (op: OpCode, bytes: Uint8Array, options?: WaitOptions) => Promise<void>;

/** The requests this agent sent through the hub and waits to be answered. */
export class HubRequests {
  readonly #pending = new PendingRequests();
  /** Who each pending id was sent to: only that agent's answer settles it. */
  readonly #to = new Map<number, string>();

  get dropped(): number {
    return this.#pending.dropped;
  }

  open(to: string, timeout: number, signal: AbortSignal | undefined): { id: number; reply: Promise<Uint8Array> } {
    const r = this.#pending.open(timeout, signal);
    this.#to.set(r.id, to);
    r.reply.then(
      () => this.#to.delete(r.id),
      () => this.#to.delete(r.id),
    );
    return r;
  }

  /** A REPLY or ERROR for `id` from `from`: settles it if it is pending and was sent to `from`; else dropped. */
  settle(id: number, from: string, op: OpCode, data: Uint8Array): void {
    if (this.#to.get(id) !== from) {
      this.#pending.dropped++;
      return;
    }
    if (op === Op.Reply) this.#pending.resolve(id, data);
    else this.#pending.fail(id, shmError("EREMOTE", `${from} failed the request: ${Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 1024)).toString("utf8")}`));
  }

  fail(id: number, e: unknown): void {
    this.#pending.fail(id, e);
  }

  /** Every request pending to `to` rejects with `e` (it left or died). */
  failTo(to: string, e: unknown): void {
    for (const [id, t] of [...this.#to]) if (t === to) this.#pending.fail(id, e);
  }

  failAll(e: unknown): void {
    this.#pending.failAll(e);
  }
}

/** A request that came through the hub, answered through `send`. */
export function routedRequest(from: string, data: Uint8Array, send: Send): AgentRequest {
  let answered = false;
  const once = (): void => {
    if (answered) throw invalidState("this request was answered already");
    answered = true;
  };
  return {
    from,
    data,
    reply: async (bytes, options) => {
      const b = asBytes(bytes);
      once();
      return send(Op.Reply, b, options);
    },
    fail: async (message, options) => {
      once();
      return send(Op.Error, Buffer.from(String(message), "utf8").subarray(0, 1024), options);
    },
  };
}

/** A request of a direct pair (the Peer's), with the name of the agent it came from; `counted` sees each reply's size. */
export function directRequest(from: string, req: PeerRequest, counted: (bytes: number) => void): AgentRequest {
  return {
    from,
    data: req.data,
    reply: async (bytes, options) => {
      const size = asBytes(bytes).byteLength;
      await req.reply(bytes, options);
      counted(size);
    },
    fail: (message, options) => req.fail(message, options),
  };
}
