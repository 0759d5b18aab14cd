// publish(): one publisher, any number of subscribers that join and leave at
// any time (docs/PROTOCOL.md §8). The publisher listens on an endpoint with
// listen() (transport "zmq": the conversation is control, plus the data of
// remote subscribers); each subscriber's Peer says what it wants
// (SUBSCRIBE, then TOPICS at any time).
//
// Local subscribers (same host and user: they can map the publisher's
// broadcast ring, lib/broadcast, §6) read every message from the ring, written
// once for all of them, each through its own cursor; the ring applies the
// policy below to them and filters topics on their side. Remote ones
// (another host or user, or transport "zmq") are sent their messages over
// their Peer: the publisher filters by topic prefix per subscriber, as a
// ZeroMQ (>= 3) PUB does, and each gets its messages in publication order.
//
// A remote subscriber has a window (remote.ts): at most `window` messages
// sent to it and not yet taken by its user, as a ring's capacity bounds a
// local one. A slow subscriber is one whose window (ring) is full; then the
// publisher's policy decides, the same for both:
//   block: send() waits for it (later sends queue behind, in order); one
//          that takes nothing for blockTimeout ms while the publisher waits
//          is evicted: EVICTED tells it why, its iteration fails with ESLOW,
//          the others go on.
//   drop:  send() never waits; a subscriber with no room misses the message,
//          and the publisher counts it: MISSED (exact count) goes before its
//          next message (or on its own soon after), so it is told how many it
//          missed, never given a partial one.
// A subscriber that dies (kill -9) is known at once on the same host (the
// Peer's pidfd watch) and by heartbeats elsewhere; it stops holding the
// publisher then.
import { EventEmitter } from "node:events";

import { asBytes } from "../channel/end.js";
import { abortError, checkInteger, checkWaitOptions, invalidArgType, invalidArgValue, shmError, type WaitOptions } from "../core/errors.js";
import type { Peer } from "../peer/peer.js";
import { listen, type ListenOptions, type Server } from "../peer/server.js";
import { Broadcast, type BroadcastWriter } from "../broadcast/broadcast.js";
import { BroadcastLoan } from "../broadcast/writer.js";
import { bindMirror, type ZmqMirror } from "./interop.js";
import { RemoteWindow, waitAll, type Queued, type WindowHost } from "./remote.js";
import { Kind, MAX_TOPICS, MAX_TOPIC_BYTES, decodeFromSubscriber, encodeEvicted, encodeMessage, encodeMissed, encodeRefused, encodeWelcome, topicBytes, topicMatches, type Policy } from "./wire.js";

export interface PublishOptions extends Omit<ListenOptions, "name" | "transport" | "capacity" | "pool"> {
  /** "auto" (default): local subscribers read a broadcast ring; "zmq": every subscriber is served over ZeroMQ (no ring). */
  transport?: "auto" | "zmq";
  /** The broadcast ring's bytes (a power of two, default 1 MiB): its largest message is a quarter of it. */
  capacity?: number;
  /** Local subscribers at once (the ring's slots, 1..256, default 64); more are served over ZeroMQ. */
  maxLocalSubscribers?: number;
  /** This publisher's name, as subscribers see it (default "publisher"). */
  name?: string;
  /** What a slow subscriber does to the publisher (default "block"). */
  policy?: Policy;
  /** block: how long a subscriber may take nothing while send() waits for it, in ms, before it is evicted (default 5,000). */
  blockTimeout?: number;
  /** Messages sent to one subscriber and not yet taken by it (default 1,000, ZeroMQ's default high-water mark). */
  window?: number;
  /** How long a connected subscriber may take to say what it wants, in ms (default 10,000). */
  subscribeTimeout?: number;
  /**
   * Also publish every message to plain ZeroMQ SUB sockets on this endpoint
   * (an XPUB: two frames [topic, data], ZeroMQ's own prefix filtering and
   * high-water-mark drops; no block, no missed counts). Their subscriptions
   * join `topics`.
   */
  zmqPublishOn?: string;
}

/** A subscriber as the publisher sees it. */
export interface SubscriptionInfo {
  name: string;
  pid: number;
  transport: "shm" | "zmq";
  topics: readonly string[];
  /** Messages (and, remote: payload bytes) sent to it; local: what it read from the ring. */
  messages: number;
  bytes: number;
  /** Messages it missed (drop; block: sends abandoned by the caller's signal or timeout). Local: lapped in the ring. */
  missed: number;
}

export interface PublisherStats {
  /** send() calls that completed. */
  messages: number;
  bytes: number;
  /** Deliveries to remote subscribers and plain ZeroMQ sockets (a message sent to 3 counts 3), and those missed; local subscribers read the ring (see `subscribers`). */
  delivered: number;
  missed: number;
  /** Messages written into the broadcast ring (once each, for every local subscriber). */
  ring: number;
  /** Subscribers evicted under "block". */
  evicted: number;
}

/**
 * A loan of a publisher (loan()): fill `data` in place, then send(topic,
 * loan). Local subscribers get a view of the same shared memory (no copy);
 * remote ones a copy on the wire. Without a ring (transport "zmq") it is
 * ordinary memory.
 */
export interface PublisherLoan {
  readonly data: Uint8Array;
}

export const DEFAULT_BLOCK_TIMEOUT_MS = 5000;
const RESOLVED = Promise.resolve();
const NO_WAIT: ReturnType<typeof checkWaitOptions> = Object.freeze({ signal: undefined, deadline: Infinity, timeout: Infinity });
export const DEFAULT_WINDOW = 1000;
const DEFAULT_SUBSCRIBE_TIMEOUT_MS = 10_000;
/** drop: how soon a MISSED count owed to a subscriber that gets no further message is tried again. */
const MISSED_FLUSH_MS = 10;

class Sub {
  readonly peer: Peer;
  /** "shm": it reads the ring (offered, then attached or falling back); "zmq": served over its Peer (win). */
  mode: "shm" | "zmq" = "zmq";
  /** mode "shm": the ring slot it says it holds (ATTACHED), -1 before. */
  slot = -1;
  topics: string[] = [];
  ready = false;
  gone = false;
  readonly info: SubscriptionInfo;
  readonly win: RemoteWindow;
  constructor(peer: Peer, host: WindowHost) {
    this.peer = peer;
    this.info = { name: peer.remoteName, pid: peer.remotePid, transport: "zmq", topics: this.topics, messages: 0, bytes: 0, missed: 0 };
    this.win = new RemoteWindow(peer, this.info, host);
  }
}

type Wait = ReturnType<typeof checkWaitOptions>;

export class Publisher extends EventEmitter {
  readonly #server: Server;
  readonly policy: Policy;
  readonly blockTimeout: number;
  readonly window: number;
  readonly #subscribeTimeout: number;
  readonly #subs = new Set<Sub>();
  #union: string[] = [];
  #closed = false;
  #flush: NodeJS.Timeout | null = null;
  readonly #stats: PublisherStats = { messages: 0, bytes: 0, delivered: 0, missed: 0, evicted: 0, ring: 0 };
  #mirror: ZmqMirror | null = null;
  /** The broadcast ring of local subscribers (null: transport "zmq", or no shared memory here), and why not. */
  readonly #ring: BroadcastWriter | null;
  readonly #noRing: string;
  /** Subscribers in mode "shm" (the ring is written only while there is one). */
  #shm = 0;
  /** The ring's send waiting for room (block), which later ones follow: publication order in the ring. */
  #ringTail: Promise<void> | null = null;

  /** @internal made by publish() */
  constructor(server: Server, policy: Policy, blockTimeout: number, window: number, subscribeTimeout: number, ring: BroadcastWriter | null, noRing: string) {
    super();
    this.#server = server;
    this.#ring = ring;
    this.#noRing = noRing;
    // The ring evicts local subscribers itself (their side: ESLOW); the publisher forgets them.
    ring?.on("evict", (info: { slot: number }) => {
      this.#stats.evicted++;
      for (const s of this.#subs) {
        if (s.mode !== "shm" || s.slot !== info.slot) continue;
        this.#forget(s);
        this.emit("evicted", { ...s.info });
        void s.peer.close();
      }
    });
    this.policy = policy;
    this.blockTimeout = blockTimeout;
    this.window = window;
    this.#subscribeTimeout = subscribeTimeout;
    void this.#accept();
  }

  /** The endpoint bound (with the port chosen for "tcp://host:*"). */
  get endpoint(): string {
    return this.#server.endpoint;
  }

  /** The plain ZeroMQ endpoint (zmqPublishOn), or null. */
  get zmqEndpoint(): string | null {
    return this.#mirror?.endpoint ?? null;
  }

  /** @internal publish() binds it after the publisher exists (its subscriptions update the union). */
  async bindZmq(endpoint: string, allowRemote: boolean): Promise<void> {
    this.#mirror = await bindMirror(endpoint, allowRemote, () => this.#recomputeTopics());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The subscribers that said what they want, and their counters. */
  get subscribers(): SubscriptionInfo[] {
    const slots = this.#shm > 0 && this.#ring !== null && !this.#ring.closed ? this.#ring.subscribers : [];
    // A local one counts once it attached the ring (ATTACHED): from then on it reads what is published.
    return [...this.#subs]
      .filter((s) => s.ready && !s.gone && (s.mode === "zmq" || s.slot >= 0))
      .map((s) => {
        if (s.mode === "zmq") return { ...s.info, topics: [...s.topics] };
        // Its slot in the ring (as it said: display only).
        const slot = slots.find((x) => x.slot === s.slot && x.pid === s.info.pid);
        return { ...s.info, transport: "shm" as const, topics: [...s.topics], messages: slot?.messages ?? 0, bytes: 0, missed: slot?.missed ?? 0 };
      });
  }

  /** The broadcast ring's name (local subscribers attach it), or null. */
  get ringName(): string | null {
    return this.#ring?.name ?? null;
  }

  /**
   * The union of every subscriber's prefixes (sorted; a prefix another one
   * covers is left out): what a proxy subscribes to upstream. A "topics"
   * event gives each change.
   */
  get topics(): readonly string[] {
    return this.#union;
  }

  get stats(): Readonly<PublisherStats> {
    return { ...this.#stats };
  }

  async #accept(): Promise<void> {
    for await (const peer of this.#server) {
      if (this.#closed) {
        void peer.close();
        continue;
      }
      void this.#serve(new Sub(peer, this.#host));
    }
  }

  /** One subscriber's conversation: SUBSCRIBE, then TOPICS and CONSUMED at any time, until it ends. */
  async #serve(s: Sub): Promise<void> {
    this.#subs.add(s);
    const timer = setTimeout(() => {
      if (!s.ready) this.#refuse(s, `no SUBSCRIBE within ${this.#subscribeTimeout} ms`);
    }, this.#subscribeTimeout);
    timer.unref();
    try {
      for await (const m of s.peer.messages()) {
        if (s.gone) return;
        const d = decodeFromSubscriber(m);
        if ("error" in d) return this.#refuse(s, d.error);
        if (d.kind === Kind.Consumed) {
          const why = s.ready ? s.win.consumed(d.count) : `CONSUMED ${d.count} before SUBSCRIBE`;
          if (why !== null) return this.#refuse(s, why);
          continue;
        }
        if (d.kind === Kind.Attached) {
          if (!s.ready || s.mode !== "shm" || s.slot >= 0) return this.#refuse(s, "ATTACHED without a ring offered, or twice");
          s.slot = d.slot;
          this.emit("subscriber", { ...s.info });
          continue;
        }
        if (d.kind === Kind.Fallback) {
          // It could not attach the ring: ZeroMQ from now on (a second WELCOME says so).
          if (!s.ready || s.mode !== "shm") return this.#refuse(s, "FALLBACK without a ring offered");
          s.mode = "zmq";
          this.#shm--;
          this.#welcome(s, "zmq", `${s.info.name} could not map the ring: ${d.reason}`);
          this.emit("subscriber", { ...s.info });
          continue;
        }
        if (d.kind === Kind.Subscribe) {
          if (s.ready) return this.#refuse(s, "SUBSCRIBE twice");
          s.ready = true;
          clearTimeout(timer);
          s.topics = s.info.topics = d.topics;
          if (d.shm && this.#ring !== null && !this.#ring.closed) {
            // Counted before it attaches: every message published after its attach is in the ring.
            s.mode = "shm";
            this.#shm++;
            this.#welcome(s, "shm", "");
          } else {
            this.#welcome(s, "zmq", d.shm ? this.#noRing : "the subscriber asked for ZeroMQ");
            this.emit("subscriber", { ...s.info });
          }
        } else {
          if (!s.ready) return this.#refuse(s, "TOPICS before SUBSCRIBE");
          s.topics = s.info.topics = d.topics;
        }
        this.#recomputeTopics();
      }
    } catch {
      // its end (closed, died, evicted): forgotten below
    } finally {
      clearTimeout(timer);
      this.#forget(s);
    }
  }

  #welcome(s: Sub, transport: "shm" | "zmq", reason: string): void {
    s.info.transport = transport;
    const ring = transport === "shm" ? this.#ring!.name : null;
    s.peer.trySend(encodeWelcome({ policy: this.policy, blockTimeout: this.blockTimeout, window: this.window, transport, ring, reason }));
  }

  #refuse(s: Sub, reason: string): void {
    try {
      s.peer.trySend(encodeRefused(reason));
    } catch {
      // gone already
    }
    this.#forget(s);
    void s.peer.close();
  }

  /** It ended, died, was refused or evicted: what waited for it goes on. */
  #forget(s: Sub): void {
    if (s.gone) return;
    s.gone = true;
    if (s.mode === "shm") this.#shm--;
    this.#subs.delete(s);
    s.win.close();
    this.#recomputeTopics();
  }

  #recomputeTopics(): void {
    const all = new Set<string>();
    for (const s of this.#subs) if (s.ready && !s.gone) for (const t of s.topics) all.add(t);
    for (const t of this.#mirror?.topics ?? []) all.add(t);
    // A prefix covered by a shorter one adds nothing (and "" covers all).
    const sorted = [...all].sort();
    const union = sorted.filter((t) => !sorted.some((p) => p !== t && t.startsWith(p))).slice(0, MAX_TOPICS);
    if (union.length === this.#union.length && union.every((t, i) => t === this.#union[i])) return;
    this.#union = union;
    this.emit("topics", union);
  }

  /**
   * Publishes `data` (bytes, or a loan: copied onto the wire for remote
   * subscribers) on `topic` to every subscriber whose prefixes match, in
   * publication order. block: resolves once every matching subscriber had
   * room for it (or was evicted, or died); drop: at once. options.signal /
   * timeout bound that wait: the subscribers that had no room by then miss
   * it (MISSED tells them), and send() rejects (AbortError, ETIMEDOUT).
   */
  send(topic: string, data: Uint8Array | ArrayBufferView | ArrayBuffer | PublisherLoan, options?: WaitOptions): Promise<void> {
    try {
      const { bytes, loan } = this.#payload(topic, data);
      const wait = options === undefined ? NO_WAIT : checkWaitOptions(options);
      if (wait.signal?.aborted) throw abortError(wait.signal);
      // Remote subscribers first: their copy is made before a loan goes into the ring (which takes its memory).
      const blocked = this.#toRemote(topic, bytes, this.#frameFor(topic, bytes));
      // The ring only gets what some local subscriber wants (as the publisher filters for remote ones); a loan
      // always goes (its memory returns to the pool once every subscriber passed it).
      const ring = this.#ringWants(topic, loan) ? this.#toRing(topic, loan ?? bytes, wait) : null;
      this.#counted(bytes);
      const remote = blocked === null ? null : waitAll(blocked, wait);
      if (ring === null) return remote ?? RESOLVED;
      return remote === null ? ring : Promise.all([ring, remote]).then(() => {});
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * send() if it can go now without waiting: false, and nothing sent to
   * anyone, when under "block" the ring or a matching remote subscriber's
   * window is full, or earlier sends still wait; under "drop", true. For
   * loops that publish many messages without a promise each:
   * `pub.trySend(t, b) || (await pub.send(t, b))`.
   */
  trySend(topic: string, data: Uint8Array | ArrayBufferView | ArrayBuffer | PublisherLoan): boolean {
    if (this.policy === "drop") {
      const { bytes, loan } = this.#payload(topic, data);
      this.#toRemote(topic, bytes, this.#frameFor(topic, bytes));
      if (this.#ringWants(topic, loan)) void this.#toRing(topic, loan ?? bytes, NO_WAIT)?.catch(() => {});
      this.#counted(bytes);
      return true;
    }
    const { bytes, loan } = this.#payload(topic, data);
    if (this.#ringTail !== null) return false;
    for (const s of this.#subs) if (s.ready && !s.gone && s.mode === "zmq" && !s.win.hasRoom && topicMatches(s.topics, topic)) return false;
    // Every remote window has room: the remote part cannot wait. The ring decides last (its write is the commit).
    const frame = this.#frameFor(topic, bytes);
    if (this.#ringWants(topic, loan)) {
      if (!this.#ring!.trySend(topic, loan ?? bytes)) return false;
      this.#stats.ring++;
    }
    this.#toRemote(topic, bytes, frame);
    this.#counted(bytes);
    return true;
  }

  /** Checks the arguments of send(): the payload's bytes, and the loan if it is one of the ring's. */
  #payload(topic: string, data: unknown): { bytes: Uint8Array; loan: BroadcastLoan | null } {
    if (this.#closed) throw shmError("ECLOSED", "the publisher is closed");
    // UTF-8 takes at most 3 bytes per UTF-16 unit: only a long topic needs its bytes counted here.
    if (typeof topic !== "string" || topic.length * 3 > MAX_TOPIC_BYTES) topicBytes("topic", topic);
    const loan = data instanceof BroadcastLoan ? data : null;
    if (loan !== null && loan.sent) throw invalidArgValue("data", "is a loan that was sent already (take a new one)", data);
    if (loan !== null && this.#ring === null) throw invalidArgValue("data", "is a loan of another publisher's ring", data);
    return { bytes: loan !== null ? loan.data : isPlainLoan(data) ? data.data : asBytes(data), loan };
  }

  /** The MESSAGE frame if some remote subscriber (or plain ZeroMQ socket) wants the topic, else null. */
  #frameFor(topic: string, bytes: Uint8Array): Buffer | null {
    for (const s of this.#subs) if (s.ready && !s.gone && s.mode === "zmq" && topicMatches(s.topics, topic)) return encodeMessage(this.#topicBytes(topic), bytes);
    return null;
  }

  /** Each matching remote subscriber's copy (sent, missed or queued), and the plain ZeroMQ sockets'; the copies that wait. */
  #toRemote(topic: string, bytes: Uint8Array, frame: Buffer | null): Queued[] | null {
    let blocked: Queued[] | null = null;
    if (frame !== null) {
      for (const s of this.#subs) {
        if (!s.ready || s.gone || s.mode !== "zmq" || !topicMatches(s.topics, topic)) continue;
        const q = s.win.deliver(frame, bytes.byteLength);
        if (q !== null) (blocked ??= []).push(q);
      }
    }
    if (this.#mirror?.send(topic, this.#topicBytes(topic), bytes)) this.#stats.delivered++;
    return blocked;
  }

  #ringWants(topic: string, loan: BroadcastLoan | null): boolean {
    return loan !== null || (this.#shm > 0 && this.#localWants(topic));
  }

  #counted(bytes: Uint8Array): void {
    this.#stats.messages++;
    this.#stats.bytes += bytes.byteLength;
  }

  /** A topic's UTF-8 bytes (the last few remembered: a publisher repeats its topics). */
  #topicBytes(topic: string): Buffer {
    let b = this.#topicCache.get(topic);
    if (b === undefined) {
      b = topicBytes("topic", topic);
      if (this.#topicCache.size >= 256) this.#topicCache.clear();
      this.#topicCache.set(topic, b);
    }
    return b;
  }

  readonly #topicCache = new Map<string, Buffer>();

  /**
   * Shared memory to fill in place and publish with send(topic, loan): local
   * subscribers read the same memory (no copy, whatever their number), remote
   * ones get a copy. Waits (block) while the ring's loan memory
   * (maxLoanBytes) is held by subscribers. Without a ring: ordinary memory.
   */
  async loan(size: number, options?: WaitOptions): Promise<PublisherLoan> {
    if (this.#closed) throw shmError("ECLOSED", "the publisher is closed");
    if (this.#ring === null) return { data: new Uint8Array(checkInteger("size", size, 1, 2 ** 32)) };
    return this.#ring.loan(size, options);
  }

  #localWants(topic: string): boolean {
    for (const s of this.#subs) if (s.mode === "shm" && !s.gone && topicMatches(s.topics, topic)) return true;
    return false;
  }

  /** Writes into the ring (once for every local subscriber): now, or (block) after the ring's sends that wait, in order. */
  #toRing(topic: string, bytes: Uint8Array | BroadcastLoan, wait: Wait): Promise<void> | null {
    const ring = this.#ring!;
    this.#stats.ring++;
    if (this.#ringTail === null && ring.trySend(topic, bytes)) return null;
    // It waits: a copy of its own (a caller that does not await may reuse its buffer at once); a loan is the ring's already.
    const own = bytes instanceof BroadcastLoan ? bytes : new Uint8Array(bytes);
    const opts = { signal: wait.signal, timeout: Math.max(0, wait.deadline - performance.now()) };
    const p = (this.#ringTail ?? Promise.resolve()).then(() => ring.send(topic, own, Number.isFinite(wait.deadline) ? opts : { signal: wait.signal }));
    // The tail clears itself in the same reaction that settles it, registered on `p` before the caller's
    // own `await p`: a caller resumed by `p` finds the ring free again, and its next trySend() writes
    // directly (a tail cleared a microtask later sent every following message through this chain, one
    // publication and wake per message: 7x slower at 4 subscribers).
    const clear = (): void => {
      if (this.#ringTail === tail) this.#ringTail = null;
    };
    const tail: Promise<void> = p.then(clear, clear);
    this.#ringTail = tail;
    return p;
  }

  /** What each remote subscriber's window needs of this publisher. */
  readonly #host: WindowHost = ((pub: Publisher): WindowHost => ({
    get policy() {
      return pub.policy;
    },
    get window() {
      return pub.window;
    },
    get blockTimeout() {
      return pub.blockTimeout;
    },
    counts: pub.#stats,
    gone: (w) => {
      const s = pub.#subOf(w);
      if (s !== null) pub.#forget(s);
    },
    evict: (w, idleMs) => {
      const s = pub.#subOf(w);
      if (s !== null) pub.#evict(s, idleMs);
    },
    owes: () => {
      if (pub.#flush !== null) return;
      pub.#flush = setTimeout(() => pub.#flushMissed(), MISSED_FLUSH_MS);
      pub.#flush.unref();
    },
  }))(this);

  /** The subscriber of a window (null once forgotten). */
  #subOf(w: RemoteWindow): Sub | null {
    for (const s of this.#subs) if (s.win === w) return s;
    return null;
  }

  /** MISSED counts owed to subscribers that got no later message are sent on their own. */
  #flushMissed(): void {
    this.#flush = null;
    let again = false;
    for (const s of this.#subs) {
      try {
        if (!s.gone && s.win.flushMissed()) again = true;
      } catch {
        this.#forget(s);
      }
    }
    if (again && !this.#closed) this.#host.owes();
  }

  #evict(s: Sub, idleMs: number): void {
    if (s.gone) return;
    this.#stats.evicted++;
    const reason = `evicted by ${this.#server.endpoint}: it took nothing for ${Math.round(idleMs)} ms while the publisher waited for it (policy "block", blockTimeout ${this.blockTimeout} ms)`;
    const info = { ...s.info };
    this.#forget(s);
    this.emit("evicted", info);
    // Told behind what it was sent already, then the connection ends.
    s.peer
      .send(encodeEvicted(reason), { timeout: 1000 })
      .catch(() => {})
      .finally(() => void s.peer.close());
  }

  /**
   * Ends every subscription, then the endpoint. Each subscriber reads what
   * was sent to it (and the count of what it missed) before its iteration
   * ends; sends still waiting for room (block) are not sent. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#flush !== null) clearTimeout(this.#flush);
    for (const s of [...this.#subs]) {
      // Told before the end, behind what it was sent (MISSED is not counted in the window).
      s.win.tellOwed();
      this.#forget(s);
    }
    this.#mirror?.close();
    this.#ring?.close(); // local subscribers read what is in it, then their stream ends
    await this.#server.close();
  }
}

function isPlainLoan(d: unknown): d is PublisherLoan {
  return d !== null && typeof d === "object" && !ArrayBuffer.isView(d) && !(d instanceof ArrayBuffer) && (d as PublisherLoan).data instanceof Uint8Array;
}

/** Listens on `endpoint` ("ipc://<path>" or "tcp://host:port") and publishes to whoever subscribes there. */
export async function publish(endpoint: string, options: PublishOptions = {}): Promise<Publisher> {
  if (options === null || typeof options !== "object") throw invalidArgType("options", "an object", options);
  const { policy = "block", blockTimeout = DEFAULT_BLOCK_TIMEOUT_MS, window = DEFAULT_WINDOW, subscribeTimeout = DEFAULT_SUBSCRIBE_TIMEOUT_MS, name = "publisher", zmqPublishOn, transport = "auto", capacity, maxLocalSubscribers, ...rest } = options;
  if (transport !== "auto" && transport !== "zmq") throw invalidArgValue("options.transport", 'must be "auto" or "zmq"', transport);
  if (policy !== "block" && policy !== "drop") throw invalidArgValue("options.policy", 'must be "block" or "drop"', policy);
  checkInteger("options.blockTimeout", blockTimeout, 1, 2 ** 31 - 1);
  checkInteger("options.subscribeTimeout", subscribeTimeout, 1, 2 ** 31 - 1);
  checkInteger("options.window", window, 1, 2 ** 31 - 1);
  // The ring first: its option errors are the caller's, before anything listens.
  let ring: BroadcastWriter | null = null;
  let noRing = 'the publisher uses transport "zmq"';
  if (transport === "auto") {
    try {
      ring = Broadcast.create({ policy, blockTimeout, capacity, maxSubscribers: maxLocalSubscribers });
    } catch (e) {
      const code = (e as { code?: string }).code ?? "";
      if (code.startsWith("ERR_")) throw e;
      noRing = `the publisher has no broadcast ring (${(e as Error).message})`;
    }
  }
  let server: Server;
  try {
    server = await listen(endpoint, { ...rest, name, transport: "zmq" });
  } catch (e) {
    ring?.close();
    throw e;
  }
  const pub = new Publisher(server, policy, blockTimeout, window, subscribeTimeout, ring, noRing);
  if (zmqPublishOn !== undefined) {
    try {
      await pub.bindZmq(zmqPublishOn, rest.allowRemote === true);
    } catch (e) {
      await pub.close();
      throw e;
    }
  }
  return pub;
}
