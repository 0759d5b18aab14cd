// subscribe(): a subscriber of one publisher (docs/PROTOCOL.md §8). It
// connects with connect() (transport "zmq" for the conversation), says which
// topic prefixes it wants (ZeroMQ SUB semantics: "" is everything, several
// are OR'd, none is nothing; subscribe()/unsubscribe() are counted as
// ZeroMQ's are), and iterates { topic, data, missed } in publication order.
// `missed` is how many messages for this subscriber the publisher did not
// send just before this one (policy "drop": its window was full); a
// subscriber evicted by a "block" publisher fails with ESLOW.
//
// On the publisher's host and user (transport "shm") the messages come from
// the publisher's broadcast ring (lib/broadcast), read through this
// subscriber's own cursor; the Peer then carries only subscription changes.
// There `missed` counts the messages of any topic lost to a lap (the ring
// cannot know the topic of what was overwritten unread).
import { abortError, checkInteger, checkWaitOptions, invalidArgType, invalidArgValue, shmError, type WaitOptions } from "../core/errors.js";
import { copyLoanMessage, receiveIterator, type MessagesOptions } from "../channel/iterate.js";
import { connect, type ConnectOptions } from "../peer/connect.js";
import { Broadcast, type BroadcastMessage, type BroadcastReader } from "../broadcast/broadcast.js";
import type { Peer } from "../peer/peer.js";
import { Kind, MAX_TOPICS, decodeFromPublisher, encodeAttached, encodeConsumed, encodeFallback, encodeSubscribe, encodeTopics, topicBytes, topicMatches, type Policy, type Welcome } from "./wire.js";

export interface SubscribeOptions extends Omit<ConnectOptions, "name" | "transport" | "reconnect" | "capacity" | "pool"> {
  /** This subscriber's name, as the publisher sees it (default "subscriber"). */
  name?: string;
  /** Topic prefixes (default [""]: everything; []: nothing until subscribe()). */
  topics?: string[];
  /** "auto" (default): shared memory when the publisher offers it and this side can map it; "zmq": ZeroMQ always. */
  transport?: "auto" | "zmq";
}

export interface Published {
  topic: string;
  /** The payload: a copy of its own, or (`loan`) a view of the publisher's shared memory, valid until release(). */
  data: Uint8Array;
  /** Messages for this subscriber that the publisher did not send just before this one (policy "drop"); 0 mostly. */
  missed: number;
  /** Whether `data` is a loan's view (transport "shm"): the publisher cannot reuse that memory before release(). */
  loan: boolean;
  /** Releases a loan's view (it then reads as length 0); a no-op for copies. Safe twice. The copying iterator hands out copies; `{ copy: false }` releases each at the next step. */
  release(): void;
}

const noop = (): void => {};

/** How long a subscriber whose ring ended waits for the publisher's BYE before closing its Peer anyway. */
const END_WAIT_MS = 1000;

/** CONSUMED goes when this many messages were taken since the last (a fraction of the window), or after CONSUMED_DELAY_MS. */
const CONSUMED_FRACTION = 4;
const CONSUMED_DELAY_MS = 1;

export class Subscriber implements AsyncIterable<Published> {
  readonly #peer: Peer;
  /** transport "shm": the publisher's ring, read through this subscriber's cursor. */
  readonly #ring: BroadcastReader | null;
  readonly #counts = new Map<string, number>();
  /** The prefixes in effect (each once). */
  #topics: string[];
  readonly policy: Policy;
  readonly blockTimeout: number;
  readonly window: number;
  /** "zmq": messages come over the Peer; "shm": from the publisher's broadcast ring. */
  readonly transport: "shm" | "zmq";
  /** Why transport is "zmq" ("" for "shm"). */
  readonly reason: string;
  #consumed = 0;
  #acked = 0;
  #ackTimer: NodeJS.Timeout | null = null;
  #missed = 0;
  #owed = 0;
  /** transport "shm": the ring reader's missed count already added to #missed. */
  #ringMissed = 0;
  #messages = 0;
  #failure: Error | null = null;
  #closed = false;

  /** @internal made by subscribe() */
  constructor(peer: Peer, topics: string[], w: { policy: Policy; blockTimeout: number; window: number; transport: "shm" | "zmq"; reason: string }, ring: BroadcastReader | null) {
    this.#peer = peer;
    this.#ring = ring;
    for (const t of topics) this.#counts.set(t, (this.#counts.get(t) ?? 0) + 1);
    this.#topics = [...this.#counts.keys()];
    this.policy = w.policy;
    this.blockTimeout = w.blockTimeout;
    this.window = w.window;
    this.transport = w.transport;
    this.reason = w.reason;
    if (ring !== null) void this.#control();
  }

  /**
   * transport "shm": the Peer carries no data, but its end (the publisher's
   * BYE, its death) and a REFUSED must still be read, so that close() does
   * not wait for a publisher that is gone.
   */
  async #control(): Promise<void> {
    try {
      for await (const m of this.#peer.messages()) {
        const d = decodeFromPublisher(m);
        if ("error" in d) this.#fail(shmError("EPROTO", `the publisher broke the protocol: ${d.error}`));
        else if (d.kind === Kind.Refused) this.#fail(shmError("ECONNREFUSED", `the publisher refused this subscriber: ${d.reason}`));
        else if (d.kind === Kind.Evicted) this.#fail(shmError("ESLOW", d.reason));
      }
    } catch {
      // the publisher's end or death: the ring says it to recv()
    }
  }

  /** The publisher's name. */
  get publisherName(): string {
    return this.#peer.remoteName;
  }

  /** The prefixes in effect. */
  get topics(): readonly string[] {
    return this.#topics;
  }

  /** Messages missed in all (the sum of every `missed`, and of a count told with no message after it yet). */
  get missed(): number {
    return this.#missed;
  }

  /** Messages received. */
  get messages(): number {
    return this.#messages;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Adds a prefix (counted: subscribing twice needs two unsubscribe()s), as ZeroMQ's subscribe(). */
  subscribe(...prefixes: string[]): void {
    for (const p of prefixes) topicBytes("prefix", p);
    for (const p of prefixes) this.#counts.set(p, (this.#counts.get(p) ?? 0) + 1);
    this.#update();
  }

  /** Removes one count of each prefix, as ZeroMQ's unsubscribe(); a prefix not subscribed is ignored. */
  unsubscribe(...prefixes: string[]): void {
    for (const p of prefixes) topicBytes("prefix", p);
    for (const p of prefixes) {
      const n = this.#counts.get(p);
      if (n === undefined) continue;
      if (n <= 1) this.#counts.delete(p);
      else this.#counts.set(p, n - 1);
    }
    this.#update();
  }

  /** @internal the whole list at once (a proxy's upstream side). */
  setTopics(prefixes: readonly string[]): void {
    this.#counts.clear();
    for (const p of prefixes) this.#counts.set(p, 1);
    this.#update();
  }

  #update(): void {
    if (this.#counts.size > MAX_TOPICS) throw shmError("ENOSPC", `more than ${MAX_TOPICS} prefixes`);
    const next = [...this.#counts.keys()];
    if (next.length === this.#topics.length && next.every((t, i) => t === this.#topics[i])) return;
    this.#topics = next;
    if (this.#closed || this.#failure !== null) return;
    this.#ring?.setTopics(next);
    // After what this side sent before; messages of a removed prefix already on their way are filtered here.
    this.#peer.send(encodeTopics(next)).catch(() => {});
  }

  /**
   * The next message if one is here now, else null (no promise per message:
   * drain with it, await recv() when it says null). Throws as recv() does.
   */
  tryRecv(): Published | null {
    for (;;) {
      if (this.#failure !== null) throw this.#failure;
      if (this.#closed) throw shmError("ECLOSED", "the subscriber is closed");
      let got: Published | null | undefined;
      try {
        if (this.#ring !== null) {
          const m = this.#ring.tryRecv();
          got = m === null ? null : this.#fromRing(m);
        } else {
          const f = this.#peer.tryRecv();
          got = f === null ? null : this.#fromPeer(f);
        }
      } catch (e) {
        throw this.#ended(e);
      }
      if (got !== undefined) return got;
      // undefined: a control message or a filtered one was taken; look again
    }
  }

  /** The next message, waiting for it (timeout, signal); ECLOSED after the publisher closed and everything was read. */
  async recv(options?: WaitOptions): Promise<Published> {
    const { signal, deadline, timeout } = checkWaitOptions(options);
    for (;;) {
      const now = this.tryRecv();
      if (now !== null) return now;
      if (signal?.aborted) throw abortError(signal);
      const left = deadline - performance.now();
      if (left <= 0 && Number.isFinite(deadline)) throw shmError("ETIMEDOUT", `recv() timed out after ${timeout} ms`);
      const o = Number.isFinite(deadline) ? { signal, timeout: left } : { signal };
      let got: Published | undefined;
      try {
        got = this.#ring !== null ? this.#fromRing(await this.#ring.recv(o)) : this.#fromPeer(await this.#peer.recv(o));
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "ETIMEDOUT") throw shmError("ETIMEDOUT", `recv() timed out after ${timeout} ms`);
        if (code === "ABORT_ERR") throw e;
        throw this.#ended(e);
      }
      if (got !== undefined) return got;
    }
  }

  /** The ring or the Peer ended or failed: the subscriber's end (ECLOSED when the publisher closed). */
  #ended(e: unknown): Error {
    if (this.#closed) return shmError("ECLOSED", "the subscriber is closed");
    if (this.#failure !== null) return this.#failure;
    if (this.#ring !== null) {
      // Lapped at the very end: counted by the reader, with no message after it to carry the count.
      this.#missed += this.#ring.missed - this.#ringMissed;
      this.#ringMissed = this.#ring.missed;
    }
    const code = (e as { code?: string }).code;
    return this.#fail(code === "ECLOSED" ? shmError("ECLOSED", `the publisher ${this.publisherName} closed`) : (e as Error));
  }

  /** A frame of the Peer: the message it carries, or undefined (a count, or filtered out); throws for an end. */
  #fromPeer(m: Uint8Array): Published | undefined {
    const d = decodeFromPublisher(m);
    if ("error" in d) throw this.#fail(shmError("EPROTO", `the publisher broke the protocol: ${d.error}`));
    if (d.kind === Kind.Missed) {
      this.#owed += d.count;
      this.#missed += d.count;
      return undefined;
    }
    if (d.kind === Kind.Evicted) throw this.#fail(shmError("ESLOW", d.reason));
    if (d.kind === Kind.Refused) throw this.#fail(shmError("ECONNREFUSED", `the publisher refused this subscriber: ${d.reason}`));
    if (d.kind === Kind.Welcome) throw this.#fail(shmError("EPROTO", "the publisher broke the protocol: WELCOME twice"));
    this.#took();
    // Sent before an unsubscribe() reached the publisher: not this subscriber's any more (ZeroMQ's SUB filters too).
    if (!topicMatches(this.#topics, d.topic)) return undefined;
    return this.#deliver(d.topic, d.data, false, noop);
  }

  /** A message of the ring (transport "shm"), or undefined if this subscriber's prefixes of now exclude it. */
  #fromRing(m: BroadcastMessage): Published | undefined {
    if (m.missed > 0) {
      this.#owed += m.missed;
      this.#missed += m.missed;
      this.#ringMissed += m.missed;
    }
    if (!topicMatches(this.#topics, m.topic)) {
      m.release(); // read before a setTopics() that excludes it
      return undefined;
    }
    return this.#deliver(m.topic, m.data, m.loan, m.release);
  }

  #deliver(topic: string, data: Uint8Array, loan: boolean, release: () => void): Published {
    this.#messages++;
    const missed = this.#owed;
    this.#owed = 0;
    return { topic, data, missed, loan, release };
  }

  /** One MESSAGE taken: CONSUMED, batched (a window's fraction at once, or within CONSUMED_DELAY_MS). */
  #took(): void {
    this.#consumed++;
    if (this.#consumed - this.#acked >= Math.max(1, Math.floor(this.window / CONSUMED_FRACTION))) this.#ack();
    else if (this.#ackTimer === null) {
      this.#ackTimer = setTimeout(() => this.#ack(), CONSUMED_DELAY_MS);
      this.#ackTimer.unref();
    }
  }

  #ack(): void {
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    if (this.#consumed === this.#acked || this.#closed || this.#failure !== null) return;
    this.#acked = this.#consumed;
    try {
      if (!this.#peer.trySend(encodeConsumed(this.#acked))) this.#peer.send(encodeConsumed(this.#acked)).catch(() => {});
    } catch {
      // the publisher is gone: recv() says so
    }
  }

  #fail(e: Error): Error {
    if (this.#failure !== null) return this.#failure;
    this.#failure = e;
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    this.#ring?.close();
    void this.#endPeer();
    return e;
  }

  /**
   * Messages until the publisher closes (the end of iteration); ESLOW,
   * EPEERDEAD and the like are thrown. `timeout` bounds each wait, `signal`
   * ends the iteration with an AbortError, and return() (break, a destroyed
   * stream) ends a pending wait at once, taking no message. Each `data`
   * stays valid (a loan is copied and released at once: safe to collect
   * or pull ahead); `{ copy: false }` hands loans out in place, each valid
   * until the next step (released then).
   */
  [Symbol.asyncIterator](options?: MessagesOptions): AsyncIterableIterator<Published> {
    return receiveIterator((o) => this.recv(o), copyLoanMessage, options, (m) => m.release());
  }

  /** Leaves: the publisher forgets this subscriber (it no longer holds it). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    this.#ring?.close(); // the ring stops waiting for this subscriber at once
    await this.#endPeer();
  }

  /**
   * Closes the Peer. After the publisher's end was seen in the ring (its BYE
   * follows at once), waits for that BYE a moment rather than for a
   * listener that is gone to take ours.
   */
  async #endPeer(): Promise<void> {
    const p = this.#peer;
    if (this.#ring !== null && this.#failure !== null && p.state === "connected") {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, END_WAIT_MS);
        function done(): void {
          clearTimeout(t);
          p.off("state", done);
          resolve();
        }
        p.on("state", done);
      });
    }
    await p.close();
  }
}

/** Connects to the publisher at `endpoint` and subscribes to `options.topics`. */
export async function subscribe(endpoint: string, options: SubscribeOptions = {}): Promise<Subscriber> {
  if (options === null || typeof options !== "object") throw invalidArgType("options", "an object", options);
  const { topics = [""], transport = "auto", name = "subscriber", timeout = 10_000, ...rest } = options;
  if (!Array.isArray(topics)) throw invalidArgType("options.topics", "an array of strings", topics);
  if (topics.length > MAX_TOPICS) throw invalidArgValue("options.topics", `must hold at most ${MAX_TOPICS} prefixes`, topics);
  for (const t of topics) topicBytes("options.topics[]", t);
  if (transport !== "auto" && transport !== "zmq") throw invalidArgValue("options.transport", 'must be "auto" or "zmq"', transport);
  checkInteger("options.timeout", timeout, 1, 2 ** 31 - 1);
  const deadline = performance.now() + timeout;
  const peer = await connect(endpoint, { ...rest, name, timeout, transport: "zmq", reconnect: false });
  let ring: BroadcastReader | null = null;
  try {
    const welcome = async (): Promise<Welcome> => {
      const w = decodeFromPublisher(await peer.recv({ timeout: Math.max(1, deadline - performance.now()) }));
      if ("error" in w) throw shmError("EPROTO", `${endpoint} is not a publisher, or broke the protocol: ${w.error}`);
      if (w.kind === Kind.Refused) throw shmError("ECONNREFUSED", `${endpoint} refused the subscription: ${w.reason}`);
      if (w.kind !== Kind.Welcome) throw shmError("EPROTO", `${endpoint} answered SUBSCRIBE with message kind ${w.kind}`);
      return w;
    };
    await peer.send(encodeSubscribe([...new Set(topics)], transport === "auto"));
    let w = await welcome();
    if (w.transport === "shm") {
      if (transport === "zmq") throw shmError("EPROTO", `${endpoint} offered a ring to a subscriber that asked for ZeroMQ`);
      try {
        ring = Broadcast.attach(w.ring!, topics.length === 0 ? {} : { topics });
        if (topics.length === 0) ring.setTopics([]); // nothing until subscribe() (attach's empty list means everything)
        await peer.send(encodeAttached(ring.slot));
      } catch (e) {
        // Another user's ring (EACCES), another /dev/shm (ENOENT), no addon, every slot taken (EBUSY): ZeroMQ.
        await peer.send(encodeFallback((e as Error).message));
        w = await welcome();
        if (w.transport !== "zmq") throw shmError("EPROTO", `${endpoint} offered a ring again after FALLBACK`);
      }
    }
    return new Subscriber(peer, topics, w, ring);
  } catch (e) {
    (ring as BroadcastReader | null)?.close();
    await peer.close();
    throw e;
  }
}
