// connect(): the connector's side of the handshake (docs/PROTOCOL.md §4): a
// DEALER to the listener's ROUTER; HELLO with this side's ring, WELCOME with
// the listener's ring and its proof of ours, READY with our proof of its
// ring and the transport both sides then use.
import type { ChannelReader } from "../channel/reader.js";
import type { ChannelWriter } from "../channel/writer.js";
import { abortError, checkInteger, invalidArgType, invalidArgValue, shmError } from "../core/errors.js";
import { attachRing, localIdentity, makeRing, proofHolds, type RingOptions } from "./handshake.js";
import { CLOSE_DRAIN_MS, DEFAULT_HEARTBEAT, Peer, type Connection, type HeartbeatOptions } from "./peer.js";
import { MsgType, zmqFrameLimit, decode, encodeControl, type Control, type Identity, type Transport } from "./protocol.js";
import { SendQueue, loadZmq, type Zmq } from "./zmq.js";

export interface PeerOptions extends RingOptions {
  /** This side's name, as the other side sees it (remoteName). */
  name: string;
  /** "auto" (default): shared memory when both sides prove they can map each other's rings, else ZeroMQ; "zmq": ZeroMQ always. */
  transport?: "auto" | "zmq";
  /** Liveness (a remote or hung peer): the connection is lost after timeoutMs of silence. */
  heartbeat?: HeartbeatOptions;
  /**
   * Largest message on transport "zmq", in bytes (default 1 GiB): a larger
   * send() is a RangeError here, and ZeroMQ drops a connection that sends
   * this side a larger frame (memory a peer can make this side hold).
   */
  maxMessageSize?: number;
  /** ZeroMQ's CURVE encryption and authentication of the control socket (and of the messages on transport "zmq"); see curveKeyPair(). */
  curve?: CurveOptions;
}

/** Z85 keys (40 characters), as curveKeyPair() makes them. */
export interface CurveOptions {
  /** listen(): the server's secret key. connect(): this client's (with publicKey; a fresh pair when both are left out). */
  secretKey?: string;
  /** connect(): this client's public key. */
  publicKey?: string;
  /** connect(): the listener's public key (required for a connector). */
  serverKey?: string;
}

export interface ConnectOptions extends PeerOptions {
  /** How long the handshake may take, in ms (default 10,000): ETIMEDOUT after it. */
  timeout?: number;
  /**
   * true (default): when the connection is lost (the listener died, hung
   * past the heartbeat timeout, closed or restarted) the Peer dials again by
   * itself, state "reconnecting", and goes on over the new connection (at
   * most once: what the lost connection had not delivered is lost, nothing
   * is repeated or reordered). false: the loss ends the Peer (EPEERDEAD).
   */
  reconnect?: boolean;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** A CURVE key pair (Z85): the listener's secretKey goes to listen(), its publicKey to each connect() as serverKey. */
export function curveKeyPair(): { publicKey: string; secretKey: string } {
  return loadZmq().curveKeyPair();
}
export const DEFAULT_MAX_MESSAGE_SIZE = 2 ** 30;
const REDIAL_FIRST_WAIT_MS = 250;

export function validatePeerOptions(
  o: unknown,
  what: string,
): Required<Pick<PeerOptions, "name" | "transport" | "maxMessageSize">> & RingOptions & { heartbeat: Required<HeartbeatOptions>; curve?: CurveOptions } {
  if (o === null || typeof o !== "object") throw invalidArgType(what, "an object with a name", o);
  const { name, transport = "auto", capacity, pool, heartbeat = {}, curve, maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE } = o as PeerOptions;
  checkInteger(`${what}.maxMessageSize`, maxMessageSize, 1, 2 ** 40);
  if (typeof name !== "string" || name.length === 0 || name.length > 256) throw invalidArgValue(`${what}.name`, "must be a string of 1 to 256 characters", name);
  if (transport !== "auto" && transport !== "zmq") throw invalidArgValue(`${what}.transport`, 'must be "auto" or "zmq"', transport);
  if (heartbeat === null || typeof heartbeat !== "object") throw invalidArgType(`${what}.heartbeat`, "an object", heartbeat);
  const intervalMs = heartbeat.intervalMs ?? DEFAULT_HEARTBEAT.intervalMs;
  const timeoutMs = heartbeat.timeoutMs ?? DEFAULT_HEARTBEAT.timeoutMs;
  checkInteger(`${what}.heartbeat.intervalMs`, intervalMs, 10, 2 ** 31 - 1);
  checkInteger(`${what}.heartbeat.timeoutMs`, timeoutMs, 2 * intervalMs, 2 ** 31 - 1, "at least twice intervalMs");
  if (curve !== undefined) {
    if (curve === null || typeof curve !== "object") throw invalidArgType(`${what}.curve`, "an object", curve);
    for (const k of ["secretKey", "publicKey", "serverKey"] as const) {
      const v = curve[k];
      if (v !== undefined && (typeof v !== "string" || !/^[0-9a-zA-Z.:+=^!/*?&<>()[\]{}@%$#-]{40}$/.test(v))) {
        throw invalidArgValue(`${what}.curve.${k}`, "must be a Z85 key of 40 characters (curveKeyPair())", v);
      }
    }
  }
  return { name, transport, capacity, pool, heartbeat: { intervalMs, timeoutMs }, curve, maxMessageSize };
}

export function validateEndpoint(endpoint: unknown): string {
  if (typeof endpoint !== "string" || !/^(ipc:\/\/.+|tcp:\/\/.+:(\d+|\*))$/.test(endpoint)) {
    throw invalidArgValue("endpoint", 'must be "ipc://<path>" or "tcp://<host>:<port>"', endpoint);
  }
  return endpoint;
}

/**
 * Connects to a listener and completes the handshake; the Peer's transport
 * says what it agreed. With reconnect (the default) the Peer dials again
 * whenever the connection is lost.
 */
export async function connect(endpoint: string, options: ConnectOptions): Promise<Peer> {
  validateEndpoint(endpoint);
  const o = validatePeerOptions(options, "options");
  const timeout = options.timeout === undefined ? DEFAULT_HANDSHAKE_TIMEOUT_MS : checkInteger("options.timeout", options.timeout, 1, 2 ** 31 - 1);
  const reconnect = options.reconnect ?? true;
  if (typeof reconnect !== "boolean") throw invalidArgType("options.reconnect", "of type boolean", reconnect);
  const zmq = loadZmq();
  if (o.curve !== undefined && o.curve.serverKey === undefined) throw invalidArgValue("options.curve.serverKey", "is required to connect with CURVE (the listener's public key)", undefined);
  if (o.curve !== undefined && (o.curve.secretKey === undefined) !== (o.curve.publicKey === undefined)) {
    throw invalidArgValue("options.curve", "needs both publicKey and secretKey, or neither (a fresh pair)", "one of them");
  }
  const curve = o.curve === undefined ? undefined : ({ ...zmq.curveKeyPair(), ...o.curve } as Required<CurveOptions>);
  const local = localIdentity(o.name);
  const d: Dial = { zmq, endpoint, o, curve, local, timeout };
  const first = await dial(d);
  // A dial again waits for WELCOME 250 ms, then twice as long each time (up to the handshake timeout): its
  // HELLO may have gone to the listener that was closing, and a fresh socket reaches the new one at once.
  let attempt = 0;
  const redial = (signal: AbortSignal): Promise<Connection> => dial({ ...d, timeout: Math.min(timeout, REDIAL_FIRST_WAIT_MS * 2 ** Math.min(attempt++, 16)) }, signal);
  return new Peer({
    heartbeat: o.heartbeat,
    maxMessageSize: o.maxMessageSize,
    local,
    connection: first,
    redial: reconnect ? redial : undefined,
    onConnected: () => (attempt = 0),
  });
}

interface Dial {
  zmq: Zmq;
  endpoint: string;
  o: ReturnType<typeof validatePeerOptions>;
  curve: Required<CurveOptions> | undefined;
  local: Identity;
  timeout: number;
}

type Dealer = InstanceType<Zmq["Dealer"]>;

/** One connection: a fresh DEALER (a new routing id, nothing queued from a lost one) and the handshake on it. */
async function dial({ zmq, endpoint, o, curve, local, timeout }: Dial, signal?: AbortSignal): Promise<Connection> {
  // linger 0: close() drops what the listener never took (it is gone anyway).
  // Dial every 10 ms while the listener is away (a refused connect on
  // loopback or ipc costs a syscall): it is back within 10 ms of listening.
  const remote = endpoint.startsWith("tcp://") && !/^tcp:\/\/(127\.|localhost:|\[::1\]:)/.test(endpoint);
  const sock = new zmq.Dealer({
    linger: 0,
    reconnectInterval: remote ? 100 : 10,
    reconnectMaxInterval: remote ? 2000 : 0,
    maxMessageSize: zmqFrameLimit(o.maxMessageSize),
  });
  if (curve !== undefined) {
    sock.curveServerKey = curve.serverKey;
    sock.curvePublicKey = curve.publicKey;
    sock.curveSecretKey = curve.secretKey;
  }
  sock.connect(endpoint);
  const queue = new SendQueue(sock);
  let tx: ChannelWriter | null = null;
  let rx: ChannelReader | null = null;
  try {
    let why = "";
    let nonce: Uint8Array = new Uint8Array(0);
    if (o.transport === "zmq") why = "transport \"zmq\" was asked for";
    else ({ tx, nonce, why } = makeRing(o));
    await queue.send(encodeControl({ type: MsgType.Hello, ...local, ring: tx?.name ?? null }));
    const welcome = await nextControl(sock, timeout, endpoint, signal);
    if (welcome.type === MsgType.Refuse) throw shmError("ECONNREFUSED", `${endpoint} refused: ${welcome.reason}`);
    if (welcome.type !== MsgType.Welcome) throw shmError("ECORRUPT", `${endpoint} answered HELLO with message type ${welcome.type}`);
    let transport: Transport = "zmq";
    let proof: string | null = null;
    if (tx !== null && o.transport === "auto") {
      // Its proof first: a listener that did not map our ring gets none of its own mapped.
      if (!proofHolds(welcome.proof, nonce, "listener", tx.name, welcome.ring)) why = welcome.proof === null ? `${welcome.name} could not map this side's ring` : `${welcome.name}'s proof does not match this side's ring`;
      else {
        const a = attachRing(welcome.ring, welcome, "connector", tx.name);
        rx = a.rx;
        proof = a.proof;
        if (rx === null) why = a.why;
        else transport = "shm";
      }
    }
    if (transport === "zmq") {
      rx?.close();
      tx?.close();
      rx = tx = null;
      proof = null;
    }
    await queue.send(encodeControl({ type: MsgType.Ready, proof, transport, reason: why }));
    const c: Connection = {
      label: `${local.name} -> ${welcome.name} via ${endpoint}`,
      remote: welcome,
      transport,
      reason: transport === "zmq" ? why : "",
      tx,
      rx,
      link: {
        outbox: queue,
        detach: (drain, lingerMs = CLOSE_DRAIN_MS) => {
          // What ZeroMQ holds (the last messages, the BYE) still goes out, for at most lingerMs.
          sock.linger = drain ? lingerMs : 0;
          sock.close();
        },
        start: (peer) => void receiveLoop(sock, peer, c),
      },
    };
    return c;
  } catch (e) {
    rx?.close();
    tx?.close();
    sock.close();
    throw e;
  }
}

/** The next control message from the listener, within `timeout` ms, unless `signal` aborts. */
async function nextControl(sock: Dealer, timeout: number, endpoint: string, signal?: AbortSignal): Promise<Control> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(shmError("ETIMEDOUT", `no answer from ${endpoint} within ${timeout} ms (is a listener there?)`)), timeout);
    if (signal !== undefined) {
      onAbort = () => reject(abortError(signal));
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  try {
    for (;;) {
      const frames = await Promise.race([sock.receive(), stopped]);
      const m = decode(frames);
      if ("error" in m) throw shmError("ECORRUPT", `${endpoint}: ${m.error}`);
      if (m.type === MsgType.Data || m.type === MsgType.Envelope) continue; // not before READY: ignore
      return m;
    }
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
}

/** Delivers the listener's messages on connection `c` to the peer until the socket closes (the Peer retired `c` or closed). */
async function receiveLoop(sock: Dealer, peer: Peer, c: Connection): Promise<void> {
  try {
    for await (const frames of sock) {
      const m = decode(frames);
      if ("error" in m) continue; // a peer speaking nonsense: dropped
      peer.heard(c);
      if (m.type === MsgType.Data) peer.deliver(c, m.data, m.credit);
      else if (m.type === MsgType.Envelope) peer.deliverEnvelope(c, m);
      else if (m.type === MsgType.Credit) peer.credit(c, m.bytes);
      else if (m.type === MsgType.Bye) peer.bye(c, m.reconnect);
      else if (m.type === MsgType.Refuse) peer.remoteEnd(c);
    }
  } catch {
    // the socket closed
  }
}
