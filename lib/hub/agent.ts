// An agent (docs/PROTOCOL.md §9): a named process on a hub. It joins the
// hub over an ordinary Peer (transport "zmq"), listens on an owner-only
// endpoint of its own, and sends to other agents by name: over a direct
// Peer to an agent of its host and uid (ordinary connect(): handshake,
// proofs, shared memory when both map each other's rings), through the hub
// to the others (and always when it was asked for transport "zmq").
//
// Ordering: a sender's messages to one destination arrive in the order it
// sent them. The first send to a name decides its path (it waits for the
// direct attempt) and later sends take that path until that connection
// ends; a path never changes under a stream.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import { asBytes } from "../channel/end.js";
import { copyOption, type MessagesOptions } from "../channel/iterate.js";
import { abortError, anySignal, checkInteger, checkWaitOptions, invalidArgType, invalidArgValue, shmError, type ShmErrorCode, type WaitOptions } from "../core/errors.js";
import { ownPath } from "../core/owned-paths.js";
import { setLongTimeout, untilChange, type LongTimer } from "../core/timers.js";
import type { PoolOptions } from "../loan/pool.js";
import { connect, validateEndpoint, type CurveOptions } from "../peer/connect.js";
import { localIdentity } from "../peer/handshake.js";
import type { HeartbeatOptions, Peer } from "../peer/peer.js";
import type { Identity } from "../peer/protocol.js";
import { listen, type Server } from "../peer/server.js";
import { ACCEPT, Kind, Op, checkAgentName, decodeHub, encodeControl, encodeRoute, entryOf, isAccept, type AgentEntry, type OpCode, type RouteFrame } from "./messages.js";
import { HubRequests, directRequest, routedRequest, type AgentRequest } from "./requests.js";

export interface JoinOptions {
  /** This agent's name on the hub: a claim, refused (ENAMETAKEN) while a live agent of another process holds it. */
  name: string;
  /** "auto" (default): direct Peers to agents of this host and uid, the hub for the others; "zmq": never direct, always through the hub. */
  transport?: "auto" | "zmq";
  /** Liveness of the hub link and of direct pairs. */
  heartbeat?: HeartbeatOptions;
  /** CURVE for the hub link: the hub's public key as serverKey. */
  curve?: CurveOptions;
  /** How long joining (and each direct pair's handshake) may take, in ms (default 10,000). */
  timeout?: number;
  /** Ring size of each direct pair this agent writes (default 1 MiB). */
  capacity?: number;
  /** Loan pool of each direct pair's ring. */
  pool?: PoolOptions;
}

/** Where messages to an agent go: its direct Peer's transport, or "hub". */
export type AgentTransport = "shm" | "zmq" | "hub";

export interface AgentMessage {
  from: string;
  /**
   * The bytes, valid for good: a copy, or a buffer of its own for what
   * came through the hub. Only `messages({ copy: false })` hands out a
   * loan's own memory over a direct "shm" pair (no copy), valid until the
   * iteration's next step.
   */
  data: Uint8Array;
}

export interface AgentRouteStats {
  to: string;
  path: "direct" | "hub";
  messages: number;
  bytes: number;
}

interface AgentConfig {
  heartbeat?: HeartbeatOptions;
  curve?: CurveOptions;
  timeout: number;
  capacity?: number;
  pool?: PoolOptions;
}

type Path = { kind: "direct"; peer: Peer } | { kind: "hub" };
const HUB: Path = Object.freeze({ kind: "hub" });
const NOOP = (): void => {};

interface Item {
  from: string;
  data: Uint8Array;
  /** A direct pair's pump waits for it: called when the consumer is past this message. */
  next: (() => void) | null;
  /** `data` is a loan's own view, valid until `next` (or, read by the consumer itself, the pair's next receive). */
  loan: boolean;
}

/** How long an agent's listener waits for a connecting agent to appear in its roster (JOINED may come after the connection). */
const ROSTER_WAIT_MS = 5_000;
/** Messages an agent holds unread before it stops reading the hub link and its pairs (flow control goes back to the senders). */
const MAX_UNREAD = 1024;
/** How long closing an agent waits for ZeroMQ to take each direct pair's BYE. */
const PAIR_CLOSE_DRAIN_MS = 250;
/** Pause between attempts to re-join a hub that went away: doubling from the first to the last. */
const REJOIN_BACKOFF_MS = [50, 2000] as const;

const sameProcess = (e: AgentEntry, id: Readonly<Identity>): boolean => e.pid === id.pid && e.startTime === id.startTime && e.host === id.host && e.uid === id.uid;

export class Agent extends EventEmitter {
  readonly name: string;
  readonly #hubEndpoint: string;
  readonly #forced: boolean;
  readonly #o: AgentConfig;
  readonly #self: Identity;
  /** Which agent object this is (two agents of one process may not share a name): JOIN carries it. */
  readonly #instance = randomBytes(16).toString("hex");
  #server: Server | null = null;
  #dir: string | null = null;
  /** #dir, removed at exit or on a signal if this agent is not closed first. */
  #dirOwned: { release(): void } | null = null;
  #endpoint: string | null = null;
  /** The joined hub link, or null while joining again (or closed). */
  #hub: Peer | null = null;
  /** Sends through the hub waiting for it (in call order). */
  readonly #hubQueue: { resolve: (p: Peer) => void; reject: (e: unknown) => void }[] = [];
  readonly #roster = new Map<string, AgentEntry>();
  readonly #paths = new Map<string, Path>();
  /** A path being decided: the sends waiting for it, in call order. */
  readonly #deciding = new Map<string, { promise: Promise<Path>; waiting: number }>();
  /** The direct pairs, with the other agent of each. */
  readonly #linkNames = new Map<Peer, string>();
  /** What this agent sent over direct pairs and through the hub, per destination. */
  readonly #direct = new Map<string, AgentRouteStats>();
  readonly #routed = new Map<string, AgentRouteStats>();
  readonly #inbox: Item[] = [];
  /** Messages in the inbox that nobody waits on (copies, routed ones): at MAX_UNREAD the hub link and the pairs stop being read. */
  #unread = 0;
  /** Consumers waiting in messages() for the inbox: the direct pairs' pumps read only then. */
  #hungry = 0;
  /** Pairs whose pump is receiving now (the consumer must not receive beside it: order). */
  readonly #busy = new Set<Peer>();
  /** Pairs whose receive failed (their end): left to their pump. */
  readonly #ending = new Set<Peer>();
  /** The consumer waits in its one pair's receive; #interrupt ends that wait when anything else happens. */
  #readingHere = false;
  #interrupt = new AbortController();
  readonly #waiting = new Set<() => void>();
  /** Requests sent through the hub, waiting for their answer (a direct pair's are its Peer's). */
  readonly #pending = new HubRequests();
  /** requests() was called: direct pairs' requests are taken too (not before: a Peer waiting for requests copies its plain messages). */
  #serving = false;
  readonly #requests: AgentRequest[] = [];
  #statsIntervalMs = 1000;
  #reportTimer: NodeJS.Timeout | null = null;
  #reported = "";
  #closed = false;
  readonly #closing = new AbortController();

  /** @internal made by join() */
  constructor(hubEndpoint: string, name: string, forced: boolean, o: AgentConfig) {
    super();
    this.name = name;
    this.#hubEndpoint = hubEndpoint;
    this.#forced = forced;
    this.#o = o;
    this.#self = localIdentity(name);
  }

  // ---- joining ----

  /** @internal the listener (unless forced remote) and the first JOIN */
  async start(): Promise<void> {
    if (!this.#forced) {
      // Linux: a socket in a fresh 0700 directory (listen() binds it owner-only); Windows: a loopback port.
      let wanted = "tcp://127.0.0.1:0";
      if (process.platform !== "win32") {
        this.#dir = mkdtempSync(path.join(tmpdir(), "smsh-agent-"));
        this.#dirOwned = ownPath(this.#dir, true);
        wanted = `ipc://${path.join(this.#dir, "agent.sock")}`;
      }
      this.#server = await listen(wanted, { name: this.name, heartbeat: this.#o.heartbeat, capacity: this.#o.capacity, pool: this.#o.pool, handshakeTimeout: this.#o.timeout });
      this.#endpoint = this.#server.endpoint;
      void this.#acceptLoop(this.#server);
    }
    this.#installHub(await this.#joinOnce());
    this.#reportTimer = setInterval(() => this.#report(false), this.#statsIntervalMs);
    this.#reportTimer.unref();
  }

  /** One connection to the hub and its JOIN; the roster it answers with. ENAMETAKEN if the name is held. */
  async #joinOnce(): Promise<{ peer: Peer; agents: AgentEntry[] }> {
    const peer = await connect(this.#hubEndpoint, { name: this.name, transport: "zmq", reconnect: false, heartbeat: this.#o.heartbeat, curve: this.#o.curve, timeout: this.#o.timeout });
    try {
      await peer.send(encodeControl(Kind.Join, { v: 1, endpoint: this.#endpoint, instance: this.#instance }), { timeout: this.#o.timeout });
      const d = decodeHub(await peer.recv({ timeout: this.#o.timeout }));
      if ("error" in d) throw shmError("ECORRUPT", `the hub answered JOIN with ${d.error}`);
      if ("op" in d || (d.kind !== Kind.Welcome && d.kind !== Kind.Refused)) throw shmError("ECORRUPT", `the hub answered JOIN with kind ${d.kind}`);
      if (d.kind === Kind.Refused) {
        const code: ShmErrorCode = d.body.code === "ENAMETAKEN" ? "ENAMETAKEN" : "ECONNREFUSED";
        throw shmError(code, `the hub refused "${this.name}": ${String(d.body.reason).slice(0, 200)}`);
      }
      const list = Array.isArray(d.body.agents) ? d.body.agents.map(entryOf) : [null];
      if (list.some((e) => e === null)) throw shmError("ECORRUPT", "the hub's roster is malformed");
      if (Number.isSafeInteger(d.body.statsIntervalMs) && (d.body.statsIntervalMs as number) >= 10) this.#statsIntervalMs = d.body.statsIntervalMs as number;
      return { peer, agents: list as AgentEntry[] };
    } catch (e) {
      await peer.close();
      throw e;
    }
  }

  #installHub({ peer, agents }: { peer: Peer; agents: AgentEntry[] }): void {
    const now = new Map(agents.map((e) => [e.name, e]));
    for (const [name, e] of this.#roster) if (now.get(name)?.pid !== e.pid) this.#forget(e, "not on the hub's roster any more");
    for (const e of agents) this.#meet(e);
    this.#hub = peer;
    void this.#hubLoop(peer);
    this.emit("hub", "joined");
    for (const w of this.#hubQueue.splice(0)) w.resolve(peer);
    this.#report(false);
  }

  /** The hub link's messages until it ends; then join again (a restarted hub) unless closed. */
  async #hubLoop(peer: Peer): Promise<void> {
    let why = "";
    try {
      for (;;) {
        while (this.#unread >= MAX_UNREAD && !this.#closed) await this.#change(undefined, Infinity);
        this.#onHub(await peer.recv());
      }
    } catch (e) {
      why = (e as Error).message;
    }
    if (this.#hub === peer) this.#hub = null;
    await peer.close();
    if (this.#closed) return;
    this.emit("hub", "lost", why);
    let pause: number = REJOIN_BACKOFF_MS[0];
    while (!this.#closed) {
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(REJOIN_BACKOFF_MS[1], pause * 2);
      if (this.#closed) return;
      try {
        const j = await this.#joinOnce();
        if (this.#closed) return void (await j.peer.close());
        this.#installHub(j);
        return;
      } catch (e) {
        if ((e as { code?: string }).code === "ENAMETAKEN") this.emit("hub", "refused", (e as Error).message);
      }
    }
  }

  #onHub(m: Uint8Array): void {
    const d = decodeHub(m);
    if ("error" in d) return; // the hub is trusted no more than anyone: nonsense is dropped
    if ("op" in d) return this.#onRouted(d);
    if (d.kind === Kind.Joined) {
      const e = entryOf(d.body);
      if (e !== null && e.name !== this.name) this.#meet(e);
    } else if (d.kind === Kind.Left) {
      const e = typeof d.body.name === "string" ? this.#roster.get(d.body.name) : undefined;
      if (e !== undefined && e.pid === d.body.pid) this.#forget(e, typeof d.body.reason === "string" ? d.body.reason.slice(0, 500) : "left");
    }
  }

  #meet(e: AgentEntry): void {
    if (e.name === this.name) return;
    const old = this.#roster.get(e.name);
    if (old !== undefined && old.pid === e.pid && old.startTime === e.startTime) return;
    if (old !== undefined) this.#forget(old, "replaced");
    this.#roster.set(e.name, e);
    this.#wake();
    this.emit("join", { ...e });
  }

  #forget(e: AgentEntry, why: string): void {
    if (this.#roster.get(e.name) !== e) return;
    this.#roster.delete(e.name);
    // Through the hub: nothing more will arrive; its requests end. A direct pair ends with its Peer.
    if (this.#paths.get(e.name)?.kind === "hub") this.#paths.delete(e.name);
    this.#pending.failTo(e.name, shmError("EPEERDEAD", `${e.name} left the hub: ${why}`));
    this.emit("leave", { ...e }, why);
  }

  #onRouted(r: RouteFrame): void {
    if (r.kind === Kind.Unroutable) {
      // It was on the roster when the request went (or the send would have been ENOAGENT here): it left or died since.
      if (r.op === Op.Request) this.#pending.fail(r.id, shmError("EPEERDEAD", `${r.name} left or died before the hub could deliver the request`));
      else this.emit("unroutable", r.name);
      return;
    }
    if (r.kind !== Kind.Deliver) return;
    if (r.op === Op.Message) {
      this.#unread++;
      this.#inbox.push({ from: r.name, data: r.data, next: null, loan: false });
      this.#wake();
    } else if (r.op === Op.Request) {
      this.#requests.push(routedRequest(r.name, r.data, (op, bytes, o) => this.#routeOut(r.name, op, r.id, bytes, o)));
      this.#wake();
    } else {
      this.#pending.settle(r.id, r.name, r.op, r.data);
    }
  }

  // ---- direct pairs ----

  async #acceptLoop(server: Server): Promise<void> {
    for await (const peer of server) void this.#accept(peer);
  }

  /** A direct pair another agent started: taken if it is the process the roster says (else closed), then ACCEPT. */
  async #accept(peer: Peer): Promise<void> {
    const id = peer.remoteIdentity;
    const e = await this.#entry(id.name, ROSTER_WAIT_MS);
    if (this.#closed || e === null || !sameProcess(e, id)) return void (await peer.close());
    try {
      await peer.send(ACCEPT, { timeout: this.#o.timeout });
    } catch {
      return void (await peer.close());
    }
    if (!this.#paths.has(id.name) && !this.#deciding.has(id.name)) this.#paths.set(id.name, { kind: "direct", peer });
    this.#adopt(peer, id.name);
  }

  /** The roster's entry for `name`, waiting up to `ms` for it to appear; null if it does not. */
  async #entry(name: string, ms: number): Promise<AgentEntry | null> {
    const until = performance.now() + ms;
    for (;;) {
      const e = this.#roster.get(name);
      if (e !== undefined || this.#closed) return e ?? null;
      if (performance.now() >= until) return null;
      await this.#change(undefined, until);
    }
  }

  /** Decides the path to `to`: direct if it is of this host and uid and its listener takes us, else the hub. */
  async #decide(to: string): Promise<Path> {
    const e = this.#roster.get(to);
    if (e === undefined) throw shmError("ENOAGENT", `no agent named "${to}" on the hub's roster`);
    if (this.#forced || e.endpoint === null || !this.#sameHost(e) || e.uid !== this.#self.uid) return HUB;
    let peer: Peer;
    try {
      peer = await connect(e.endpoint, { name: this.name, reconnect: false, heartbeat: this.#o.heartbeat, capacity: this.#o.capacity, pool: this.#o.pool, timeout: this.#o.timeout });
    } catch {
      return HUB; // its listener is gone or refused: the hub, for good
    }
    const id = peer.remoteIdentity;
    try {
      // The name is a claim: the process behind the endpoint must be the one the hub introduced.
      if (id.name !== to || !sameProcess(e, id)) throw new Error("not the agent the roster names");
      if (!isAccept(await peer.recv({ timeout: ROSTER_WAIT_MS + this.#o.timeout }))) throw new Error("no ACCEPT");
    } catch {
      await peer.close();
      return HUB;
    }
    this.#adopt(peer, to);
    return { kind: "direct", peer };
  }

  /**
   * Whether `e` runs on this host: the same boot id; where there is none
   * (Windows), an endpoint on loopback (only a process of this host listens
   * there; the handshake's identity check says whether it is `e`'s).
   */
  #sameHost(e: AgentEntry): boolean {
    if (e.host !== "" || this.#self.host !== "") return e.host === this.#self.host;
    return e.endpoint !== null && /^tcp:\/\/(127\.\d+\.\d+\.\d+|\[::1\]|localhost):/.test(e.endpoint);
  }

  /** Reads a direct pair into the inbox (one message at a time: a loan stays valid until the consumer moves on) until it ends. */
  #adopt(peer: Peer, from: string): void {
    this.#linkNames.set(peer, from);
    // The pair ended (closed, died): sends to `from` decide a path again; what it sent is still read.
    peer.on("state", (st: string) => {
      const p = this.#paths.get(from);
      if (st !== "connected" && p?.kind === "direct" && p.peer === peer) this.#paths.delete(from);
    });
    void (async () => {
      try {
        for (;;) {
          // Read on demand: a receive armed while nobody asks would sleep in the ring (the event loop woken for
          // it later) instead of spinning in it when the consumer asks, just after its own send.
          while (!this.#closed && (this.#hungry === 0 || this.#inbox.length > 0)) await this.#change(undefined, Infinity);
          if (this.#closed) break;
          let m: Uint8Array;
          this.#busy.add(peer);
          try {
            m = peer.tryRecv() ?? (await peer.recv());
          } finally {
            this.#busy.delete(peer);
          }
          const rx = peer.reader;
          // A loan (shm) is handed out as it is, valid until the consumer moves past it (this pump waits for that);
          // anything else is a copy (or a ZeroMQ message's own buffer), and the ring's space goes back at once.
          const data = rx !== null && !rx.closed ? rx.copyUnlessLoan(m) : m;
          if (data === m && rx !== null) {
            await new Promise<void>((next) => {
              this.#inbox.push({ from, data, next, loan: true });
              this.#wake();
            });
          } else {
            this.#unread++;
            this.#inbox.push({ from, data, next: null, loan: false });
            this.#wake();
          }
        }
      } catch {
        // its end: closed, died (EPEERDEAD below)
      }
      this.#linkNames.delete(peer);
      this.#ending.delete(peer);
      const p = this.#paths.get(from);
      if (p?.kind === "direct" && p.peer === peer) this.#paths.delete(from);
      await peer.close(); // its pending requests reject (EPEERDEAD when it died)
    })();
    if (this.#serving) this.#serveDirect(peer, from);
    this.#wake(); // a consumer reading its one pair reads through the pumps now
  }

  /** A direct pair's requests into requests(), until it ends. */
  #serveDirect(peer: Peer, from: string): void {
    void (async () => {
      try {
        for await (const req of peer.requests()) {
          this.#requests.push(directRequest(from, req, (bytes) => this.#count(from, "direct", bytes)));
          this.#wake();
        }
      } catch {
        // its end
      }
    })();
  }

  /** The path to `to`, deciding it first if needed; sends waiting for one decision continue in call order. */
  #pathTo(to: string, signal: AbortSignal | undefined, deadline: number): Path | Promise<Path> {
    const p = this.#paths.get(to);
    if (p !== undefined && !this.#deciding.has(to)) return p;
    let d = this.#deciding.get(to);
    if (d === undefined) {
      // An accepted pair sets a path only while none is being decided: ours is the path from now on.
      const promise = this.#decide(to).then((path) => (this.#paths.set(to, path), path));
      this.#deciding.set(to, (d = { promise, waiting: 0 }));
    }
    const entry = d;
    entry.waiting++;
    const done = (): void => {
      if (--entry.waiting === 0 && this.#deciding.get(to) === entry) this.#deciding.delete(to);
    };
    return raceWait(entry.promise, signal, deadline, "send").then(
      (path) => (done(), path),
      (e) => {
        done();
        throw e;
      },
    );
  }

  // ---- sending ----

  /**
   * Sends `bytes` to agent `to`: over the direct pair (a loan of it goes
   * without a copy on "shm") or through the hub (copied onto the wire).
   * Resolves once the pair's ring or ZeroMQ took it (not when `to` read it).
   * ENOAGENT for a name not on the roster; EPEERDEAD/ECLOSED when the
   * direct pair ended (the next send decides a path again).
   */
  send(to: string, bytes: Uint8Array | ArrayBufferView | ArrayBuffer, options?: WaitOptions): Promise<void> {
    // The common case first, without a step of its own: a direct pair decided already (its Peer checks the rest).
    const p = this.#paths.get(to);
    if (p !== undefined && p.kind === "direct" && !this.#closed && !this.#deciding.has(to)) {
      let size: number;
      try {
        size = asBytes(bytes).byteLength; // a loan's view is empty once sent
      } catch (e) {
        return Promise.reject(e);
      }
      const sent = p.peer.send(bytes, options);
      this.#count(to, "direct", size);
      sent.catch(() => this.#count(to, "direct", -size, -1)); // not sent after all
      return sent;
    }
    return this.#sendSlow(to, bytes, options);
  }

  async #sendSlow(to: string, bytes: Uint8Array | ArrayBufferView | ArrayBuffer, options?: WaitOptions): Promise<void> {
    checkAgentName("to", to);
    const { signal, deadline } = checkWaitOptions(options);
    this.#checkOpen();
    if (to === this.name) throw invalidArgValue("to", "is this agent's own name", to);
    const b = asBytes(bytes);
    const size = b.byteLength; // a loan's view is empty once sent
    const p = await this.#pathTo(to, signal, deadline);
    if (p.kind === "direct") {
      await p.peer.send(bytes, remaining(signal, deadline));
      this.#count(to, "direct", size);
    } else {
      await this.#routeOut(to, Op.Message, 0, b, remaining(signal, deadline));
    }
  }

  /**
   * Memory for a message to `to`: a loan of the direct pair's ring on "shm"
   * (fill it, then send(to, loan): no copy), ordinary memory otherwise.
   */
  async loan(to: string, size: number, options?: WaitOptions): Promise<Uint8Array> {
    checkAgentName("to", to);
    const { signal, deadline } = checkWaitOptions(options);
    this.#checkOpen();
    const p = await this.#pathTo(to, signal, deadline);
    return p.kind === "direct" ? p.peer.loan(size, remaining(signal, deadline)) : new Uint8Array(checkInteger("size", size, 1, Number.MAX_SAFE_INTEGER));
  }

  /** A routed frame to the hub, once joined; in call order across waits for the hub. */
  async #routeOut(to: string, op: OpCode, id: number, bytes: Uint8Array, options?: WaitOptions): Promise<void> {
    const { signal, deadline } = checkWaitOptions(options);
    const hub = this.#hub !== null && this.#hubQueue.length === 0 ? this.#hub : await this.#waitHub(signal, deadline);
    const frame = encodeRoute(Kind.Route, op, id, to, bytes);
    await hub.send(frame, remaining(signal, deadline));
    this.#count(to, "hub", bytes.byteLength);
  }

  #waitHub(signal: AbortSignal | undefined, deadline: number): Promise<Peer> {
    return raceWait(
      new Promise<Peer>((resolve, reject) => this.#hubQueue.push({ resolve, reject })),
      signal,
      deadline,
      "send (waiting for the hub)",
    );
  }

  #count(to: string, path: "direct" | "hub", bytes: number, messages = 1): void {
    const m = path === "direct" ? this.#direct : this.#routed;
    let c = m.get(to);
    if (c === undefined) m.set(to, (c = { to, path, messages: 0, bytes: 0 }));
    c.messages += messages;
    c.bytes += bytes;
  }

  /** REPORT of the direct pairs' counts, when they changed (or `last`: before leaving, awaited). */
  #report(last: boolean): Promise<void> {
    const routes = [...this.#direct.values()].map(({ to, messages, bytes }) => ({ to, messages, bytes }));
    const body = JSON.stringify(routes);
    const hub = this.#hub;
    if (hub === null || (body === this.#reported && !last) || routes.length === 0) return Promise.resolve();
    this.#reported = body;
    return hub.send(encodeControl(Kind.Report, { routes }), { timeout: last ? 2000 : 30_000 }).catch(() => {});
  }

  // ---- requests ----

  /**
   * Sends a request to `to` and resolves with its reply (bytes). ETIMEDOUT
   * after `timeout` (a late reply is dropped), AbortError on `signal`,
   * EPEERDEAD when `to` dies or leaves first, ENOAGENT for a name not there.
   */
  async request(to: string, bytes: Uint8Array | ArrayBufferView | ArrayBuffer, options?: WaitOptions): Promise<Uint8Array> {
    checkAgentName("to", to);
    const { signal, deadline, timeout } = checkWaitOptions(options);
    this.#checkOpen();
    if (to === this.name) throw invalidArgValue("to", "is this agent's own name", to);
    const size = asBytes(bytes).byteLength;
    const p = await this.#pathTo(to, signal, deadline);
    if (p.kind === "direct") {
      const reply = p.peer.request(bytes, remaining(signal, deadline));
      this.#count(to, "direct", size);
      return reply;
    }
    const { id, reply } = this.#pending.open(to, Number.isFinite(deadline) ? Math.max(0, deadline - performance.now()) : Infinity, signal);
    this.#routeOut(to, Op.Request, id, asBytes(bytes), remaining(signal, deadline)).catch((e: unknown) => this.#pending.fail(id, e));
    return reply;
  }

  /** Requests from other agents, each with `from`, `data` and `reply(bytes)` / `fail(message)`; ends when the agent closes. */
  async *requests(options?: WaitOptions): AsyncIterableIterator<AgentRequest> {
    const { signal, deadline, timeout } = checkWaitOptions(options);
    if (!this.#serving) {
      this.#serving = true;
      for (const [peer, from] of this.#linkNames) this.#serveDirect(peer, from);
    }
    for (;;) {
      const r = this.#requests.shift();
      if (r !== undefined) {
        yield r;
        continue;
      }
      if (this.#closed) return;
      if (signal?.aborted) throw abortError(signal);
      if (performance.now() >= deadline) throw shmError("ETIMEDOUT", `requests() waited ${timeout} ms`);
      await this.#change(signal, deadline);
    }
  }

  // ---- receiving ----

  /**
   * Messages from every agent, direct or through the hub, as `{ from, data }`
   * (see AgentMessage for how long `data` is valid). A sender's messages
   * come in its order; across senders, in arrival order. Ends when the agent
   * closes; `signal` ends it with an AbortError, `timeout` bounds each wait.
   * Each `data` stays valid (a copy, safe to collect or pull ahead); `{ copy:
   * false }` hands out a loan's memory in place, valid until the next step.
   */
  messages(options?: MessagesOptions): AsyncIterableIterator<AgentMessage> {
    // Hand-written, not an async generator: its return() must end a pending wait at once, taking no message,
    // and each step costs a round trip's few microseconds less.
    const { signal, timeout } = checkWaitOptions(options);
    const copy = copyOption(options);
    let last: Item | null = null;
    let done = false;
    const finished = (): IteratorResult<AgentMessage> => {
      done = true;
      this.#consumed(last);
      last = null;
      return { done: true, value: undefined };
    };
    const iterator: AsyncIterableIterator<AgentMessage> = {
      next: async () => {
        if (done) return finished();
        this.#consumed(last);
        last = null;
        try {
          last = await this.#nextItem(signal, timeout, () => done, copy);
        } catch (e) {
          finished();
          throw e;
        }
        if (last === null || done) return finished();
        if (copy && last.loan) {
          // A loan copied: its slot goes back (and the pair's pump goes on) now, not at the next step.
          const value = { from: last.from, data: Buffer.from(last.data) };
          this.#consumed(last);
          last = null;
          return { done: false, value };
        }
        return { done: false, value: { from: last.from, data: last.data } };
      },
      return: async () => {
        const r = finished();
        this.#wake(); // a pending next() looks again, sees the end, takes nothing
        return r;
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** The next item of the inbox or of the one direct pair; null at the end (the agent closed, or `stopped()`). */
  async #nextItem(signal: AbortSignal | undefined, timeout: number, stopped: () => boolean, copy: boolean): Promise<Item | null> {
    const deadline = performance.now() + timeout;
    for (;;) {
      if (this.#closed || stopped()) return null;
      if (this.#inbox.length > 0) return this.#inbox.shift()!;
      if (signal?.aborted) throw abortError(signal);
      if (performance.now() >= deadline) throw shmError("ETIMEDOUT", `no message within ${timeout} ms`);
      // One direct pair and nothing else waiting: read it here, as a Peer's own receive would (no pump between).
      const only = this.#linkNames.size === 1 ? this.#linkNames.keys().next().value! : undefined;
      if (only !== undefined && !this.#busy.has(only) && !this.#ending.has(only)) {
        const item = await this.#readHere(only, signal, deadline, copy);
        if (item === null) continue;
        if (!stopped()) return item;
        // Taken, but the consumer left meanwhile: the next one gets it (a copy: a loan's view ends with the pair's next receive).
        this.#inbox.unshift({ from: item.from, data: item.loan ? Buffer.from(item.data) : item.data, next: NOOP, loan: false });
        return null;
      }
      // Hungry: the direct pairs' pumps read (they wait for this).
      if (this.#hungry++ === 0) this.#wake();
      try {
        await this.#change(signal, deadline);
      } finally {
        this.#hungry--;
      }
    }
  }

  /**
   * The next message of the one direct pair, received by the consumer itself;
   * null when something else arrived first (the wait is interrupted: the
   * hub, another pair), the wait ran out, or the pair ended (its pump then
   * reads the end and forgets it).
   */
  async #readHere(peer: Peer, signal: AbortSignal | undefined, deadline: number, copy: boolean): Promise<Item | null> {
    let m: Uint8Array | null;
    try {
      m = peer.tryRecv();
      if (m === null) {
        this.#readingHere = true;
        const stop = signal === undefined ? this.#interrupt.signal : anySignal(signal, this.#interrupt.signal);
        try {
          m = await peer.recv(Number.isFinite(deadline) ? { signal: stop, timeout: Math.max(0, deadline - performance.now()) } : { signal: stop });
        } finally {
          this.#readingHere = false;
        }
      }
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== "ABORT_ERR" && code !== "ETIMEDOUT") this.#ending.add(peer);
      return null;
    }
    const rx = peer.reader;
    // A copy, the ring's space back at once; a loan as it is when the consumer iterates with copy: false.
    if (rx === null || rx.closed) return { from: this.#linkNames.get(peer) ?? peer.remoteName, data: m, next: NOOP, loan: false };
    const data = copy ? rx.iterationCopy(m) : rx.copyUnlessLoan(m);
    return { from: this.#linkNames.get(peer) ?? peer.remoteName, data, next: NOOP, loan: data === m };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<AgentMessage> {
    return this.messages();
  }

  #consumed(item: Item | null): void {
    if (item === null) return;
    if (item.next === null) {
      if (this.#unread-- === MAX_UNREAD) this.#wake();
    } else item.next();
  }

  /** The next message (its bytes a copy of their own, or a hub message's own buffer: valid for good). */
  async recv(options?: WaitOptions): Promise<AgentMessage> {
    const { signal, timeout } = checkWaitOptions(options);
    const it = this.messages({ signal, timeout, copy: true });
    try {
      const r = await it.next();
      if (r.done === true) throw shmError("ECLOSED", "the agent is closed");
      return r.value;
    } finally {
      await it.return?.();
    }
  }

  // ---- who is there ----

  /** The agents on the roster (this one left out), as the hub last said (kept while the hub is away). */
  get agents(): AgentEntry[] {
    return [...this.#roster.values()].map((e) => ({ ...e }));
  }

  /** Until `name` is on the roster (its entry), `timeout`/`signal` aside. */
  async waitFor(name: string, options?: WaitOptions): Promise<AgentEntry> {
    checkAgentName("name", name);
    const { signal, deadline, timeout } = checkWaitOptions(options);
    for (;;) {
      this.#checkOpen();
      const e = this.#roster.get(name);
      if (e !== undefined) return { ...e };
      if (signal?.aborted) throw abortError(signal);
      if (performance.now() >= deadline) throw shmError("ETIMEDOUT", `"${name}" did not join within ${timeout} ms`);
      await this.#change(signal, deadline);
    }
  }

  /**
   * How messages to `to` go now: "shm"/"zmq" over a direct pair, "hub"
   * through the hub (always, for an agent of transport "zmq"); null before
   * the first send decides it (or for a name not on the roster).
   */
  transport(to: string): AgentTransport | null {
    const p = this.#paths.get(to);
    if (p === undefined) return this.#forced && this.#roster.has(to) ? "hub" : null;
    return p.kind === "hub" ? "hub" : p.peer.transport;
  }

  /** Whether the hub link is up (joined); direct pairs go on without it. */
  get joined(): boolean {
    return this.#hub !== null;
  }

  /** This agent's own endpoint for direct pairs (null: transport "zmq"). */
  get endpoint(): string | null {
    return this.#endpoint;
  }

  /** What this agent sent, per destination and path, since it started. */
  stats(): AgentRouteStats[] {
    return [...this.#direct.values(), ...this.#routed.values()].map((c) => ({ ...c }));
  }

  // ---- the end ----

  #checkOpen(): void {
    if (this.#closed) throw shmError("ECLOSED", "the agent is closed");
  }

  #change(signal: AbortSignal | undefined, deadline: number): Promise<void> {
    return untilChange(this.#waiting, signal, deadline);
  }


  #wake(): void {
    if (this.#readingHere) {
      // The consumer waits in its one pair's ring: something else needs it.
      this.#readingHere = false;
      this.#interrupt.abort();
      this.#interrupt = new AbortController();
    }
    for (const w of [...this.#waiting]) w();
  }

  /**
   * Leaves: the last report of the direct pairs goes to the hub, then the
   * hub link, the direct pairs (their other sides read what was sent, then
   * see the end) and the listener close. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#report(true);
    this.#closed = true;
    this.#closing.abort();
    if (this.#reportTimer !== null) clearInterval(this.#reportTimer);
    const gone = shmError("ECLOSED", "the agent is closed");
    for (const w of this.#hubQueue.splice(0)) w.reject(gone);
    this.#pending.failAll(gone);
    for (const it of this.#inbox.splice(0)) it.next?.();
    this.#requests.length = 0;
    this.#wake();
    const hub = this.#hub;
    this.#hub = null;
    // A pair's BYE is waited for briefly: its messages are in its ring (shm) or queued in ZeroMQ before it, and a
    // pair whose other agent closed at the same moment has no listener left to take it (Peer.close would wait 10 s).
    await Promise.all([hub?.close(), ...[...this.#linkNames.keys()].map((p) => p.closeWith(false, PAIR_CLOSE_DRAIN_MS)), this.#server?.close()]);
    this.#dirOwned?.release();
    if (this.#dir !== null) rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Options left of a wait that started earlier. */
function remaining(signal: AbortSignal | undefined, deadline: number): WaitOptions | undefined {
  if (!Number.isFinite(deadline)) return signal === undefined ? undefined : { signal };
  const timeout = Math.max(0, deadline - performance.now());
  return signal === undefined ? { timeout } : { signal, timeout };
}

/** `p`, unless `signal` aborts or `deadline` passes first (`p` goes on). */
function raceWait<T>(p: Promise<T>, signal: AbortSignal | undefined, deadline: number, what: string): Promise<T> {
  if (signal === undefined && !Number.isFinite(deadline)) return p;
  return new Promise<T>((resolve, reject) => {
    let timer: LongTimer | undefined;
    const onAbort = (): void => finish(() => reject(abortError(signal!)));
    const finish = (f: () => void): void => {
      timer?.clear();
      signal?.removeEventListener("abort", onAbort);
      f();
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (Number.isFinite(deadline)) timer = setLongTimeout(() => finish(() => reject(shmError("ETIMEDOUT", `${what} timed out`))), Math.max(0, deadline - performance.now()));
    p.then(
      (v) => finish(() => resolve(v)),
      (e) => finish(() => reject(e)),
    );
  });
}

/**
 * Joins the hub at `hubEndpoint` as `options.name` and returns the agent
 * once the hub welcomed it (ENAMETAKEN if a live agent of another process
 * holds the name; ETIMEDOUT if no hub answers within options.timeout).
 */
export async function join(hubEndpoint: string, options: JoinOptions): Promise<Agent> {
  validateEndpoint(hubEndpoint);
  if (options === null || typeof options !== "object") throw invalidArgType("options", "an object with a name", options);
  const name = checkAgentName("options.name", options.name);
  const { transport = "auto" } = options;
  if (transport !== "auto" && transport !== "zmq") throw invalidArgValue("options.transport", 'must be "auto" or "zmq"', transport);
  const timeout = options.timeout === undefined ? 10_000 : checkInteger("options.timeout", options.timeout, 1, 2 ** 31 - 1);
  const a = new Agent(hubEndpoint, name, transport === "zmq", { heartbeat: options.heartbeat, curve: options.curve, timeout, capacity: options.capacity, pool: options.pool });
  try {
    await a.start();
  } catch (e) {
    await a.close();
    throw e;
  }
  return a;
}
