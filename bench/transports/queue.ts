// Messages waiting to be taken, for the transports whose messages arrive as
// events (child_process IPC, MessagePort): next() returns a queued message at
// once, or a promise of the next one; a failure (the channel closed) rejects
// the waiting next() and every later one that finds the queue empty.

export class Queue<T> {
  #items: T[] = [];
  #head = 0;
  #waiter: ((m: T) => void) | null = null;
  #reject: ((e: Error) => void) | null = null;
  #failed: Error | null = null;

  push(m: T): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = this.#reject = null;
      w(m);
    } else this.#items.push(m);
  }

  fail(e: Error): void {
    this.#failed ??= e;
    const r = this.#reject;
    this.#waiter = this.#reject = null;
    r?.(e);
  }

  next(): T | Promise<T> {
    if (this.#head < this.#items.length) {
      const m = this.#items[this.#head++]!;
      if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
        this.#items = this.#items.slice(this.#head); // drop the taken part now and then
        this.#head = 0;
      }
      return m;
    }
    if (this.#failed) throw this.#failed;
    return new Promise<T>((resolve, reject) => {
      this.#waiter = resolve;
      this.#reject = reject;
    });
  }
}

/** A control message between a host and its linked peer. */
export interface Control {
  ctl: "start" | "ready" | "result" | "error" | "close";
  [k: string]: unknown;
}

/** The next control message, which must be `ctl` (an "error" from the other side rejects with its text). */
export async function expectControl(q: Queue<Control>, ctl: Control["ctl"]): Promise<Control> {
  const m = await q.next();
  if (m.ctl === "error") throw new Error(String(m.message));
  if (m.ctl !== ctl) throw new Error(`expected ${ctl}, got ${m.ctl}`);
  return m;
}

/**
 * Bulk over a message transport: one buffer is one message (sent through the
 * endpoint's own send, so its flow control applies), checked for its size.
 */
export function bulkOverMessages(
  send: (data: Uint8Array) => Promise<void> | void,
  inbox: Queue<Uint8Array>,
): Pick<import("./types.js").Endpoint, "sendBulk" | "recvBulk"> {
  return {
    async sendBulk(data) {
      await send(data);
    },
    async recvBulk(size, onChunk) {
      let m = inbox.next();
      if (m instanceof Promise) m = await m;
      if (m.length !== size) throw new Error(`bulk: got ${m.length} bytes, expected ${size}`);
      onChunk(m);
    },
  };
}
