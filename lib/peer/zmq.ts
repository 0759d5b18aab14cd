// ZeroMQ for the control plane: loaded on first listen()/connect() (an
// optional dependency: users of channels alone never load it), and a send
// queue, since a zeromq.js socket takes one send() at a time and a ROUTER is
// shared by every peer of a server.
import { shmError } from "../core/errors.js";

export type Zmq = typeof import("zeromq");
type Socket = { send(msg: Buffer[]): Promise<void>; closed: boolean };

let zmq: Zmq | null | undefined;

/** The zeromq module, or null if it is not installed (the benchmark skips its rows then). */
export function zeromqOrNull(): Zmq | null {
  if (zmq === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      zmq = require("zeromq") as Zmq;
    } catch {
      zmq = null;
    }
  }
  return zmq;
}

/** The zeromq module; ENOTSUP naming the package to install if it is missing. */
export function loadZmq(): Zmq {
  const z = zeromqOrNull();
  if (z === null) throw shmError("ENOTSUP", 'listen() and connect() need the "zeromq" package (v6): npm install zeromq');
  return z;
}

/** Where a Peer's messages go: in call order, resolved once ZeroMQ took each. */
export interface Outbox {
  send(frames: Buffer[]): Promise<void>;
  /** send() for a caller that does not wait: no promise (a failure shows as the connection's end). */
  post(frames: Buffer[]): void;
  /** Messages accepted and not yet taken by ZeroMQ. */
  readonly pending: number;
}

/** Sends multipart messages on one socket (a DEALER: one destination) in call order, one at a time. */
type Entry = { frames: Buffer[]; resolve: (() => void) | null; reject: ((e: unknown) => void) | null };

export class SendQueue implements Outbox {
  readonly #socket: Socket;
  readonly #queue: Entry[] = [];
  #running = false;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Resolves once zeromq took the message (queued for the peer), rejects if the socket failed or closed. */
  send(frames: Buffer[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ frames, resolve, reject });
      if (!this.#running) void this.#pump();
    });
  }

  post(frames: Buffer[]): void {
    this.#queue.push({ frames, resolve: null, reject: null });
    if (!this.#running) void this.#pump();
  }

  get pending(): number {
    return this.#queue.length;
  }

  async #pump(): Promise<void> {
    this.#running = true;
    while (this.#queue.length > 0) {
      const m = this.#queue[0]!;
      try {
        if (this.#socket.closed) throw shmError("ECONNRESET", "the connection was closed or lost before ZeroMQ took this message: it was not sent");
        await this.#socket.send(m.frames);
        m.resolve?.();
      } catch (e) {
        m.reject?.(this.#socket.closed ? shmError("ECONNRESET", "the connection was closed or lost before ZeroMQ took this message: it was not sent") : e);
      }
      this.#queue.shift();
    }
    this.#running = false;
  }
}

type RouterSocket = { send(msg: Buffer[]): Promise<void>; closed: boolean; sendTimeout: number };

interface Dest {
  readonly id: Buffer;
  readonly queue: Entry[];
  /** performance.now() before which this destination is not tried again (its queue in ZeroMQ is full). */
  until: number;
  backoff: number;
  /** performance.now() of the first EAGAIN since the last message it took. */
  stuckSince?: number;
}

/** A destination that takes nothing for this long is failed (backstop: a Peer's heartbeat usually ends it sooner). */
export const STUCK_MS = 30_000;

/**
 * The ROUTER's sends: a queue per destination, so that a slow (or dead)
 * peer never holds up the others. The socket never blocks (sendTimeout 0):
 * a destination whose ZeroMQ queue is full (EAGAIN) waits and is tried
 * again (1 ms, doubling to 50 ms) while the others go on; one that is gone
 * (EHOSTUNREACH, the socket being mandatory: ECLOSED) or takes nothing for
 * STUCK_MS (ETIMEDOUT) fails what it had queued.
 */
export class RoutedQueue {
  readonly #socket: RouterSocket;
  readonly #dests = new Map<string, Dest>();
  #running = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(socket: RouterSocket) {
    this.#socket = socket;
    socket.sendTimeout = 0;
  }

  /** The outbox of one destination (a connection's routing id). */
  to(id: Buffer): Outbox {
    const key = id.toString("hex");
    const dests = this.#dests;
    return {
      get pending() {
        return dests.get(key)?.queue.length ?? 0;
      },
      send: (frames) => new Promise<void>((resolve, reject) => this.#push(key, id, { frames: [id, ...frames], resolve, reject })),
      post: (frames) => this.#push(key, id, { frames: [id, ...frames], resolve: null, reject: null }),
    };
  }

  #push(key: string, id: Buffer, e: Entry): void {
    let d = this.#dests.get(key);
    if (d === undefined) this.#dests.set(key, (d = { id, queue: [], until: 0, backoff: 1 }));
    d.queue.push(e);
    this.#kick();
  }

  /** Fails and forgets what is queued for `id` (its connection is gone). */
  drop(id: Buffer, why: unknown): void {
    const key = id.toString("hex");
    const d = this.#dests.get(key);
    if (d === undefined) return;
    this.#dests.delete(key);
    for (const m of d.queue) m.reject?.(why);
  }

  #kick(): void {
    if (!this.#running) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#running = true;
    try {
      for (;;) {
        let sent = false;
        let next = Infinity;
        const now = performance.now();
        for (const [key, d] of this.#dests) {
          if (d.queue.length === 0) {
            this.#dests.delete(key);
            continue;
          }
          if (d.until > now) {
            next = Math.min(next, d.until);
            continue;
          }
          const m = d.queue[0]!;
          try {
            if (this.#socket.closed) throw shmError("ECLOSED", "the control socket is closed");
            await this.#socket.send(m.frames);
            d.queue.shift();
            d.backoff = 1;
            d.stuckSince = undefined;
            m.resolve?.();
            sent = true;
          } catch (e) {
            const code = (e as { code?: string }).code;
            const t = performance.now();
            if (code === "EAGAIN" && t - (d.stuckSince ??= t) < STUCK_MS) {
              d.until = t + d.backoff;
              d.backoff = Math.min(50, d.backoff * 2);
              next = Math.min(next, d.until);
            } else {
              // Gone (EHOSTUNREACH), or full for STUCK_MS: its messages fail, the others go on.
              this.#dests.delete(key);
              const why =
                code === "EAGAIN"
                  ? shmError("ETIMEDOUT", `the connection took nothing for ${STUCK_MS} ms`)
                  : code === "EHOSTUNREACH"
                    ? shmError("ECLOSED", "the connection is gone")
                    : e;
              for (const q of d.queue) q.reject?.(why);
            }
          }
        }
        if (sent) continue;
        if (next === Infinity) return;
        // Every destination with messages is waiting: come back when the first may go.
        if (this.#timer === null) {
          this.#timer = setTimeout(() => {
            this.#timer = null;
            this.#kick();
          }, Math.max(1, next - performance.now()));
        }
        return;
      }
    } finally {
      this.#running = false;
    }
  }
}
