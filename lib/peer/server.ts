// listen(): a ROUTER that serves any number of connectors (docs/PROTOCOL.md
// §4): a handshake per routing id, a Peer per connected process, yielded by
// iterating the server; DATA and BYE routed to their Peer.
import type { ChannelReader } from "../channel/reader.js";
import type { ChannelWriter } from "../channel/writer.js";
import { checkInteger, invalidArgValue, shmError } from "../core/errors.js";
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, validateEndpoint, validatePeerOptions, type PeerOptions } from "./connect.js";
import { attachRing, localIdentity, makeRing, proofHolds } from "./handshake.js";
import { Peer, type Connection } from "./peer.js";
import { MsgType, zmqFrameLimit, decode, encodeControl, type Hello, type Identity, type Transport } from "./protocol.js";
import { RoutedQueue, loadZmq } from "./zmq.js";
import { bindEndpoint } from "./ipc-path.js";

export interface ListenOptions extends PeerOptions {
  /** Allow binding tcp:// on an address other than loopback (peers on other hosts; default false). */
  allowRemote?: boolean;
  /** How long a connector may take from HELLO to READY, in ms (default 10,000): its handshake is dropped after it. */
  handshakeTimeout?: number;
}

type Router = InstanceType<ReturnType<typeof loadZmq>["Router"]>;

interface Pending {
  hello: Hello;
  tx: ChannelWriter | null;
  /** The nonce in tx's header: the connector's READY must prove it. */
  nonce: Uint8Array;
  rx: ChannelReader | null;
  why: string;
  /** performance.now() after which the handshake is dropped. */
  until: number;
}

/** How long a closing server waits for ZeroMQ to take each peer's BYE (a connector that stopped reading is not waited for longer). */
const SERVER_CLOSE_DRAIN_MS = 1000;

/** How long a closing server's socket keeps sending what it queued (the BYEs), in ms. */
const CLOSE_LINGER_MS = 250;

/** Handshakes in progress at once; more HELLOs are refused (each holds rings). */
export const MAX_PENDING = 256;

const LOOPBACK = /^tcp:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):/;

export class Server implements AsyncIterable<Peer> {
  /** The endpoint bound (with the port chosen for "tcp://host:*"). */
  readonly endpoint: string;
  readonly #router: Router;
  readonly #queue: RoutedQueue;
  readonly #local: Identity;
  readonly #options: ReturnType<typeof validatePeerOptions>;
  readonly #pending = new Map<string, Pending>();
  readonly #peers = new Map<string, { peer: Peer; conn: Connection }>();
  /** Every Peer made and not yet closed, connected or not: close() closes them (their rings, fds, watches). */
  readonly #made = new Set<Peer>();
  readonly #accepted: Peer[] = [];
  readonly #waiting = new Set<() => void>();
  #closed = false;
  #expiry: NodeJS.Timeout | null = null;
  readonly #handshakeTimeout: number;
  /** Removes the ipc socket file (if still ours). */
  readonly #unbind: (() => void) | null;

  /** @internal made by listen() */
  constructor(router: Router, endpoint: string, options: ReturnType<typeof validatePeerOptions>, handshakeTimeout: number, unbind: (() => void) | null) {
    this.#router = router;
    this.#unbind = unbind;
    this.#handshakeTimeout = handshakeTimeout;
    this.endpoint = endpoint;
    this.#queue = new RoutedQueue(router);
    this.#local = localIdentity(options.name);
    this.#options = options;
    void this.#receiveLoop();
  }

  /** Peers whose handshake completed and whose connection lives (a dead or ended one is forgotten). */
  get peers(): readonly Peer[] {
    return [...this.#peers.values()].map((k) => k.peer).filter((p) => p.state === "connected");
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Peer> {
    for (;;) {
      const p = this.#accepted.shift();
      if (p !== undefined) {
        yield p;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#waiting.delete(done);
          resolve();
        };
        this.#waiting.add(done);
      });
    }
  }

  /**
   * Every peer's messages, merged, with the peer each came from, as a
   * ROUTER's: one loop serves all connections, present and future (this
   * takes over accepting: use it or the server's own iteration, not both).
   * Arrival order across peers; a peer's own messages in its order. Each
   * `data` follows the channel rule: valid until this iterator's next step
   * (it then receives that peer's next message) unless kept with
   * `peer.keep()` first. Ends when the server closes; a peer whose other
   * side ended simply stops contributing.
   */
  async *messages(): AsyncIterableIterator<{ peer: Peer; data: Uint8Array }> {
    type Item = { peer: Peer; data: Uint8Array; next: () => void };
    const ready: Item[] = [];
    let wake: (() => void) | null = null;
    const notify = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    const pump = async (peer: Peer): Promise<void> => {
      try {
        for await (const data of peer.messages()) {
          // Hand it over, and receive this peer's next one only once the consumer moved past it.
          await new Promise<void>((next) => {
            ready.push({ peer, data, next });
            notify();
          });
        }
      } catch {
        // a dead or closed peer contributes nothing more
      }
    };
    // Every peer, present and future, gets a pump; this loop ends with the server.
    void (async () => {
      for await (const peer of this) void pump(peer);
    })();
    let last: Item | null = null;
    try {
      for (;;) {
        last?.next();
        last = null;
        while (ready.length === 0) {
          if (this.#closed) return;
          // Woken by a peer's message, or by the server (a close).
          await new Promise<void>((resolve) => {
            const done = (): void => {
              this.#waiting.delete(done);
              if (wake === done) wake = null;
              resolve();
            };
            wake = done;
            this.#waiting.add(done);
          });
        }
        last = ready.shift()!;
        yield { peer: last.peer, data: last.data };
      }
    } finally {
      last?.next();
    }
  }

  async #receiveLoop(): Promise<void> {
    try {
      for await (const [id, ...frames] of this.#router) {
        const key = id!.toString("hex");
        const m = decode(frames);
        if ("error" in m) continue; // nonsense from a connection: dropped (it gets no WELCOME)
        try {
          const known = this.#peers.get(key);
          if (known !== undefined) known.peer.heard(known.conn);
          if (m.type === MsgType.Data) known?.peer.deliver(known.conn, m.data, m.credit);
          else if (m.type === MsgType.Envelope) known?.peer.deliverEnvelope(known.conn, m);
          else if (m.type === MsgType.Credit) known?.peer.credit(known.conn, m.bytes);
          else if (m.type === MsgType.Hello) this.#hello(id!, key, m);
          else if (m.type === MsgType.Ready) this.#ready(id!, key, m.transport, m.proof, m.reason);
          else if (m.type === MsgType.Bye) this.#bye(key);
        } catch {
          // one connection's failure is not the server's
        }
      }
    } catch {
      // the socket closed
    }
    this.#closed = true;
    for (const w of [...this.#waiting]) w();
  }

  #hello(id: Buffer, key: string, hello: Hello): void {
    // One handshake per connection: a connector dials a new one (a new routing id) to start over.
    if (this.#peers.has(key)) return;
    this.#dropPending(key); // a HELLO again before READY: start over
    if (this.#pending.size >= MAX_PENDING) {
      this.#refuse(id, `${MAX_PENDING} handshakes are in progress already; try again`);
      return;
    }
    let tx: ChannelWriter | null = null;
    let rx: ChannelReader | null = null;
    let proof: string | null = null;
    let why = "";
    let nonce: Uint8Array = new Uint8Array(0);
    if (this.#options.transport === "zmq") why = "the listener uses transport \"zmq\"";
    else if (hello.ring === null) why = `${hello.name} offered no ring`;
    else if (this.#isOwnRing(hello.ring)) why = `${hello.name} offered a ring of this listener's`;
    else {
      ({ tx, nonce, why } = makeRing(this.#options));
      if (tx !== null) ({ rx, proof, why } = attachRing(hello.ring, hello, "listener", tx.name));
      if (rx === null) {
        // Transport "zmq" whatever the connector says: no ring of ours to offer.
        tx?.close();
        tx = null;
      }
    }
    this.#pending.set(key, { hello, tx, nonce, rx, why, until: performance.now() + this.#handshakeTimeout });
    this.#expireLater();
    // Not awaited: one connection that does not read must not hold up the others' messages.
    void this.#queue.to(id).send(encodeControl({ type: MsgType.Welcome, ...this.#local, ring: tx?.name ?? null, proof })).catch(() => {});
  }

  /** Whether `name` is a ring this server made (a HELLO naming it must not make the server read its own ring). */
  #isOwnRing(name: string): boolean {
    for (const p of this.#pending.values()) if (p.tx?.name === name) return true;
    for (const k of this.#peers.values()) if (k.conn.tx?.name === name) return true;
    return false;
  }

  #refuse(id: Buffer, reason: string): void {
    void this.#queue.to(id).send(encodeControl({ type: MsgType.Refuse, reason })).catch(() => {});
  }

  /**
   * Handshakes that got no READY within the handshake timeout (a connector
   * that died, hung or never meant it) are dropped with their rings.
   */
  #expireLater(): void {
    if (this.#expiry !== null) return;
    this.#expiry = setTimeout(() => {
      this.#expiry = null;
      const now = performance.now();
      for (const [key, p] of this.#pending) {
        if (p.until <= now) {
          this.#dropPending(key);
          const id = Buffer.from(key, "hex");
          this.#queue.drop(id, shmError("ETIMEDOUT", "the handshake timed out"));
          this.#refuse(id, "the handshake timed out"); // a READY may be on its way: the connector must not think itself connected
        }
      }
      if (this.#pending.size > 0) this.#expireLater();
    }, 1000);
    this.#expiry.unref();
  }

  #ready(id: Buffer, key: string, transport: Transport, proof: string | null, reason: string): void {
    const p = this.#pending.get(key);
    if (p === undefined) return;
    this.#pending.delete(key);
    const shm = transport === "shm";
    if (shm && (p.tx === null || p.rx === null || !proofHolds(proof, p.nonce, "connector", p.tx.name, p.hello.ring))) {
      // The connector claims shared memory it did not prove: no peer.
      p.rx?.close();
      p.tx?.close();
      this.#refuse(id, "the proof does not match this side's ring");
      return;
    }
    if (!shm) {
      p.rx?.close();
      p.tx?.close();
    }
    const conn: Connection = {
      label: `${this.#local.name} -> ${p.hello.name} via ${this.endpoint}`,
      remote: p.hello,
      transport,
      reason: shm ? "" : reason ? `${p.hello.name}: ${reason}` : p.why, // READY's reason is the connector's own words
      link: {
        outbox: this.#queue.to(id),
        detach: () => {
          // The server forgets the connection (its rings are closed or swept by the Peer).
          if (this.#peers.get(key)?.conn !== conn) return;
          this.#peers.delete(key);
          this.#queue.drop(id, shmError("ECLOSED", "the peer is closed"));
        },
      },
      tx: shm ? p.tx : null,
      rx: shm ? p.rx : null,
    };
    const earlier = this.#peers.get(key);
    earlier?.peer.remoteEnd(earlier.conn); // an earlier connection with this id is over
    const peer = new Peer({ heartbeat: this.#options.heartbeat, maxMessageSize: this.#options.maxMessageSize, local: this.#local, connection: conn });
    this.#peers.set(key, { peer, conn });
    this.#made.add(peer);
    peer.on("state", (s: string) => {
      if (s === "closed") this.#made.delete(peer);
    });
    this.#accepted.push(peer);
    for (const w of [...this.#waiting]) w();
  }

  #bye(key: string): void {
    this.#dropPending(key);
    const known = this.#peers.get(key);
    known?.peer.remoteEnd(known.conn);
  }

  #dropPending(key: string): void {
    const p = this.#pending.get(key);
    if (p === undefined) return;
    p.rx?.close();
    p.tx?.close();
    this.#pending.delete(key);
  }

  /** Closes every peer, then the socket. */
  async close(): Promise<void> {
    if (this.#closed && this.#router.closed) return;
    this.#closed = true;
    for (const key of [...this.#pending.keys()]) {
      // A connector may have sent READY already and think itself connected: tell it the listener goes.
      this.#dropPending(key);
      void this.#queue.to(Buffer.from(key, "hex")).send(encodeControl({ type: MsgType.Bye, reconnect: true })).catch(() => {});
    }
    if (this.#expiry !== null) clearTimeout(this.#expiry);
    // Every Peer it made and the user did not close (dead, ended, or never taken from the iteration).
    await Promise.all([...this.#made].map((p) => p.closeWith(true, SERVER_CLOSE_DRAIN_MS)));
    // The BYEs just queued go out (ZeroMQ drops what is queued at close, with linger 0).
    this.#router.linger = CLOSE_LINGER_MS;
    this.#router.close();
    this.#unbind?.();
    for (const w of [...this.#waiting]) w();
  }
}

/**
 * Binds `endpoint` ("ipc://<path>": created owner-only; "tcp://127.0.0.1:<port>";
 * another address only with allowRemote) and serves connectors.
 */
export async function listen(endpoint: string, options: ListenOptions): Promise<Server> {
  validateEndpoint(endpoint);
  const o = validatePeerOptions(options, "options");
  const handshakeTimeout = options.handshakeTimeout === undefined ? DEFAULT_HANDSHAKE_TIMEOUT_MS : checkInteger("options.handshakeTimeout", options.handshakeTimeout, 1, 2 ** 31 - 1);
  if (endpoint.startsWith("tcp://") && !LOOPBACK.test(endpoint) && options.allowRemote !== true) {
    throw invalidArgValue("endpoint", "is not a loopback address: pass allowRemote: true to accept peers from other hosts", endpoint);
  }
  if (o.curve !== undefined && o.curve.secretKey === undefined) {
    throw invalidArgValue("options.curve.secretKey", "is required to listen with CURVE (the server's secret key)", undefined);
  }
  const zmq = loadZmq();
  // mandatory: a message for a connection whose queue is full waits (send()
  // resolves later) instead of being dropped, as a ROUTER does by default.
  const router = new zmq.Router({ linger: 0, mandatory: true, maxMessageSize: zmqFrameLimit(o.maxMessageSize) });
  if (o.curve?.secretKey !== undefined) {
    router.curveServer = true;
    router.curveSecretKey = o.curve.secretKey;
  }
  let b: Awaited<ReturnType<typeof bindEndpoint>>;
  try {
    // An ipc:// path is owner-only from the start: another user must not even connect (and learn our ring names).
    b = await bindEndpoint(router, endpoint);
  } catch (e) {
    router.close();
    const err = e as { code?: string; message?: string };
    const out = new Error(`listen(${endpoint}): ${err.message ?? String(e)}`) as Error & { code: string };
    out.code = err.code ?? "EINVAL";
    throw out;
  }
  return new Server(router, b.bound, o, handshakeTimeout, b.unbind);
}
