// subscribe(): a subscriber of one publisher (docs/PROTOCOL.md §8). It
// connects with connect() (transport "zmq" for the conversation), says which
// topic prefixes it wants (ZeroMQ SUB semantics: "" is everything, several
// are OR'd, none is nothing; subscribe()/unsubscribe() are counted as
// ZeroMQ's are), and iterates { topic, data, missed } in publication order.
// `missed` is how many messages for this subscriber the publisher did not
// send just before this one (policy "drop": its window was full); a
// subscriber evicted by a "block" publisher fails with ESLOW.
import { abortError, checkInteger, checkWaitOptions, invalidArgType, invalidArgValue, shmError, type WaitOptions } from "../core/errors.js";
import { connect, type ConnectOptions } from "../peer/connect.js";
import type { Peer } from "../peer/peer.js";
import { Kind, MAX_TOPICS, decodeFromPublisher, encodeConsumed, encodeSubscribe, encodeTopics, topicBytes, topicMatches, type Policy } from "./wire.js";

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
  data: Uint8Array;
  /** Messages for this subscriber that the publisher did not send just before this one (policy "drop"); 0 mostly. */
  missed: number;
}

/** CONSUMED goes when this many messages were taken since the last (a fraction of the window), or after CONSUMED_DELAY_MS. */
const CONSUMED_FRACTION = 4;
const CONSUMED_DELAY_MS = 1;

export class Subscriber implements AsyncIterable<Published> {
  readonly #peer: Peer;
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
  #messages = 0;
  #failure: Error | null = null;
  #closed = false;

  /** @internal made by subscribe() */
  constructor(peer: Peer, topics: string[], w: { policy: Policy; blockTimeout: number; window: number; transport: "shm" | "zmq"; reason: string }) {
    this.#peer = peer;
    for (const t of topics) this.#counts.set(t, (this.#counts.get(t) ?? 0) + 1);
    this.#topics = [...this.#counts.keys()];
    this.policy = w.policy;
    this.blockTimeout = w.blockTimeout;
    this.window = w.window;
    this.transport = w.transport;
    this.reason = w.reason;
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
    // After what this side sent before; messages of a removed prefix already on their way are filtered here.
    this.#peer.send(encodeTopics(next)).catch(() => {});
  }

  /** The next message, waiting for it (timeout, signal); ECLOSED after the publisher closed and everything was read. */
  async recv(options?: WaitOptions): Promise<Published> {
    const { signal, deadline, timeout } = checkWaitOptions(options);
    for (;;) {
      if (this.#failure !== null) throw this.#failure;
      if (this.#closed) throw shmError("ECLOSED", "the subscriber is closed");
      if (signal?.aborted) throw abortError(signal);
      let m: Uint8Array;
      try {
        const left = deadline - performance.now();
        if (left <= 0 && Number.isFinite(deadline)) throw shmError("ETIMEDOUT", `recv() timed out after ${timeout} ms`);
        m = await this.#peer.recv(Number.isFinite(deadline) ? { signal, timeout: left } : { signal });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "ETIMEDOUT") throw shmError("ETIMEDOUT", `recv() timed out after ${timeout} ms`);
        if (code === "ABORT_ERR") throw e;
        if (this.#closed) throw shmError("ECLOSED", "the subscriber is closed");
        throw this.#fail(code === "ECLOSED" ? shmError("ECLOSED", `the publisher ${this.publisherName} closed`) : (e as Error));
      }
      const d = decodeFromPublisher(m);
      if ("error" in d) throw this.#fail(shmError("EPROTO", `the publisher broke the protocol: ${d.error}`));
      if (d.kind === Kind.Missed) {
        this.#owed += d.count;
        this.#missed += d.count;
        continue;
      }
      if (d.kind === Kind.Evicted) throw this.#fail(shmError("ESLOW", d.reason));
      if (d.kind === Kind.Refused) throw this.#fail(shmError("ECONNREFUSED", `the publisher refused this subscriber: ${d.reason}`));
      if (d.kind === Kind.Welcome) throw this.#fail(shmError("EPROTO", "the publisher broke the protocol: WELCOME twice"));
      this.#took();
      // Sent before an unsubscribe() reached the publisher: not this subscriber's any more (ZeroMQ's SUB filters too).
      if (!topicMatches(this.#topics, d.topic)) continue;
      this.#messages++;
      const missed = this.#owed;
      this.#owed = 0;
      return { topic: d.topic, data: d.data, missed };
    }
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
    this.#failure ??= e;
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    void this.#peer.close();
    return this.#failure;
  }

  /** Messages until the publisher closes (the end of iteration); ESLOW, EPEERDEAD and the like are thrown. */
  async *[Symbol.asyncIterator](): AsyncIterator<Published> {
    for (;;) {
      let m: Published;
      try {
        m = await this.recv();
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "ECLOSED") return; // the publisher closed, or this side did
        throw e;
      }
      yield m;
    }
  }

  /** Leaves: the publisher forgets this subscriber (it no longer holds it). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    await this.#peer.close();
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
  try {
    await peer.send(encodeSubscribe([...new Set(topics)], transport === "auto"));
    const m = await peer.recv({ timeout: Math.max(1, deadline - performance.now()) });
    const w = decodeFromPublisher(m);
    if ("error" in w) throw shmError("EPROTO", `${endpoint} is not a publisher, or broke the protocol: ${w.error}`);
    if (w.kind === Kind.Refused) throw shmError("ECONNREFUSED", `${endpoint} refused the subscription: ${w.reason}`);
    if (w.kind !== Kind.Welcome) throw shmError("EPROTO", `${endpoint} answered SUBSCRIBE with message kind ${w.kind}`);
    if (w.transport !== "zmq") throw shmError("EPROTO", `${endpoint} offered transport "${w.transport}" to a subscriber that cannot use it`);
    return new Subscriber(peer, topics, w);
  } catch (e) {
    await peer.close();
    throw e;
  }
}
