// Peer: a duplex connection to another process, set up by listen()/connect()
// (docs/PROTOCOL.md §4). On transport "shm" it owns the channel to the other
// side (its ChannelWriter) and reads the other side's (a ChannelReader): every
// channel feature, loans included, with no copy. On transport "zmq" (another
// host, another uid, a private /dev/shm, no native addon, or forced) the same
// calls carry each message over the ZeroMQ connection, in order; a loan is
// then ordinary memory and is copied.
//
// A connector's Peer outlives its connections: when the listener goes (it
// died, hung past the heartbeat timeout, closed or restarted) the Peer
// reads what the lost connection had delivered, then waits in state
// "reconnecting" while connect() dials again, and goes on over the new
// connection (docs/PROTOCOL.md §4.6: at most once). A listener's Peer is one
// connection: its end is the Peer's end ("ended" or "dead").
//
// Request/reply (docs/PROTOCOL.md §7) rides on the same rings or ZeroMQ
// connection: request() sends an envelope (kind, id, bytes) and waits for
// the reply with its id; requests() hands out the other side's. While
// replies or requests are awaited the Peer reads its rings itself (#pump),
// routing envelopes and keeping plain messages, copied, for recv().
import { EventEmitter, setMaxListeners } from "node:events";

import type { ChannelReader } from "../channel/reader.js";
import { KeptMessage } from "../channel/reader.js";
import type { ChannelWriter } from "../channel/writer.js";
import { asBytes, checkSyncTimeout } from "../channel/end.js"; // asBytes refuses a view over a detached buffer (a loan of a lost connection)
import { receiveIterator, type MessagesOptions } from "../channel/iterate.js";
import { abortError, anySignal, checkInteger, checkWaitOptions, invalidArgType, invalidState, shmError, type WaitOptions } from "../core/errors.js";
import { sweepAfterDeath } from "../core/sweep.js";
import { setLongTimeout, untilChange, type LongTimer } from "../core/timers.js";
import { CREDIT_WINDOW, MsgType, encodeControl, encodeData, encodeEnvelope, type EnvelopeMsg, type Identity, type Transport } from "./protocol.js";
import { ENVELOPE_ERROR, ENVELOPE_REQUEST } from "../channel/ring.js";
import type { Bytes } from "../channel/writer.js";
import { PendingRequests } from "./pending.js";
import { PeerRequest } from "./request.js";
import type { Outbox } from "./zmq.js";
import { labelRing } from "./handshake.js";
import { native, type PeerWatchHandle } from "../core/native.js";

/** What a Peer needs of its ZeroMQ connection (the server's ROUTER or the connector's DEALER). */
export interface Link {
  /** This peer's messages to the other side, in order. */
  outbox: Outbox;
  /**
   * Called once when the connection is over: the server forgets it, the
   * connector closes its socket, letting what it queued (a BYE) go out for
   * a while (`lingerMs`, default CLOSE_DRAIN_MS) if `drain` (a close),
   * dropping it if not (a lost connection: nobody would take it, and it
   * would hold up the process's exit).
   */
  detach(drain: boolean, lingerMs?: number): void;
  /** Called once the Peer took the connection: the connector starts reading its socket. */
  start?(peer: Peer): void;
}

/** One connection: what a handshake agreed. */
export interface Connection {
  remote: Identity;
  transport: Transport;
  /** Why "zmq", when it is ("" for "shm"). */
  reason: string;
  link: Link;
  tx: ChannelWriter | null;
  rx: ChannelReader | null;
  /** "<this side> -> <the other> via <endpoint>": written into this side's ring for `synaptic-shm ls`. */
  label: string;
}

/** A new connection to the same listener (the connector's reconnect); rejects once `signal` aborts. */
export type Redial = (signal: AbortSignal) => Promise<Connection>;

/**
 * Liveness, on every transport: each side sends a HEARTBEAT on the control
 * socket when it sent nothing there for intervalMs; a side that heard
 * nothing for timeoutMs is dead or hung (a killed local process is known at
 * once on "shm", by its liveness lock, and on "zmq" by the connection's end).
 */
export interface HeartbeatOptions {
  /** Default 1,000 ms. */
  intervalMs?: number;
  /** Default 5,000 ms. */
  timeoutMs?: number;
}

export const DEFAULT_HEARTBEAT = { intervalMs: 1000, timeoutMs: 5000 };

/**
 * "connected"; "reconnecting" (a connector whose connection was lost, dialing
 * again); "ended" (the other side closed: read what it sent, then ECLOSED);
 * "dead" (it died or hung past the heartbeat timeout and will not come back:
 * EPEERDEAD); "closed" (this side closed).
 */
export type PeerState = "connected" | "reconnecting" | "ended" | "dead" | "closed";

export interface PeerInit {
  heartbeat: Required<HeartbeatOptions>;
  /** Largest message on transport "zmq". */
  maxMessageSize: number;
  local: Identity;
  connection: Connection;
  /** connect() with reconnect: how to dial again. */
  redial?: Redial;
  /** Called when a dial again succeeded. */
  onConnected?: () => void;
}

/**
 * How long close() waits for ZeroMQ to take its BYE, which queues behind
 * every message sent before: what was sent is delivered first (a dead peer
 * fails at once; a peer that stopped reading is given up after this).
 */
export const CLOSE_DRAIN_MS = 10_000;

/** Messages a "zmq" peer's trySend() queues ahead of ZeroMQ before it says "no room". */
export const ZEROMQ_BACKLOG = 1024;

/**
 * A local peer's process exited (pidfd): how long its last messages (a BYE)
 * get to arrive before the exit counts as a loss. Its socket's bytes are
 * all in this side's buffers by then; ZeroMQ's I/O thread and this event
 * loop deliver them within this on a loaded machine.
 */
const EXIT_GRACE_MS = 25;

/** Pause between failed dials of a reconnecting peer: doubling from the first to the last. */
const REDIAL_BACKOFF_MS = [10, 1000] as const;

export interface PeerStats {
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Connections lost and made again (a connector's). */
  reconnects: number;
  /** request()s written to the other side (each also counts in messagesSent). */
  requestsSent: number;
  /** Replies (and error replies) that settled a request() of this side. */
  repliesReceived: number;
  /** Requests of the other side received (each also counts in messagesReceived). */
  requestsReceived: number;
  /** Replies (and fail()s) written to the other side. */
  repliesSent: number;
  /** Replies dropped: their id was not pending here (timed out, aborted, answered already, or never asked). */
  repliesDropped: number;
}

/** What requests() iterates. */
export type { PeerRequest };

/** request()'s options: as send()'s; the timeout and the signal cover the whole round trip. */
export type RequestOptions = WaitOptions;

/** A serve() handler: the reply's bytes (or a promise of them); a throw answers with fail(its message). */
export type RequestHandler = (req: PeerRequest) => Bytes | Promise<Bytes>;

export interface ServeOptions extends WaitOptions {
  /** Requests handled at once (default 256): a handler's promise holds one of them until it settles. */
  concurrency?: number;
}

/** Releases, once collected, the loans handed out as themselves (replies, requests, plain messages in routed mode) that nobody released (docs/PROTOCOL.md §7.4). */
const loanFinalizer = new FinalizationRegistry<() => void>((release) => release());

/** As a channel reader's messages(): copies by default; `copy: false` for views valid until the next step. */
export type PeerMessagesOptions = MessagesOptions;

const RESOLVED = Promise.resolve();

/** A wait's validated options (checkWaitOptions); NO_WAIT for none, without an object per call on the fast path. */
type Wait = ReturnType<typeof checkWaitOptions>;
const NO_WAIT: Wait = Object.freeze({ signal: undefined, deadline: Infinity, timeout: Infinity });

export class Peer extends EventEmitter {
  #conn: Connection;
  #state: PeerState = "connected";
  /** Why the state is what it is (the last loss, the end). */
  #why = "";
  readonly #redial: Redial | null;
  readonly #onConnected: (() => void) | null;
  readonly #heartbeat: Required<HeartbeatOptions>;
  readonly #local: Identity;
  /** The other side's process, watched (pidfd) when it runs on this host: its death is known at once on any transport. */
  #watch: PeerWatchHandle | null = null;
  readonly #maxZmq: number;
  /** Aborted when the current connection is lost: ends waits inside its rings. */
  #lost = new AbortController();
  /** Aborted by close(): ends a redial. */
  readonly #closing = new AbortController();
  /** The current ring said ECLOSED; whether the listener closes this conversation or only itself (BYE says) is not known yet. */
  #verdictPending = false;
  /** Readers of lost connections, read to their end before the current one (kept messages hold them open). */
  readonly #old: ChannelReader[] = [];
  /** The reader that gave the last message (keep(), release()), or null for a ZeroMQ message. */
  #lastFrom: ChannelReader | null = null;
  /** transport "zmq": received messages not yet taken (of this connection or lost ones), and receivers waiting */
  readonly #inbox: Uint8Array[] = [];
  readonly #waiting = new Set<() => void>();
  #lastHeard = performance.now();
  #lastSent = performance.now();
  #beat: NodeJS.Timeout | null = null;
  // Flow control on "zmq" (docs/PROTOCOL.md §4.5), per connection: bytes
  // sent and not yet credited back, bytes read by the user and not yet
  // credited to the other side, bytes received and not yet credited.
  #outstanding = 0;
  #uncredited = 0;
  #unread = 0;
  #creditTimer: NodeJS.Timeout | null = null;
  /** The first messages of the inbox that came over a lost connection: nobody to credit them to. */
  #stale = 0;
  /** Counts of ZeroMQ messages and of the rings of lost connections. */
  readonly #counted: PeerStats = {
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    reconnects: 0,
    requestsSent: 0,
    repliesReceived: 0,
    requestsReceived: 0,
    repliesSent: 0,
    repliesDropped: 0,
  };

  // ---- request/reply (docs/PROTOCOL.md §7) ----
  /** This side's requests waiting for their replies. */
  readonly #pending = new PendingRequests();
  /**
   * Set by the first request(), requests() or serve(): from then on the
   * Peer may read its rings on its own (the pump), so plain messages it
   * hands out are copies (a loan: itself, until release()), never views a
   * later read could reuse.
   */
  #routed = false;
  /** Plain messages the pump read ahead of the user, in order: copies, or loans (released through #loanOf). */
  readonly #plain: Uint8Array[] = [];
  /** The other side's requests, not yet taken by requests(); `credit`: bytes to credit when taken (zmq). */
  readonly #requestQ: { req: PeerRequest; conn: Connection; credit: number }[] = [];
  #requestWaiters = 0;
  #recvWaiters = 0;
  /** A recv() waits inside the current ring's reader (the pump must not wait there meanwhile). */
  #rxBusy = false;
  #pumping = false;
  /** What ended the pump for good (the rings' end: ECLOSED, EPEERDEAD; ECORRUPT): requests() throws it. */
  #pumpError: Error | null = null;
  /** The release of each loan handed out as itself (a reply, a plain message in routed mode). */
  readonly #loanOf = new WeakMap<Uint8Array, () => void>();
  /** The loan handed out by the last receive (routed mode), for release() and keep(). */
  #lastLoan: Uint8Array | null = null;
  /**
   * A ring view recv() handed out before the Peer went routed: kept (the
   * pump reads past it) until the user's next receive, release() or keep(),
   * as the receive rule says.
   */
  #heldView: KeptMessage | null = null;

  /** The first request()/requests(): from here the Peer may read its rings itself (see #routed). */
  #enterRouted(): void {
    if (this.#routed) return;
    this.#routed = true;
    const r = this.#lastFrom;
    this.#lastFrom = null;
    if (r === null || r.closed) return;
    try {
      this.#heldView = r.keep();
    } catch {
      // nothing handed out and unreleased (or maxKept reached: that view is the user's risk, as past keep()'s limit)
    }
  }

  /** The view held by #enterRouted, given back: the user received again or released it. */
  #dropHeldView(): void {
    const k = this.#heldView;
    this.#heldView = null;
    k?.release();
  }

  /** @internal made by listen()/connect() */
  constructor(init: PeerInit) {
    super();
    this.#heartbeat = init.heartbeat;
    this.#local = init.local;
    this.#maxZmq = init.maxMessageSize;
    this.#redial = init.redial ?? null;
    this.#onConnected = init.onConnected ?? null;
    this.#conn = init.connection;
    this.#install(init.connection);
  }

  #install(c: Connection): void {
    if (c.transport === "shm" && (c.tx === null || c.rx === null)) throw new Error("internal: shm peer without channels");
    this.#conn = c;
    if (c.tx !== null) labelRing(c.tx, c.label);
    // Its exit is a loss only if no BYE came: the BYE it sent before exiting is read first (EXIT_GRACE_MS).
    // A connection lost to silence (a hung process) keeps the watch: when that process dies at last, what it
    // left in /dev/shm goes (a sweep), which nobody else would do.
    const w = watchProcess(c.remote, this.#local, () => {
      if (c === this.#conn && this.#state === "connected") {
        setTimeout(() => this.#lose(c, `${c.remote.name}'s process (pid ${c.remote.pid}) exited`), EXIT_GRACE_MS).unref();
        return;
      }
      this.#graves.delete(w!);
      w!.close();
      sweepAfterDeath();
    });
    this.#watch = w;
    this.#outstanding = this.#uncredited = this.#unread = 0;
    this.#lost = new AbortController();
    // Each send waiting in the ring's queue listens to it (many requests and replies at once): not a leak.
    setMaxListeners(0, this.#lost.signal);
    this.#verdictPending = false;
    this.#lastHeard = this.#lastSent = performance.now();
    const h = this.#heartbeat;
    this.#beat = setInterval(() => this.#tick(c), Math.max(10, Math.min(h.intervalMs, h.timeoutMs) / 2));
    this.#beat.unref();
    c.link.start?.(this);
  }

  /** The heartbeat's tick: the other side's silence or death, and this side's HEARTBEAT when due. */
  #tick(c: Connection): void {
    if (c !== this.#conn || this.#state !== "connected") return;
    const now = performance.now();
    if (now - this.#lastHeard > this.#heartbeat.timeoutMs) {
      this.#lose(c, `${c.remote.name} sent nothing, not even a heartbeat, for ${Math.round(now - this.#lastHeard)} ms (heartbeat timeout ${this.#heartbeat.timeoutMs} ms): dead, hung or unreachable`);
      return;
    }
    if (c.rx !== null && !c.rx.closed && c.rx.writerState === "dead") {
      this.#lose(c, `${c.remote.name}'s process died`);
      return;
    }
    if (now - this.#lastSent >= this.#heartbeat.intervalMs) {
      this.#lastSent = now;
      void c.link.outbox.send(encodeControl({ type: MsgType.Heartbeat })).catch(() => {});
    }
  }

  #stopHeartbeat(): void {
    if (this.#beat !== null) clearInterval(this.#beat);
    this.#beat = null;
  }

  /** The current connection's process watch: closed, or kept (`keep`: its process still runs) until that process exits. */
  #dropWatch(keep: boolean): void {
    const w = this.#watch;
    this.#watch = null;
    if (w === null) return;
    if (keep && w.state() === "watching") this.#graves.add(w);
    else w.close();
  }

  /** Watches of processes whose connection was lost to silence: closed when they exit, or when this peer closes. */
  readonly #graves = new Set<PeerWatchHandle>();

  // ---- what the connection reports (@internal: from listen()/connect()) ----

  /** @internal anything came from the other side over `c` (it lives) */
  heard(c: Connection): void {
    if (c === this.#conn) this.#lastHeard = performance.now();
  }

  /** @internal a DATA message over `c` (transport "zmq"), with the credit it carries */
  deliver(c: Connection, data: Uint8Array, credit: number): void {
    if (c !== this.#conn || this.#state !== "connected") return;
    if (!this.#received(c, data, credit)) return;
    this.#inbox.push(data);
    this.#wake();
  }

  /** A DATA or ENVELOPE message's credit and size, counted; false if it broke the flow-control window (the connection is lost). */
  #received(c: Connection, data: Uint8Array, credit: number): boolean {
    this.credit(c, credit);
    // More than the window unread (beyond one message when all was read): the other side ignores flow control.
    if (this.#unread > 0 && this.#unread + data.byteLength > CREDIT_WINDOW) {
      this.#lose(c, `${c.remote.name} sent more than the flow-control window (${CREDIT_WINDOW} bytes) ahead of this side's reading`);
      return false;
    }
    this.#unread += data.byteLength;
    this.#counted.messagesReceived++;
    this.#counted.bytesReceived += data.byteLength;
    return true;
  }

  /** @internal an ENVELOPE message over `c` (transport "zmq"): a request for requests(), or a reply that settles a request() */
  deliverEnvelope(c: Connection, m: EnvelopeMsg): void {
    if (c !== this.#conn || this.#state !== "connected") return;
    if (!this.#received(c, m.data, m.credit)) return;
    if (m.kind === ENVELOPE_REQUEST) {
      this.#queueRequest(c, m.id, m.data, null, m.data.byteLength); // credited when requests() takes it
      return;
    }
    this.#consumed(m.data);
    this.#settleReply(m.kind, m.id, m.data);
  }

  /** @internal the other side read `bytes` more of this side's DATA (CREDIT, or piggybacked on DATA) */
  credit(c: Connection, bytes: number): void {
    if (c !== this.#conn || bytes === 0) return;
    this.#outstanding = Math.max(0, this.#outstanding - bytes);
    this.#wake();
  }

  /**
   * The user took `m` from the inbox: credit it back, at once when a
   * quarter of the window is owed, else soon (1 ms) unless a DATA message
   * takes it along first (a request's reply carries its credit for free).
   */
  #consumed(m: Uint8Array): void {
    this.#unread -= m.byteLength;
    this.#uncredited += m.byteLength;
    if (this.#uncredited >= CREDIT_WINDOW / 4) this.#sendCredit();
    else if (this.#creditTimer === null) {
      this.#creditTimer = setTimeout(() => this.#sendCredit(), 1);
      this.#creditTimer.unref();
    }
  }

  /** The credit owed, to go with a DATA message (or alone). */
  #takeCredit(): number {
    const b = this.#uncredited;
    this.#uncredited = 0;
    if (this.#creditTimer !== null) clearTimeout(this.#creditTimer);
    this.#creditTimer = null;
    return b;
  }

  #sendCredit(): void {
    const bytes = this.#takeCredit();
    const c = this.#conn;
    if (bytes === 0 || this.#state !== "connected" || c.tx !== null) return;
    void c.link.outbox.send(encodeControl({ type: MsgType.Credit, bytes })).catch(() => {});
  }

  /** Whether a DATA message of `size` bytes may go now (transport "zmq"): within the window, or alone. */
  #mayGo(size: number): boolean {
    return this.#outstanding === 0 || this.#outstanding + size <= CREDIT_WINDOW;
  }

  /** @internal BYE over `c`: `reconnect` when the listener closes itself, not this conversation */
  bye(c: Connection, reconnect: boolean): void {
    if (reconnect && this.#redial !== null) this.#lose(c, `${c.remote.name} closed its listener`);
    else this.remoteEnd(c);
  }

  /** @internal the other side ended this conversation (BYE, REFUSE) */
  remoteEnd(c: Connection): void {
    if (c !== this.#conn || this.#state !== "connected") return;
    this.#stopHeartbeat();
    this.#dropWatch(false);
    this.#verdictPending = false;
    this.#setState("ended", `${c.remote.name} closed the connection`);
  }

  #lose(c: Connection, why: string): void {
    if (c !== this.#conn || this.#state !== "connected") return;
    this.#stopHeartbeat();
    this.#verdictPending = false;
    this.#lost.abort(shmError("EPEERDEAD", why));
    this.#retire(c);
    if (this.#redial === null) {
      this.#setState("dead", why);
      return;
    }
    this.#setState("reconnecting", why);
    void this.#reconnect();
  }

  /**
   * The end of a connection: its socket closes (or the server forgets it),
   * its own ring closes, the other side's ring is read to its end first and
   * removed from /dev/shm if its writer died.
   */
  #retire(c: Connection): void {
    this.#dropWatch(true);
    this.#stale = this.#inbox.length;
    if (this.#creditTimer !== null) clearTimeout(this.#creditTimer);
    this.#creditTimer = null;
    if (c.tx !== null) {
      this.#counted.messagesSent += c.tx.stats.messages;
      this.#counted.bytesSent += c.tx.stats.bytes;
      c.tx.close();
    }
    if (c.rx !== null && !c.rx.closed) {
      if (c.rx.writerState === "dead") sweepAfterDeath();
      this.#old.push(c.rx);
    }
    c.link.detach(false);
  }

  async #reconnect(): Promise<void> {
    let pause: number = REDIAL_BACKOFF_MS[0];
    while (this.#state === "reconnecting") {
      try {
        const c = await this.#redial!(this.#closing.signal);
        if (this.#state !== "reconnecting") {
          c.tx?.close();
          c.rx?.close();
          c.link.detach(false);
          return;
        }
        this.#counted.reconnects++;
        this.#onConnected?.();
        this.#install(c);
        this.#setState("connected", "");
        return;
      } catch (e) {
        if (this.#closing.signal.aborted) return;
        this.#why = `reconnecting: ${(e as Error).message}`;
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(REDIAL_BACKOFF_MS[1], pause * 2);
      }
    }
  }

  #setState(s: PeerState, why: string): void {
    this.#state = s;
    this.#why = why;
    if (s !== "connected" && (this.#routed || this.#pending.size > 0)) this.#settleRequests(s, why);
    this.#wake();
    if (s === "connected") this.#ensurePump(); // a new connection's ring: replies, requests
    this.emit("state", s, why);
  }

  #wake(): void {
    if (this.#envQ.length > 0) this.#flushEnv();
    if (this.#waiting.size === 0) return;
    for (const w of [...this.#waiting]) w();
  }

  // ---- what the user sees ----

  /** The other side's name (its listen/connect option). */
  get remoteName(): string {
    return this.#conn.remote.name;
  }

  /** The other side's process id (on its host). */
  get remotePid(): number {
    return this.#conn.remote.pid;
  }

  /** Who the other side said it is in the handshake (name, pid, uid, start time, host): the hub's roster checks it. */
  get remoteIdentity(): Readonly<Identity> {
    return this.#conn.remote;
  }

  /** "shm" when both sides proved they map each other's rings; "zmq" otherwise (of the current connection). */
  get transport(): Transport {
    return this.#conn.transport;
  }

  /** Why transport is "zmq" ("" for "shm"). */
  get reason(): string {
    return this.#conn.reason;
  }

  /** See PeerState; a "state" event (state, why) tells each change, and states() iterates them. */
  get state(): PeerState {
    return this.#state;
  }

  /** Why the state is what it is: the last loss or end ("" while connected and never lost). */
  get stateReason(): string {
    return this.#why;
  }

  get closed(): boolean {
    return this.#state === "closed";
  }

  /** Whether the other side ended the connection (or died, for good). */
  get remoteEnded(): boolean {
    return this.#state === "ended" || this.#state === "dead";
  }

  /** The current state, then each change, until "closed" (included). */
  async *states(options?: WaitOptions): AsyncIterableIterator<PeerState> {
    const { signal } = checkWaitOptions(options);
    const seen: PeerState[] = [this.#state];
    let wake: (() => void) | null = null;
    const on = (s: PeerState): void => {
      seen.push(s);
      wake?.();
    };
    const onAbort = (): void => wake?.();
    this.on("state", on);
    signal?.addEventListener("abort", onAbort);
    try {
      for (;;) {
        while (seen.length > 0) {
          const s = seen.shift()!;
          yield s;
          if (s === "closed") return;
        }
        if (signal?.aborted) throw abortError(signal);
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    } finally {
      this.off("state", on);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  get stats(): Readonly<PeerStats> {
    const s = { ...this.#counted, repliesDropped: this.#counted.repliesDropped + this.#pending.dropped };
    const { tx, rx } = this.#conn;
    if (tx !== null && !tx.closed) {
      s.messagesSent += tx.stats.messages;
      s.bytesSent += tx.stats.bytes;
    }
    const readers = new Set([...this.#old, ...this.#keptOld]);
    if (rx !== null && !rx.closed) readers.add(rx);
    for (const r of readers) {
      s.messagesReceived += r.stats.messages;
      s.bytesReceived += r.stats.bytes;
    }
    return s;
  }

  /** The writer of the channel to the other side (transport "shm"), for what Peer does not wrap. */
  get writer(): ChannelWriter | null {
    return this.#conn.tx;
  }

  /** The reader of the other side's channel (transport "shm"). */
  get reader(): ChannelReader | null {
    return this.#conn.rx;
  }

  // ---- sending ----

  /**
   * Sends without waiting; false if there is no room now: the ring is full
   * (shm), ZEROMQ_BACKLOG messages wait for ZeroMQ already (zmq), or the
   * connection is being made again. ECLOSED once the other side closed,
   * EPEERDEAD once it died for good.
   */
  trySend(bytes: Uint8Array | ArrayBufferView | ArrayBuffer): boolean {
    const c = this.#conn;
    if (this.#state === "connected" && !this.#verdictPending && this.#turns.length === 0) {
      if (c.tx !== null) {
        try {
          return c.tx.trySend(bytes);
        } catch (e) {
          return this.#sendFailed(c, e);
        }
      }
      const b = asBytes(bytes);
      if (c.link.outbox.pending >= ZEROMQ_BACKLOG || !this.#mayGo(b.byteLength)) return false;
      c.link.outbox.post(this.#frameZmq(b)); // its failure shows as the connection's end
      return true;
    }
    if (this.#state === "reconnecting" || this.#state === "connected") return false;
    throw this.#endError();
  }

  /** Sends, waiting for room (shm), for ZeroMQ to take it (zmq) or for the connection to be made again; loans go without a copy on shm. */
  send(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, options?: WaitOptions): Promise<void> {
    try {
      const wait = options === undefined ? NO_WAIT : checkWaitOptions(options);
      const c = this.#conn;
      if (this.#state === "connected" && !this.#verdictPending && c.tx === null && this.#turns.length === 0) {
        if (wait.signal?.aborted) throw abortError(wait.signal);
        const b = asBytes(bytes);
        if (this.#mayGo(b.byteLength)) return this.#sendZmq(c, b);
      } else if (this.trySend(bytes)) return RESOLVED;
      // It waits: a copy of its own (the caller may reuse its buffer at once), unless it is a loan of this ring.
      const own = c.tx !== null && c.tx.isLoan(bytes) ? bytes : new Uint8Array(asBytes(bytes));
      return this.#sendSlow(own, wait);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Sends waiting for their turn, in call order (a ticket each): only the
   * first tries, so a later send never overtakes an earlier one, not in the
   * ring's own queue, not for ZeroMQ credit, not across a reconnect (the
   * first is tried again first on the new connection); trySend() says "no
   * room" while any waits.
   */
  readonly #turns: number[] = [];
  #nextTurn = 0;

  async #sendSlow(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, { signal, deadline, timeout }: Wait): Promise<void> {
    const turn = this.#nextTurn++;
    this.#turns.push(turn);
    try {
      for (;;) {
        if (signal?.aborted) throw abortError(signal);
        const c = this.#conn;
        if (this.#turns[0] === turn && this.#state === "connected" && !this.#verdictPending) {
          if (c.tx === null) {
            const b = asBytes(bytes);
            if (this.#mayGo(b.byteLength) && c.link.outbox.pending < ZEROMQ_BACKLOG) {
              try {
                return await this.#sendZmq(c, b);
              } catch (e) {
                // ZeroMQ never took it: the connection was lost first. It goes, first, on the next one.
                if (c !== this.#conn || (this.#state as PeerState) === "reconnecting") continue;
                throw e;
              }
            }
          } else {
            const tx = c.tx;
            if (await this.#ringSend(c, signal, deadline, (o) => tx.send(bytes, o))) return;
            continue;
          }
        } else if (this.#state !== "reconnecting" && this.#state !== "connected") {
          throw this.#endError();
        }
        if (performance.now() >= deadline) throw timedOut("send", timeout);
        await this.#change(signal, deadline); // its turn, credit, the connection, or its end
      }
    } finally {
      this.#turns.splice(this.#turns.indexOf(turn), 1);
      this.#wake(); // the next in line
    }
  }

  /**
   * A send into connection `c`'s ring that may wait for room (its wait ends
   * with the connection's loss too): true once written; false when the
   * connection was lost or its end is in question (wait for the verdict or
   * the next connection); throws anything else.
   */
  async #ringSend(c: Connection, signal: AbortSignal | undefined, deadline: number, send: (o: WaitOptions) => Promise<void>): Promise<boolean> {
    const lost = this.#lost.signal;
    try {
      await send(waitOptions(signal, lost, deadline));
      return true;
    } catch (e) {
      if (signal?.aborted || (e as { code?: string }).code === "ETIMEDOUT") throw e;
      if (!lost.aborted) this.#sendFailed(c, e); // throws, or false: wait for the verdict or the next connection
      return false;
    }
  }

  /**
   * A ring send failed: the other side's death is the connection's loss
   * (false: wait for the next one, if any); its close is the end (or, for a
   * connector, a question BYE answers: false, wait). Anything else throws.
   */
  #sendFailed(c: Connection, e: unknown): boolean {
    const code = (e as { code?: string }).code;
    if (code === "EPEERDEAD") {
      this.#lose(c, `${c.remote.name}'s process died`);
      if (this.#state === "reconnecting") return false;
      throw e;
    }
    if (code === "ECLOSED" && c === this.#conn && c.tx !== null && !c.tx.closed && c.tx.readerClosed) {
      if (this.#redial === null) {
        this.remoteEnd(c);
        throw this.#endError();
      }
      this.#verdictPending = true;
      return false;
    }
    throw e;
  }

  /** Blocking send for worker threads (transport "shm" only: ZeroMQ runs on the event loop); false after timeoutMs or while reconnecting. */
  sendSync(bytes: Uint8Array | ArrayBufferView | ArrayBuffer, timeoutMs = Infinity): boolean {
    const c = this.#checkShm("sendSync", "send");
    if (c === null) return false;
    if (this.#turns.length > 0) throw shmError("EBUSY", "send()s are waiting on this peer");
    try {
      return c.tx!.sendSync(bytes, timeoutMs);
    } catch (e) {
      return this.#sendFailed(c, e);
    }
  }

  /** Shared memory to fill in place and send (shm); ordinary memory, copied when sent (zmq). */
  loan(size: number, options?: WaitOptions): Promise<Uint8Array> {
    try {
      const l = this.tryLoan(size);
      if (l !== null) return Promise.resolve(l);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#loanSlow(size, options);
  }

  async #loanSlow(size: number, options: WaitOptions | undefined): Promise<Uint8Array> {
    const { signal, deadline, timeout } = checkWaitOptions(options);
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      const c = this.#conn;
      if (this.#state === "connected") {
        if (c.tx === null) return new Uint8Array(checkSize(size));
        const lost = this.#lost.signal;
        try {
          return await c.tx.loan(size, waitOptions(signal, lost, deadline));
        } catch (e) {
          if (signal?.aborted || (e as { code?: string }).code === "ETIMEDOUT" || !lost.aborted) throw e;
        }
      } else if (this.#state !== "reconnecting") {
        throw this.#endError();
      }
      if (performance.now() >= deadline) throw timedOut("loan", timeout);
      await this.#change(signal, deadline);
    }
  }

  /** A loan now, or null if the pool is full (shm) or the connection is being made again. */
  tryLoan(size: number): Uint8Array | null {
    const c = this.#conn;
    if (this.#state === "connected") return c.tx !== null ? c.tx.tryLoan(size) : new Uint8Array(checkSize(size));
    if (this.#state === "reconnecting") return null;
    throw this.#endError();
  }

  cancelLoan(loan: ArrayBufferView): void {
    const tx = this.#conn.tx;
    if (tx !== null && !tx.closed) tx.cancelLoan(loan);
  }

  /** Sends `b` as DATA now (#mayGo said yes); resolves once ZeroMQ took it. */
  #sendZmq(c: Connection, b: Uint8Array): Promise<void> {
    return c.link.outbox.send(this.#frameZmq(b));
  }

  /** The DATA frame of `b`, with the credit owed to the other side, counted as sent. */
  #frameZmq(b: Uint8Array, kind = 0, id = 0): Buffer[] {
    this.#checkZmqSize(b.byteLength, kind);
    this.#lastSent = performance.now();
    this.#counted.messagesSent++;
    this.#counted.bytesSent += b.byteLength;
    this.#outstanding += b.byteLength;
    return kind === 0 ? encodeData(b, this.#takeCredit()) : encodeEnvelope(kind, id, b, this.#takeCredit());
  }

  /** RangeError if `size` bytes do not fit a ZeroMQ frame: an envelope's kind and id take 8 bytes of the limit (docs/PROTOCOL.md §7.1). */
  #checkZmqSize(size: number, kind: number): void {
    const max = kind === 0 ? this.#maxZmq : this.#maxZmq - 8;
    if (size > max) {
      throw new RangeError(`a ${kind === 0 ? "message" : "request or reply"} of ${size} bytes is larger than ${kind === 0 ? "maxMessageSize" : "maxMessageSize - 8"} (${max}) on transport "zmq"`);
    }
  }

  // ---- receiving ----

  /**
   * The next message, or null if none is there now. ECLOSED once the other
   * side closed and all was read, EPEERDEAD once it died for good and all was
   * read. A lost connection's messages come before the next connection's.
   */
  tryRecv(): Uint8Array | null {
    if (this.#heldView !== null) this.#dropHeldView();
    if (this.#lastLoan !== null) this.release(this.#lastLoan); // the last receive's loan, not kept: released by this one
    if (this.#plain.length > 0) return this.#handOut(this.#plain.shift()!);
    if (this.#pumpError !== null) throw this.#pumpError;
    for (;;) {
      const m = this.#take();
      const r = this.#lastFrom;
      if (m === null || r === null) return m;
      if (r.envelope !== 0) {
        this.#route(r, m);
        continue;
      }
      return this.#routed ? this.#handOut(this.#own(r, m)) : m;
    }
  }

  /** The next message of any source in order (a request or reply among them), #lastFrom its reader. */
  #take(): Uint8Array | null {
    if (this.#old.length > 0) {
      const m = this.#drainOld();
      if (m !== null) return m;
    }
    if (this.#stale > 0) {
      // What a lost ZeroMQ connection delivered, before anything of the next (whatever its transport).
      this.#stale--;
      const m = this.#inbox.shift()!;
      this.#lastFrom = null;
      this.#lastZmq = m;
      return m;
    }
    const c = this.#conn;
    const st = this.#state;
    // "ended": the ring is read to its end (BYE follows its close); "dead", "reconnecting": it was retired to #old.
    if (c.rx !== null && (st === "connected" || st === "ended")) {
      let m = c.rx.tryRecv();
      // SYNC POINT (docs/PROTOCOL.md §2): writer_state "closed", then an empty ring: everything was read.
      if (m === null && c.rx.writerClosed) m = c.rx.tryRecv() ?? this.#ringEnded(c);
      if (m !== null) {
        this.#lastFrom = c.rx;
        return m;
      }
      if (st !== "connected") throw this.#endError();
      return null;
    }
    const m = this.#inbox.shift();
    if (m !== undefined) {
      this.#lastFrom = null;
      this.#lastZmq = m;
      if (st === "connected") this.#consumed(m);
      return m;
    }
    if (st !== "connected" && st !== "reconnecting") throw this.#endError();
    return null;
  }

  /** The oldest lost connection's next message; once one has nothing more, it is closed (unless messages of it are kept). */
  #drainOld(): Uint8Array | null {
    while (this.#old.length > 0) {
      const r = this.#old[0]!;
      try {
        const m = r.closed ? null : r.tryRecv();
        if (m !== null) {
          this.#lastFrom = r;
          return m;
        }
      } catch {
        // its end: ECLOSED, EPEERDEAD
      }
      this.#old.shift();
      if (this.#unheld(r)) this.#closeReader(r);
      else this.#keptOld.push(r);
    }
    for (let i = this.#keptOld.length - 1; i >= 0; i--) {
      const r = this.#keptOld[i]!;
      if (this.#unheld(r)) {
        this.#keptOld.splice(i, 1);
        this.#closeReader(r);
      }
    }
    return null;
  }

  /**
   * Loans taken out of each reader and handed out as themselves (replies,
   * requests' data, plain messages in routed mode), not yet released:
   * closing the reader would detach them under the user.
   */
  readonly #lent = new Map<ChannelReader, number>();

  /** The current message of `r` as a loan the Peer hands out (counted in #lent until released), or null. */
  #takeLoan(r: ChannelReader): { data: Uint8Array; release: () => void } | null {
    const loan = r.takeLoan();
    if (loan === null) return null;
    this.#lent.set(r, (this.#lent.get(r) ?? 0) + 1);
    let done = false;
    const give = loan.release; // not `loan`: it holds the view, which a FinalizationRegistry must be free to collect
    const release = (): void => {
      if (done) return;
      done = true;
      give();
      const n = (this.#lent.get(r) ?? 1) - 1;
      if (n > 0) this.#lent.set(r, n);
      else this.#lent.delete(r);
    };
    return { data: loan.data, release };
  }

  /** Whether nothing of drained reader `r` is held by the user any more (kept messages, loans handed out): it may close. */
  #unheld(r: ChannelReader): boolean {
    return r.stats.kept === 0 && !this.#lent.has(r);
  }

  /** Drained readers of lost connections whose messages the user still keeps: closed once none is. */
  readonly #keptOld: ChannelReader[] = [];

  #closeReader(r: ChannelReader): void {
    this.#counted.messagesReceived += r.stats.messages;
    this.#counted.bytesReceived += r.stats.bytes;
    r.close();
  }

  /**
   * The current ring's writer closed and all was read: the end of the
   * conversation, or (a connector's) a question BYE answers: the listener
   * may close only itself and be dialed again. Null: wait for the answer.
   */
  #ringEnded(c: Connection): null {
    if (this.#redial === null || this.#state !== "connected") {
      this.remoteEnd(c);
      throw this.#endError();
    }
    this.#verdictPending = true; // BYE, the socket's end or the heartbeat decides
    return null;
  }

  /** A ring receive failed: the writer's death is the connection's loss (null: wait for the next one); anything else throws. */
  #recvFailed(c: Connection, e: unknown): null {
    if ((e as { code?: string }).code !== "EPEERDEAD" || c !== this.#conn) throw e;
    this.#lose(c, `${c.remote.name}'s process died`);
    if (this.#state === "reconnecting") return null;
    throw this.#endError();
  }

  /** The next message; waits (timeout, AbortSignal, close, the other side's end). Same lifetime rules as a channel reader on shm. */
  recv(options?: WaitOptions): Promise<Uint8Array> {
    try {
      const wait = options === undefined ? NO_WAIT : checkWaitOptions(options);
      const m = this.tryRecv();
      if (m !== null) return Promise.resolve(m);
      return this.#recvSlow(wait);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** recv() once tryRecv() found nothing: it waits first, then looks again. */
  async #recvSlow({ signal, deadline, timeout }: Wait): Promise<Uint8Array> {
    for (let first = true; ; first = false) {
      if (!first) {
        const m = this.tryRecv();
        if (m !== null) return m;
      }
      if (signal?.aborted) throw abortError(signal);
      if (performance.now() >= deadline) throw timedOut("recv", timeout);
      const c = this.#conn;
      if (this.#routed && (c.rx !== null || this.#old.length > 0)) {
        // The pump reads the rings (and hands plain messages over through #plain).
        this.#recvWaiters++;
        this.#ensurePump();
        try {
          if (this.#plain.length === 0) await this.#change(signal, deadline);
        } finally {
          this.#recvWaiters--;
        }
        continue;
      }
      if (this.#state === "connected" && !this.#verdictPending && c.rx !== null) {
        // Not the connection's loss signal (an abort listener per sleep costs a
        // µs): a wait bounded by the heartbeat interval, then a look at the
        // connection; a hung writer's loss is seen within that interval.
        const bound = Math.min(deadline, performance.now() + this.#heartbeat.intervalMs);
        this.#rxBusy = true;
        try {
          const wait = Math.max(0, bound - performance.now());
          const m = await c.rx.recv(signal === undefined ? { timeout: wait } : { signal, timeout: wait });
          if (c.rx.envelope !== 0) {
            this.#route(c.rx, m);
            continue;
          }
          this.#lastFrom = c.rx;
          return this.#routed ? this.#handOut(this.#own(c.rx, m)) : m;
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (signal?.aborted) throw e;
          if (code === "ETIMEDOUT") {
            if (performance.now() >= deadline) throw timedOut("recv", timeout);
            continue; // the interval's bound: look again
          }
          if (c === this.#conn && code !== "ECLOSED") this.#recvFailed(c, e); // a death: lost (or thrown); others thrown
          continue; // lost, or the end of the ring: tryRecv() applies the rules
        } finally {
          this.#rxBusy = false;
          if (this.#routed) this.#wake(); // a pump waiting for the ring
        }
      }
      await this.#change(signal, deadline);
    }
  }

  /** Until something changes (a message on "zmq", a state, BYE), the abort or the deadline. */
  #change(signal: AbortSignal | undefined, deadline: number): Promise<void> {
    return untilChange(this.#waiting, signal, deadline);
  }


  /** Blocking receive for worker threads (transport "shm" only); null after timeoutMs or while reconnecting. */
  recvSync(timeoutMs: number): Uint8Array | null {
    checkSyncTimeout(timeoutMs);
    const old = this.#old.length > 0 ? this.#drainOld() : null;
    if (old !== null) return old;
    const c = this.#checkShm("recvSync", "recv");
    if (c === null) return null;
    if (this.#routed) throw shmError("EBUSY", "recvSync() on a peer that makes or serves requests: its rings are read on the event loop (recv() instead)");
    const deadline = performance.now() + timeoutMs;
    try {
      for (;;) {
        const m = c.rx!.recvSync(Math.max(0, deadline - performance.now()));
        if (m === null || c.rx!.envelope === 0) {
          if (m !== null) this.#lastFrom = c.rx;
          return m;
        }
        this.#route(c.rx!, m); // a request for requests(), or a late reply
      }
    } catch (e) {
      return this.#recvFailed(c, e);
    }
  }

  /**
   * Gives back the last received message (shm: its memory may be reused;
   * zmq: nothing to do). With `message`: gives back that loan, handed out
   * as itself (a request()'s reply on shm): it reads as empty afterwards;
   * anything else is left alone.
   */
  release(message?: Uint8Array): void {
    if (message !== undefined) {
      // A loan handed out as itself (a reply, a plain message in routed mode): back to its sender now.
      const release = this.#loanOf.get(message);
      if (release === undefined) return;
      this.#loanOf.delete(message);
      loanFinalizer.unregister(release);
      if (this.#lastLoan === message) this.#lastLoan = null;
      release();
      return;
    }
    if (this.#lastLoan !== null) {
      this.release(this.#lastLoan);
      return;
    }
    if (this.#heldView !== null) {
      this.#dropHeldView();
      return;
    }
    const r = this.#lastFrom;
    if (r !== null && !r.closed) r.release();
  }

  /** Keeps the last received message past the next receive, until the handle's release() (zmq: a handle on the buffer itself). */
  keep(): KeptMessage {
    const held = this.#heldView;
    if (held !== null) {
      this.#heldView = null;
      return held;
    }
    const r = this.#lastFrom;
    if (r !== null) return r.keep();
    const loan = this.#lastLoan;
    if (loan !== null) {
      this.#lastLoan = this.#lastZmq = null;
      return KeptMessage.of(loan, () => this.release(loan));
    }
    if (this.#lastZmq === null) throw invalidState("keep() needs a message received and not yet released or kept");
    const k = KeptMessage.of(this.#lastZmq, () => {});
    this.#lastZmq = null;
    return k;
  }

  #lastZmq: Uint8Array | null = null;

  /**
   * Messages until the other side closes, as a channel reader's messages():
   * copies by default (safe to pull ahead), `copy: false` for views valid
   * until the next step; signal ends it with an AbortError, timeout bounds
   * each wait (ETIMEDOUT); break ends a pending receive at once.
   */
  messages(options?: PeerMessagesOptions): AsyncIterableIterator<Uint8Array> {
    // A ring's message is copied by its reader (which releases it); a ZeroMQ one is a Buffer of its own already.
    return receiveIterator((o) => this.recv(o), (m) => this.#lastFrom?.iterationCopy(m) ?? this.#loanCopy(m), options);
  }

  /** A loan handed out as itself (routed mode), copied and given back at once: the next step would release it under the user. */
  #loanCopy(m: Uint8Array): Uint8Array {
    if (!this.#loanOf.has(m)) return m;
    const copy = Buffer.from(m);
    this.release(m);
    return copy;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.messages();
  }


  // ---- request/reply (docs/PROTOCOL.md §7) ----

  /**
   * Sends `bytes` (a loan of this peer's goes without a copy on "shm") as a
   * request and resolves with the other side's reply, which
   * `req.reply()` of its requests() sends; many may be in flight, each
   * matched to its reply by id. The reply stays valid: a copy of a ring
   * frame, a ZeroMQ message of its own, or (shm) the reply's loan itself,
   * no copy, held until `peer.release(reply)` or until it is garbage
   * collected. Rejects with ETIMEDOUT after `timeout` ms, an AbortError
   * when `signal` aborts (a reply that comes later is dropped, counted in
   * stats.repliesDropped), EREMOTE when the other side failed it
   * (`req.fail()`, a serve() handler that threw), EPEERDEAD at once when
   * the other side dies or the connection it went over is lost (a
   * connector's request made while it reconnects waits for the new
   * connection), ECLOSED when either side closes, RangeError above the
   * largest message. While replies are awaited, plain messages that arrive
   * are read out of the ring too (copied) and wait for recv(): read them,
   * or they accumulate.
   */
  request(bytes: Bytes, options?: RequestOptions): Promise<Uint8Array> {
    let wait: Wait;
    try {
      wait = options === undefined ? NO_WAIT : checkWaitOptions(options);
      if (wait.signal?.aborted) throw abortError(wait.signal);
      if (this.#state !== "connected" && this.#state !== "reconnecting") throw this.#endError();
      if (this.#pumpError !== null) throw this.#pumpError; // the rings are unreadable (ECORRUPT): no reply could come
      asBytes(bytes); // a TypeError for what is not bytes, before anything is sent
    } catch (e) {
      return Promise.reject(e);
    }
    this.#enterRouted();
    const { id, reply } = this.#pending.open(wait.timeout, wait.signal);
    const c = this.#conn;
    try {
      if (this.#state === "connected" && !this.#verdictPending && this.#trySendEnv(c, ENVELOPE_REQUEST, id, bytes)) {
        this.#pending.sentOn(id, c);
        this.#counted.requestsSent++;
      } else {
        const own = c.tx !== null && c.tx.isLoan(bytes) ? bytes : new Uint8Array(asBytes(bytes));
        this.#sendEnvSlow(ENVELOPE_REQUEST, id, own, wait, null).then(
          () => void this.#counted.requestsSent++,
          (e: unknown) => this.#pending.fail(id, e),
        );
      }
    } catch (e) {
      this.#pending.fail(id, e);
    }
    this.#ensurePump();
    return reply;
  }

  /**
   * The other side's requests, in the order they came, until it closes
   * (then the iteration ends; EPEERDEAD if it died): answer each with
   * `req.reply(bytes)` or `req.fail(message)`. `req.data` is a copy, or
   * (shm) the request's loan itself, valid until it is answered. Several
   * iterators may take from the same requests. Requests of a connection
   * that is lost before they are taken are dropped (the requester's
   * request() rejects with EPEERDEAD). `signal` ends the iteration (an
   * AbortError), `timeout` bounds each wait (ETIMEDOUT).
   */
  requests(options?: WaitOptions): AsyncIterableIterator<PeerRequest> {
    this.#enterRouted();
    return receiveIterator<PeerRequest>((o) => this.#nextRequest(o), (r) => r, options);
  }

  /**
   * requests() with `handler` answering each: what it returns (or
   * resolves) is the reply, what it throws fails the request (the
   * requester's EREMOTE carries its message); a handler that answers
   * itself (req.reply/fail) is left alone. At most `concurrency` (default
   * 256) answers pending at once. Resolves when the other side closes (or
   * `signal` aborts: an AbortError) without waiting for handlers still
   * running; rejects as requests() does.
   */
  async serve(handler: RequestHandler, options?: ServeOptions): Promise<void> {
    if (typeof handler !== "function") throw invalidArgType("handler", "a function", handler);
    const limit = options?.concurrency === undefined ? 256 : checkInteger("options.concurrency", options.concurrency, 1, 1 << 20);
    const running = new Set<Promise<void>>();
    for await (const req of this.requests(options)) {
      let out: Bytes | Promise<Bytes>;
      try {
        out = handler(req);
      } catch (e) {
        void failQuietly(req, e);
        continue;
      }
      const p: Promise<void> = Promise.resolve(out)
        .then(
          (bytes) => answerQuietly(req, bytes),
          (e: unknown) => failQuietly(req, e),
        )
        .finally(() => running.delete(p));
      running.add(p);
      // At the limit: room comes when a handler settles; the signal, this side's close or the other side's end end the wait
      // too (handlers that never settle must not hold serve() for ever): the iterator's next step says which.
      while (running.size >= limit && !options?.signal?.aborted && (this.#state === "connected" || this.#state === "reconnecting")) {
        await Promise.race([Promise.race(running), this.#change(options?.signal, Infinity)]);
      }
    }
    // Handlers still running may answer: their replies fail (nobody to take them) and are ignored.
  }

  async #nextRequest(options: WaitOptions): Promise<PeerRequest> {
    const { signal, deadline, timeout } = checkWaitOptions(options);
    this.#requestWaiters++;
    try {
      for (;;) {
        if (signal?.aborted) throw abortError(signal);
        const q = this.#requestQ.shift();
        if (q !== undefined) {
          if (q.credit > 0 && q.conn === this.#conn && this.#state === "connected") this.#consumed(q.req.data);
          return q.req;
        }
        const end = this.#requestsEnd();
        if (end !== null) throw end;
        this.#ensurePump();
        if (this.#requestQ.length > 0) continue;
        if (performance.now() >= deadline) throw timedOut("requests", timeout);
        await this.#change(signal, deadline);
      }
    } finally {
      this.#requestWaiters--;
    }
  }

  /** Why no request will come any more (the end of requests()), or null. */
  #requestsEnd(): Error | null {
    if (this.#state === "closed") return shmError("ECLOSED", "the peer connection is closed");
    if (this.#pumpError !== null) return this.#pumpError;
    if (this.#state === "connected" || this.#state === "reconnecting") return null;
    if (this.#old.length > 0 || (this.#state === "ended" && this.#conn.rx !== null)) return null; // the pump reads what is left
    return this.#endError();
  }

  /** A request of the other side over `c`, for requests(). */
  #queueRequest(c: Connection, id: number, data: Uint8Array, release: (() => void) | null, credit: number): void {
    this.#counted.requestsReceived++;
    // A loan in it comes with a release that also runs once its data is collected (#collectable).
    this.#requestQ.push({ req: new PeerRequest(id, data, this.#answerOn(c), release), conn: c, credit });
    this.#wake();
  }

  /** How a request that came over `c` is answered: over `c` only. */
  #answerOn(c: Connection): (kind: number, id: number, bytes: Bytes, options: WaitOptions | undefined) => Promise<void> {
    return (kind, id, bytes, options) => {
      const wait = options === undefined ? NO_WAIT : checkWaitOptions(options);
      const b = asBytes(bytes);
      // Refused now, before it may wait for credit: a later refusal would leave the request answered with nothing sent.
      if (c.tx === null) this.#checkZmqSize(b.byteLength, kind);
      if (c !== this.#conn || this.#state !== "connected") return Promise.reject(this.#lostError(c));
      if (!this.#verdictPending && this.#trySendEnv(c, kind, id, bytes)) {
        this.#counted.repliesSent++;
        return RESOLVED;
      }
      const own = c.tx !== null && c.tx.isLoan(bytes) ? bytes : new Uint8Array(asBytes(bytes));
      return this.#sendEnvSlow(kind, id, own, wait, c).then(() => void this.#counted.repliesSent++);
    };
  }

  /** The error of an answer whose connection `c` is over. */
  #lostError(c: Connection): Error {
    if (c === this.#conn && this.#state !== "connected") return this.#endError();
    return shmError("EPEERDEAD", `the connection this request came on was lost (${this.#why || "closed"})`);
  }

  /** An envelope now, if there is room (throws as trySend() does, and RangeError/TypeError for the bytes). */
  #trySendEnv(c: Connection, kind: number, id: number, bytes: Bytes): boolean {
    if (c.tx !== null) {
      try {
        return c.tx.trySendEnvelope(kind, id, bytes);
      } catch (e) {
        return this.#sendFailed(c, e);
      }
    }
    // Not bounded by ZEROMQ_BACKLOG (trySend()'s "no room"): the credit window bounds what waits for ZeroMQ.
    const b = asBytes(bytes);
    if (this.#envQ.length > 0 || !this.#mayGo(b.byteLength)) return false;
    c.link.outbox.post(this.#frameZmq(b, kind, id)); // its failure shows as the connection's end
    return true;
  }

  /** Envelopes waiting for ZeroMQ credit, in order: only the first is tried (#flushEnv, on every #wake), never all of them. */
  readonly #envQ: {
    c: Connection;
    kind: number;
    id: number;
    bytes: Uint8Array;
    wait: Wait;
    timer: LongTimer | null;
    resolve: () => void;
    reject: (e: unknown) => void;
  }[] = [];

  #queueEnv(c: Connection, kind: number, id: number, bytes: Uint8Array, wait: Wait): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const e = { c, kind, id, bytes, wait, timer: null as LongTimer | null, resolve, reject };
      if (Number.isFinite(wait.deadline)) {
        e.timer = setLongTimeout(() => {
          const i = this.#envQ.indexOf(e);
          if (i < 0) return;
          this.#envQ.splice(i, 1);
          reject(timedOut(kind === ENVELOPE_REQUEST ? "request" : "reply", wait.timeout));
          this.#flushEnv();
        }, Math.max(0, wait.deadline - performance.now()));
      }
      this.#envQ.push(e);
    });
  }

  /** Sends the envelopes waiting for credit while it lasts; fails those whose connection, signal or request is gone. */
  #flushEnv(): void {
    const q = this.#envQ;
    while (q.length > 0) {
      const e = q[0]!;
      const c = this.#conn;
      let error: unknown = null;
      if (e.kind === ENVELOPE_REQUEST && !this.#pending.has(e.id)) error = undefined; // timed out or aborted: never sent
      else if (e.wait.signal?.aborted) error = abortError(e.wait.signal);
      else if (c !== e.c || this.#state !== "connected") error = this.#lostError(e.c);
      else if (!this.#mayGo(e.bytes.byteLength)) return;
      q.shift();
      e.timer?.clear();
      if (error === null) {
        try {
          c.link.outbox.post(this.#frameZmq(e.bytes, e.kind, e.id));
          if (e.kind === ENVELOPE_REQUEST) this.#pending.sentOn(e.id, c);
        } catch (err) {
          error = err;
        }
      }
      if (error === null || error === undefined) e.resolve();
      else e.reject(error);
    }
  }

  /**
   * An envelope that waits: for room in the ring, for ZeroMQ credit, for
   * the connection to be made again (`only`: on that connection, or not at
   * all). A request is marked sent on the connection it goes to.
   */
  async #sendEnvSlow(kind: number, id: number, bytes: Bytes, { signal, deadline, timeout }: Wait, only: Connection | null): Promise<void> {
    const call = kind === ENVELOPE_REQUEST ? "request" : "reply";
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      if (kind === ENVELOPE_REQUEST && !this.#pending.has(id)) return; // timed out or aborted meanwhile: never sent
      const c = this.#conn;
      if (only !== null && (c !== only || this.#state !== "connected")) throw this.#lostError(only);
      if (this.#state === "connected" && !this.#verdictPending) {
        if (c.tx === null) {
          const b = asBytes(bytes);
          if (this.#envQ.length === 0 && this.#mayGo(b.byteLength)) {
            c.link.outbox.post(this.#frameZmq(b, kind, id));
            if (kind === ENVELOPE_REQUEST) this.#pending.sentOn(id, c);
            return;
          }
          return this.#queueEnv(c, kind, id, b, { signal, deadline, timeout });
        }
        if (kind === ENVELOPE_REQUEST) this.#pending.sentOn(id, c); // from here a loss of `c` fails it
        if (this.#trySendEnv(c, kind, id, bytes)) return;
        const tx = c.tx;
        if (tx !== null && c === this.#conn && this.#state === "connected") {
          if (await this.#ringSend(c, signal, deadline, (o) => tx.sendEnvelope(kind, id, bytes, o))) return;
          continue;
        }
      } else if (this.#state !== "reconnecting" && this.#state !== "connected") {
        throw this.#endError();
      }
      if (performance.now() >= deadline) throw timedOut(call, timeout);
      await this.#change(signal, deadline); // credit, the connection, or its end
    }
  }

  /** An envelope the current message of ring reader `r` came in: a request for requests(), a reply for its request(). */
  #route(r: ChannelReader, m: Uint8Array): void {
    const kind = r.envelope;
    const id = r.envelopeId;
    if (kind === ENVELOPE_REQUEST) {
      const c = this.#conn;
      // A lost connection's request: nobody to answer it (its loan goes back with the next read).
      if (this.#state !== "connected" || r !== c.rx) return;
      const loan = this.#takeLoan(r);
      this.#queueRequest(c, id, loan !== null ? loan.data : Buffer.from(m), loan !== null ? this.#collectable(loan) : null, 0);
      return;
    }
    if (!this.#pending.has(id)) {
      this.#pending.dropped++; // late, duplicate or unknown: nobody's (a loan goes back with the next read)
      return;
    }
    if (kind === ENVELOPE_ERROR) {
      this.#settleReply(kind, id, m); // decoded at once
      return;
    }
    const loan = this.#takeLoan(r);
    this.#settleReply(kind, id, loan !== null ? this.#adopt(loan) : Buffer.from(m));
  }

  /** A reply (or error) for request `id`: settles it, or is dropped and counted. */
  #settleReply(kind: number, id: number, data: Uint8Array): void {
    if (kind === ENVELOPE_ERROR) {
      const text = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 1024)).toString("utf8");
      if (this.#pending.fail(id, shmError("EREMOTE", `${this.remoteName} failed the request: ${text}`))) this.#counted.repliesReceived++;
      else this.#pending.dropped++;
      return;
    }
    if (this.#pending.resolve(id, data)) this.#counted.repliesReceived++;
  }

  /**
   * A request's loan: released when the request is answered, or once its
   * data is collected (a request dropped unanswered would hold the
   * sender's pool memory for as long as the connection lasts).
   */
  #collectable(loan: { data: Uint8Array; release: () => void }): () => void {
    const release = loan.release;
    loanFinalizer.register(loan.data, release, release);
    return () => {
      loanFinalizer.unregister(release);
      release();
    };
  }

  /** A received loan handed out as itself: released by release(view), or once it is collected. */
  #adopt(loan: { data: Uint8Array; release: () => void }): Uint8Array {
    this.#loanOf.set(loan.data, loan.release);
    loanFinalizer.register(loan.data, loan.release, loan.release);
    return loan.data;
  }

  /** A plain message of ring reader `r` that must outlive the next read (routed mode): a copy, or the loan itself. */
  #own(r: ChannelReader, m: Uint8Array): Uint8Array {
    const loan = this.#takeLoan(r);
    return loan !== null ? this.#adopt(loan) : Buffer.from(m);
  }

  /** A message handed to the user that is not a ring's current one (a copy, a loan held by the Peer, a ZeroMQ message). */
  #handOut(m: Uint8Array): Uint8Array {
    this.#lastFrom = null;
    this.#lastZmq = m;
    this.#lastLoan = this.#loanOf.has(m) ? m : null;
    return m;
  }

  /** Whether the rings must be read by the Peer itself: replies are awaited, requests or plain messages asked for. */
  #needPump(): boolean {
    if (!this.#routed || this.#pumpError !== null || this.#state === "closed") return false;
    if (this.#pending.size === 0 && this.#requestWaiters === 0 && this.#recvWaiters === 0) return false;
    return this.#old.length > 0 || (this.#conn.rx !== null && (this.#state === "connected" || this.#state === "ended"));
  }

  #ensurePump(): void {
    if (!this.#pumping && this.#needPump()) void this.#pump();
  }

  /**
   * Reads the rings while #needPump(): envelopes are routed, plain
   * messages kept in #plain for recv(), in order. One reader of the ring at
   * a time: while a recv() waits inside it (it routes what it meets), the
   * pump waits for that recv() to finish.
   */
  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#needPump()) {
        if (!this.#rxBusy) {
          try {
            this.#pumpSync();
          } catch (e) {
            this.#pumpError = e as Error;
            this.#pending.failAll(e);
            this.#wake();
            return;
          }
          if (!this.#needPump()) return;
        }
        const c = this.#conn;
        const bound = this.#heartbeat.intervalMs;
        if (!this.#rxBusy && this.#state === "connected" && !this.#verdictPending && c.rx !== null && this.#old.length === 0) {
          try {
            await c.rx.readable({ timeout: bound });
          } catch (e) {
            // ETIMEDOUT: look again; ECLOSED: the ring's end, which #take's rules apply to; a death: the connection's loss.
            if ((e as { code?: string }).code === "EPEERDEAD" && c === this.#conn) {
              try {
                this.#recvFailed(c, e);
              } catch {
                // dead for good: #setState failed what was pending
              }
            }
          }
        } else await this.#change(undefined, performance.now() + bound);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** What the rings hold now, routed (a request, a reply) or kept for recv() (a plain message). */
  #pumpSync(): void {
    // What the pump reads is never the user's last message (keep(), release() refer to that): restored after each read.
    const userZmq = this.#lastZmq;
    for (;;) {
      let m: Uint8Array | null;
      // On ZeroMQ envelopes come through deliverEnvelope: only lost connections' rings are read (not the inbox: its credit is the user's).
      if (this.#conn.rx === null) m = this.#old.length > 0 ? this.#drainOld() : null;
      else m = this.#take();
      const r = this.#lastFrom;
      this.#lastFrom = null;
      this.#lastZmq = userZmq;
      if (m === null) return;
      if (r !== null && r.envelope !== 0) {
        this.#route(r, m);
        continue;
      }
      this.#plain.push(r === null ? m : this.#own(r, m));
      this.#wake();
    }
  }

  /**
   * The state left "connected": requests of the other side can no longer
   * be answered (dropped); what the lost connection's rings still hold is
   * read (replies settle their requests), then this side's requests sent
   * over it fail: EPEERDEAD (a loss, a death), ECLOSED (an end, a close).
   * An ended "shm" connection's ring is read to its end by the pump first.
   */
  #settleRequests(s: PeerState, why: string): void {
    if (s !== "ended") for (const q of this.#requestQ.splice(0)) q.req.drop();
    if (s === "closed") {
      this.#plain.length = 0;
      this.#pending.failAll(shmError("ECLOSED", "the peer connection is closed"));
      return;
    }
    if (s === "ended" && this.#conn.rx !== null) return;
    try {
      this.#pumpSync();
    } catch {
      // the end of what was left
    }
    this.#pending.failAll(s === "reconnecting" ? shmError("EPEERDEAD", why) : this.#endError(), s === "reconnecting");
  }

  #endError(): Error {
    if (this.#state === "closed") return shmError("ECLOSED", "the peer connection is closed");
    if (this.#state === "dead") return shmError("EPEERDEAD", this.#why);
    return shmError("ECLOSED", this.#why || `${this.remoteName} closed the connection`);
  }

  /** The current connection for a blocking call (transport "shm"), null while reconnecting; throws otherwise. */
  #checkShm(call: string, instead: string): Connection | null {
    const c = this.#conn;
    if (this.#state === "reconnecting") return null;
    if (this.#state !== "connected") throw this.#endError();
    if (c.tx === null) throw shmError("ENOTSUP", `${call}() needs transport "shm"; this peer uses ZeroMQ (${instead}() instead)`);
    return c;
  }

  /**
   * Ends this side: the other side reads what was sent, then sees the end
   * (ECLOSED, the end of iteration). Idempotent.
   */
  close(): Promise<void> {
    return this.closeWith(false, CLOSE_DRAIN_MS);
  }

  /** @internal close(); `reconnect`: the listener closes itself (BYE says so: a connector dials again) */
  async closeWith(reconnect: boolean, drainMs: number): Promise<void> {
    if (this.#state === "closed") return;
    const c = this.#conn;
    const wasConnected = this.#state === "connected" || this.#state === "ended";
    const ended = this.#state === "ended";
    this.#stopHeartbeat();
    this.#closing.abort();
    this.#dropWatch(false);
    // A process lost to silence may have died since (its exit not yet seen): a sweep removes only what dead owners left.
    if (this.#graves.size > 0) sweepAfterDeath();
    for (const w of this.#graves) w.close();
    this.#graves.clear();
    this.#lost.abort(shmError("ECLOSED", "the peer connection is closed"));
    this.#setState("closed", "closed by this side");
    this.#inbox.length = 0;
    for (const r of [...this.#old, ...this.#keptOld]) this.#closeReader(r);
    this.#old.length = this.#keptOld.length = 0;
    if (!wasConnected) return; // the connection was retired already
    // The other side died: its ring (and loan slabs) would stay in /dev/shm; remove them.
    const remoteDied = c.rx !== null && !c.rx.closed && c.rx.writerState === "dead";
    c.tx?.close();
    c.rx?.close();
    if (remoteDied) sweepAfterDeath();
    if (ended || remoteDied) {
      // It said goodbye (or died) already: nobody waits for a BYE.
      c.link.detach(false);
      return;
    }
    // BYE, waited for at most CLOSE_DRAIN_MS: a stuck peer must not hold up close() for ever.
    const bye = c.link.outbox.send(encodeControl({ type: MsgType.Bye, reconnect })).then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const taken = await Promise.race([bye, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), drainMs)))]);
    clearTimeout(timer);
    // Taken: it (and what was before it) still goes out for a while (as long as it was waited for). Not taken in time: the other side does not read; drop it.
    c.link.detach(taken, drainMs);
  }
}

/**
 * A pidfd watch on `remote`'s process, if it runs on this host (the same
 * boot id) and is found here with the start time it sent (so a process in
 * another PID namespace is never taken for it); else null (heartbeats tell).
 */
function watchProcess(remote: Identity, local: Identity, onExit: () => void): PeerWatchHandle | null {
  if (remote.host === "" || remote.host !== local.host || remote.startTime === "0") return null;
  try {
    const w = new (native().PeerWatchHandle)(remote.pid, Number(remote.startTime), onExit);
    if (w.state() === "watching") return w;
    w.close();
  } catch {
    // no addon, or no pidfd: heartbeats tell
  }
  return null;
}

/** Options for a wait inside the current connection's ring: the user's signal and the connection's loss end it. */
function waitOptions(signal: AbortSignal | undefined, lost: AbortSignal, deadline: number): WaitOptions {
  const s = signal === undefined ? lost : anySignal(signal, lost);
  return Number.isFinite(deadline) ? { signal: s, timeout: Math.max(0, deadline - performance.now()) } : { signal: s };
}

function timedOut(call: string, timeout: number): Error {
  return shmError("ETIMEDOUT", `${call}() timed out after ${timeout} ms`);
}

/** A loan's size on transport "zmq" (ordinary memory). */
const checkSize = (size: unknown): number => checkInteger("size", size, 1, Number.MAX_SAFE_INTEGER);

/** serve(): the handler's bytes as the reply; a reply refused (too large) fails the request instead. */
async function answerQuietly(req: PeerRequest, bytes: Bytes): Promise<void> {
  if (req.answered) return;
  try {
    await req.reply(bytes);
  } catch (e) {
    if (!req.answered) await failQuietly(req, e);
  }
}

/** serve(): a handler's failure as the request's error reply (the connection's end is nobody's to hear). */
async function failQuietly(req: PeerRequest, e: unknown): Promise<void> {
  if (req.answered) return;
  await req.fail(e instanceof Error ? e.message : String(e)).catch(() => {});
}
