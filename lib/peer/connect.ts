// connect(): the connector's side of the handshake (docs/PROTOCOL.md §4): a
// DEALER to the listener's ROUTER; HELLO with this side's ring, WELCOME with
// the listener's ring and its proof of ours, READY with our proof of its
// ring and the transport both sides then use.
import type { ChannelReader } from "../channel/reader.js";
import type { ChannelWriter } from "../channel/writer.js";
import { checkInteger, invalidArgType, invalidArgValue, shmError } from "../core/errors.js";
import { attachRing, localIdentity, makeRing, type RingOptions } from "./handshake.js";
import { CLOSE_DRAIN_MS, DEFAULT_HEARTBEAT, Peer, type HeartbeatOptions } from "./peer.js";
import { MsgType, decode, encodeControl, type Control, type Transport } from "./protocol.js";
import { SendQueue, loadZmq } from "./zmq.js";

export interface PeerOptions extends RingOptions {
  /** This side's name, as the other side sees it (remoteName). */
  name: string;
  /** "auto" (default): shared memory when both sides prove they can map each other's rings, else ZeroMQ; "zmq": ZeroMQ always. */
  transport?: "auto" | "zmq";
  /** Liveness of a peer on transport "zmq" (a remote or hung one): EPEERDEAD after timeoutMs of silence. */
  heartbeat?: HeartbeatOptions;
}

export interface ConnectOptions extends PeerOptions {
  /** How long the handshake may take, in ms (default 10,000): ETIMEDOUT after it. */
  timeout?: number;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export function validatePeerOptions(
  o: unknown,
  what: string,
): Required<Pick<PeerOptions, "name" | "transport">> & RingOptions & { heartbeat: Required<HeartbeatOptions> } {
  if (o === null || typeof o !== "object") throw invalidArgType(what, "an object with a name", o);
  const { name, transport = "auto", capacity, pool, heartbeat = {} } = o as PeerOptions;
  if (typeof name !== "string" || name.length === 0 || name.length > 256) throw invalidArgValue(`${what}.name`, "must be a string of 1 to 256 characters", name);
  if (transport !== "auto" && transport !== "zmq") throw invalidArgValue(`${what}.transport`, 'must be "auto" or "zmq"', transport);
  if (heartbeat === null || typeof heartbeat !== "object") throw invalidArgType(`${what}.heartbeat`, "an object", heartbeat);
  const intervalMs = heartbeat.intervalMs ?? DEFAULT_HEARTBEAT.intervalMs;
  const timeoutMs = heartbeat.timeoutMs ?? DEFAULT_HEARTBEAT.timeoutMs;
  checkInteger(`${what}.heartbeat.intervalMs`, intervalMs, 10, 2 ** 31 - 1);
  checkInteger(`${what}.heartbeat.timeoutMs`, timeoutMs, 2 * intervalMs, 2 ** 31 - 1, "at least twice intervalMs");
  return { name, transport, capacity, pool, heartbeat: { intervalMs, timeoutMs } };
}

export function validateEndpoint(endpoint: unknown): string {
  if (typeof endpoint !== "string" || !/^(ipc:\/\/.+|tcp:\/\/.+:(\d+|\*))$/.test(endpoint)) {
    throw invalidArgValue("endpoint", 'must be "ipc://<path>" or "tcp://<host>:<port>"', endpoint);
  }
  return endpoint;
}

/** Connects to a listener and completes the handshake; the Peer's transport says what it agreed. */
export async function connect(endpoint: string, options: ConnectOptions): Promise<Peer> {
  validateEndpoint(endpoint);
  const o = validatePeerOptions(options, "options");
  const timeout = options.timeout === undefined ? DEFAULT_HANDSHAKE_TIMEOUT_MS : checkInteger("options.timeout", options.timeout, 1, 2 ** 31 - 1);
  const zmq = loadZmq();
  // linger 0: close() drops what the listener never took (it is gone anyway).
  const sock = new zmq.Dealer({ linger: 0 });
  sock.connect(endpoint);
  const queue = new SendQueue(sock);
  const local = localIdentity(o.name);
  let tx: ChannelWriter | null = null;
  let rx: ChannelReader | null = null;
  try {
    let why = "";
    let nonce = "";
    if (o.transport === "zmq") why = "transport \"zmq\" was asked for";
    else ({ tx, nonce, why } = makeRing(o));
    await queue.send(encodeControl({ type: MsgType.Hello, ...local, ring: tx?.name ?? null }));
    const welcome = await nextControl(sock, timeout, endpoint);
    if (welcome.type === MsgType.Refuse) throw shmError("ECONNREFUSED", `${endpoint} refused: ${welcome.reason}`);
    if (welcome.type !== MsgType.Welcome) throw shmError("ECORRUPT", `${endpoint} answered HELLO with message type ${welcome.type}`);
    let transport: Transport = "zmq";
    let proof: string | null = null;
    if (tx !== null && o.transport === "auto") {
      const a = attachRing(welcome.ring, welcome);
      rx = a.rx;
      proof = a.proof;
      if (welcome.proof !== nonce) why = welcome.proof === null ? `${welcome.name} could not map this side's ring` : `${welcome.name}'s proof does not match this side's ring`;
      else if (rx === null) why = a.why;
      else transport = "shm";
    }
    if (transport === "zmq") {
      rx?.close();
      tx?.close();
      rx = tx = null;
      proof = null;
    }
    await queue.send(encodeControl({ type: MsgType.Ready, proof, transport, reason: why }));
    const peer = new Peer({
      heartbeat: o.heartbeat,
      local,
      remote: welcome,
      transport,
      reason: transport === "zmq" ? why : "",
      link: {
        outbox: queue,
        detach: () => {
          // What ZeroMQ holds (the last messages, the BYE) still goes out, for at most CLOSE_DRAIN_MS.
          sock.linger = CLOSE_DRAIN_MS;
          sock.close();
        },
      },
      tx: tx ?? undefined,
      rx: rx ?? undefined,
    });
    void receiveLoop(sock, peer);
    return peer;
  } catch (e) {
    rx?.close();
    tx?.close();
    sock.close();
    throw e;
  }
}

type Dealer = InstanceType<ReturnType<typeof loadZmq>["Dealer"]>;

/** The next control message from the listener, within `timeout` ms. */
async function nextControl(sock: Dealer, timeout: number, endpoint: string): Promise<Control> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(shmError("ETIMEDOUT", `no answer from ${endpoint} within ${timeout} ms (is a listener there?)`)), timeout);
  });
  try {
    for (;;) {
      const frames = await Promise.race([sock.receive(), timedOut]);
      const m = decode(frames);
      if ("error" in m) throw shmError("ECORRUPT", `${endpoint}: ${m.error}`);
      if (m.type === MsgType.Data) continue; // not before READY: ignore
      return m;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Delivers the listener's messages to the peer until either side ends. */
async function receiveLoop(sock: Dealer, peer: Peer): Promise<void> {
  try {
    for await (const frames of sock) {
      const m = decode(frames);
      if ("error" in m) continue; // a peer speaking nonsense: dropped
      peer.heard();
      if (m.type === MsgType.Data) peer.deliver(m.data);
      else if (m.type === MsgType.Bye || m.type === MsgType.Refuse) peer.remoteEnd();
    }
  } catch {
    // the socket closed
  }
  peer.remoteEnd();
}
