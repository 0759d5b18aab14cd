// Plain ZeroMQ subscribers (docs/PROTOCOL.md §8.7). A ZeroMQ SUB cannot speak
// to publish()'s endpoint: that is a ROUTER speaking this package's handshake
// and §8's conversation (per-subscriber windows, MISSED, EVICTED), which a
// SUB socket cannot answer. For them a publisher (or a proxy) can also bind
// an XPUB socket (`zmqPublishOn`) that carries every message as ZeroMQ
// users expect it: two frames, [topic, data]. ZeroMQ's own rules apply
// there: its subscriptions are byte prefixes of the first frame, it drops
// for a subscriber at its high-water mark (no "block", no missed count), and
// each message is copied onto the wire. Its subscriptions join the
// publisher's topic union (a proxy forwards them upstream too).
import { invalidArgValue } from "../core/errors.js";
import { bindEndpoint } from "../peer/ipc-path.js";
import { SendQueue, loadZmq } from "../peer/zmq.js";
import { topicMatches } from "./wire.js";

type XPub = InstanceType<ReturnType<typeof loadZmq>["XPublisher"]>;

const LOOPBACK = /^tcp:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):/;

export class ZmqMirror {
  readonly endpoint: string;
  readonly #sock: XPub;
  readonly #queue: SendQueue;
  /** The prefixes some ZeroMQ subscriber holds (XPUB reports a prefix's first subscription and its last unsubscription, also when a subscriber goes). */
  readonly #prefixes = new Set<string>();
  readonly #unbind: (() => void) | null;
  readonly #onTopics: () => void;

  constructor(sock: XPub, endpoint: string, unbind: (() => void) | null, onTopics: () => void) {
    this.#sock = sock;
    this.endpoint = endpoint;
    this.#unbind = unbind;
    this.#onTopics = onTopics;
    this.#queue = new SendQueue(sock);
    void this.#subscriptions();
  }

  /** The prefixes ZeroMQ subscribers hold now. */
  get topics(): string[] {
    return [...this.#prefixes];
  }

  async #subscriptions(): Promise<void> {
    try {
      for await (const [m] of this.#sock) {
        if (m === undefined || m.length === 0 || m[0]! > 1) continue; // not a (un)subscription
        const prefix = m.subarray(1).toString("utf8");
        if (m[0] === 1) this.#prefixes.add(prefix);
        else this.#prefixes.delete(prefix);
        this.#onTopics();
      }
    } catch {
      // closed
    }
  }

  /** Sends [topic, a copy of data] if some ZeroMQ subscription wants it (ZeroMQ filters per subscriber and drops at its HWM). */
  send(topic: string, topicBytes: Buffer, data: Uint8Array): boolean {
    if (!topicMatches(this.#prefixes, topic) || this.#sock.closed) return false;
    this.#queue.post([topicBytes, Buffer.from(data)]);
    return true;
  }

  close(): void {
    if (this.#sock.closed) return;
    this.#sock.linger = 250;
    this.#sock.close();
    this.#unbind?.();
  }
}

/** Binds an XPUB on `endpoint` (ipc://: owner-only; tcp://: loopback unless allowRemote). */
export async function bindMirror(endpoint: string, allowRemote: boolean, onTopics: () => void): Promise<ZmqMirror> {
  if (typeof endpoint !== "string" || !/^(ipc:\/\/.+|tcp:\/\/.+:(\d+|\*))$/.test(endpoint)) throw invalidArgValue("options.zmqPublishOn", 'must be "ipc://<path>" or "tcp://<host>:<port>"', endpoint);
  if (endpoint.startsWith("tcp://") && !LOOPBACK.test(endpoint) && !allowRemote) {
    throw invalidArgValue("options.zmqPublishOn", "is not a loopback address: pass allowRemote: true", endpoint);
  }
  const zmq = loadZmq();
  const sock = new zmq.XPublisher({ linger: 0 });
  try {
    const { bound, unbind } = await bindEndpoint(sock, endpoint);
    return new ZmqMirror(sock, bound, unbind, onTopics);
  } catch (e) {
    sock.close();
    throw e;
  }
}
