// The control plane's messages over ZeroMQ (docs/PROTOCOL.md §4): how two
// processes agree on a transport and exchange ring names, and how messages
// travel when they use ZeroMQ itself. Every message is one frame after the
// ROUTER's routing id:
//   header  8 bytes: "SMSH", u8 version (1), u8 type, u16 zero
//   body    the rest: HELLO/WELCOME/READY/REFUSE/BYE/HEARTBEAT/CREDIT: a
//           UTF-8 JSON object (at most MAX_CONTROL_BODY bytes); DATA: a u64
//           credit, then the bytes; ENVELOPE (a request, reply or error,
//           docs/PROTOCOL.md §7): a u64 credit, u32 kind, u32 id, the bytes
// (One frame, not two: a ZeroMQ frame costs as much as a small message.)
// Everything received is untrusted: decode() checks the header, the size and
// every field's type and range, and returns an error string instead of
// throwing for anything a peer sent.

export const PROTOCOL_VERSION = 1;
export const HEADER_SIZE = 8;
const MAGIC = [0x53, 0x4d, 0x53, 0x48]; // "SMSH"
/** Largest control body accepted (a HELLO is about 300 bytes). */
export const MAX_CONTROL_BODY = 64 * 1024;

/** Message types on the wire (header byte 5). */
export const MsgType = { Hello: 1, Welcome: 2, Ready: 3, Refuse: 4, Data: 5, Bye: 6, Heartbeat: 7, Credit: 8, Envelope: 9 } as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

export type Transport = "shm" | "zmq";

/** Who a side is: sent in HELLO and WELCOME. */
export interface Identity {
  /** The user's name for this side (listen/connect option). */
  name: string;
  pid: number;
  uid: number;
  /** Process start time in clock ticks since boot (decimal string: a u64). */
  startTime: string;
  /** This host's boot id (/proc/sys/kernel/random/boot_id), or "" where there is none. */
  host: string;
}

export interface Hello extends Identity {
  type: typeof MsgType.Hello;
  /** The connector's ring (connector -> listener), or null when it offers ZeroMQ only. */
  ring: string | null;
}

export interface Welcome extends Identity {
  type: typeof MsgType.Welcome;
  /** The listener's ring (listener -> connector), or null. */
  ring: string | null;
  /** The token read from the connector's ring header (hex), proving the listener mapped it; null if it could not. */
  proof: string | null;
}

export interface Ready {
  type: typeof MsgType.Ready;
  /** The token read from the listener's ring header (hex), or null. */
  proof: string | null;
  /** The transport both sides now use: "shm" only if both proofs hold. */
  transport: Transport;
  /** Why ZeroMQ, when it is. */
  reason: string;
}

export interface Refuse {
  type: typeof MsgType.Refuse;
  reason: string;
}

export interface Bye {
  type: typeof MsgType.Bye;
  /** true: the listener closes itself, not this conversation (a connector dials again); absent or false: the conversation is over. */
  reconnect: boolean;
}

export interface Heartbeat {
  type: typeof MsgType.Heartbeat;
}

/** Flow control on transport "zmq" (docs/PROTOCOL.md §4.5): bytes of DATA the sender of CREDIT consumed since it last said. */
export interface Credit {
  type: typeof MsgType.Credit;
  bytes: number;
}

/**
 * A side may have at most this many bytes of DATA sent and not yet credited
 * back (one message of any size when nothing is outstanding): the most a
 * peer's messages take of the other side's memory before it reads them.
 */
export const CREDIT_WINDOW = 64 * 1024 * 1024;

export type Control = Hello | Welcome | Ready | Refuse | Bye | Heartbeat | Credit;
/** A request, reply or error on transport "zmq" (docs/PROTOCOL.md §7): as DATA, with the envelope's kind and id. */
export interface EnvelopeMsg {
  type: typeof MsgType.Envelope;
  credit: number;
  kind: number;
  id: number;
  data: Uint8Array;
}

export type Decoded = Control | { type: typeof MsgType.Data; credit: number; data: Uint8Array } | EnvelopeMsg | { error: string };

export function header(type: MsgType): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h.set(MAGIC, 0);
  h[4] = PROTOCOL_VERSION;
  h[5] = type;
  return h;
}

/** The frame of a control message. */
export function encodeControl(m: Control): [Buffer] {
  const { type, ...body } = m;
  return [Buffer.concat([header(type), Buffer.from(JSON.stringify(body), "utf8")])];
}

const DATA_HEADER = header(MsgType.Data);
/** A DATA frame: the header, the credit the sender grants (u64 LE, as a CREDIT message would), the bytes. */
export const DATA_PREFIX = HEADER_SIZE + 8;

/** ZeroMQ's maxMessageSize for a peer whose messages are at most `maxMessage` bytes: a DATA frame of it, or any control message. */
export function zmqFrameLimit(maxMessage: number): number {
  return Math.max(DATA_PREFIX + maxMessage, HEADER_SIZE + MAX_CONTROL_BODY);
}

/** The frame of a DATA message: a copy of the bytes (zeromq may send after the caller reuses them), with `credit` piggybacked. */
export function encodeData(bytes: Uint8Array, credit: number): [Buffer] {
  const f = Buffer.allocUnsafe(DATA_PREFIX + bytes.byteLength);
  f.set(DATA_HEADER, 0);
  f.writeUIntLE(credit, HEADER_SIZE, 6);
  f.writeUInt16LE(0, HEADER_SIZE + 6);
  f.set(bytes, DATA_PREFIX);
  return [f];
}

const ENVELOPE_MSG_HEADER = header(MsgType.Envelope);
/** An ENVELOPE frame's bytes before its body: the header, the credit (u64), kind and id (u32 each). */
export const ENVELOPE_PREFIX = DATA_PREFIX + 8;

/** The frame of an ENVELOPE message: as encodeData, with `kind` and `id` after the credit. */
export function encodeEnvelope(kind: number, id: number, bytes: Uint8Array, credit: number): [Buffer] {
  const f = Buffer.allocUnsafe(ENVELOPE_PREFIX + bytes.byteLength);
  f.set(ENVELOPE_MSG_HEADER, 0);
  f.writeUIntLE(credit, HEADER_SIZE, 6);
  f.writeUInt16LE(0, HEADER_SIZE + 6);
  f.writeUInt32LE(kind, DATA_PREFIX);
  f.writeUInt32LE(id, DATA_PREFIX + 4);
  f.set(bytes, ENVELOPE_PREFIX);
  return [f];
}

const NAME_MAX = 256;
const RING_RE = /^smsh-[a-z2-7]{16}$/;
const HEX32_RE = /^[0-9a-f]{32}$/;

/** Decodes the frames of one message (after the routing id); never throws for what a peer sent. */
export function decode(frames: readonly Uint8Array[]): Decoded {
  if (frames.length !== 1) return { error: `${frames.length} frames, expected 1` };
  const f = frames[0]!;
  if (f.length < HEADER_SIZE || MAGIC.some((b, i) => f[i] !== b)) return { error: "not a synaptic-shm message (bad header)" };
  const h = f.subarray(0, HEADER_SIZE);
  const body = f.subarray(HEADER_SIZE);
  if (h[4] !== PROTOCOL_VERSION) return { error: `protocol version ${h[4]}, this side speaks ${PROTOCOL_VERSION}` };
  const type = h[5]!;
  if (type === MsgType.Data || type === MsgType.Envelope) {
    const name = type === MsgType.Data ? "DATA" : "ENVELOPE";
    if (body.length < 8) return { error: `${name} without its credit field` };
    if (body[6] !== 0 || body[7] !== 0) return { error: `${name} credit above 2^48` };
    const credit = body[0]! + body[1]! * 2 ** 8 + body[2]! * 2 ** 16 + body[3]! * 2 ** 24 + body[4]! * 2 ** 32 + body[5]! * 2 ** 40;
    if (type === MsgType.Data) return { type: MsgType.Data, credit, data: body.subarray(8) };
    if (body.length < 16) return { error: "ENVELOPE without its kind and id" };
    const kind = body[8]! | (body[9]! << 8) | (body[10]! << 16) | (body[11]! << 24);
    const id = (body[12]! | (body[13]! << 8) | (body[14]! << 16) | (body[15]! << 24)) >>> 0;
    if (kind < 1 || kind > 3) return { error: `ENVELOPE of unknown kind ${kind >>> 0}` };
    return { type: MsgType.Envelope, credit, kind, id, data: body.subarray(16) };
  }
  if (type < MsgType.Hello || type > MsgType.Credit) return { error: `unknown message type ${type}` };
  if (body.length > MAX_CONTROL_BODY) return { error: `control body of ${body.length} bytes (> ${MAX_CONTROL_BODY})` };
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
  } catch {
    return { error: "control body is not JSON" };
  }
  if (o === null || typeof o !== "object" || Array.isArray(o)) return { error: "control body is not a JSON object" };
  const b = o as Record<string, unknown>;
  const str = (k: string, max: number): string | null => (typeof b[k] === "string" && (b[k] as string).length <= max ? (b[k] as string) : null);
  const int = (k: string): number | null => (Number.isSafeInteger(b[k]) && (b[k] as number) >= 0 ? (b[k] as number) : null);
  const ringOf = (k: string): string | null | undefined => (b[k] === null ? null : typeof b[k] === "string" && RING_RE.test(b[k] as string) ? (b[k] as string) : undefined);
  const proofOf = (k: string): string | null | undefined => (b[k] === null ? null : typeof b[k] === "string" && HEX32_RE.test(b[k] as string) ? (b[k] as string) : undefined);
  const identity = (): Identity | string => {
    const name = str("name", NAME_MAX);
    const pid = int("pid");
    const uid = int("uid");
    const startTime = str("startTime", 20);
    const host = str("host", 64);
    if (name === null || name.length === 0) return "name";
    if (pid === null) return "pid";
    if (uid === null) return "uid";
    if (startTime === null || !/^\d{1,20}$/.test(startTime)) return "startTime";
    if (host === null) return "host";
    return { name, pid, uid, startTime, host };
  };
  switch (type) {
    case MsgType.Hello:
    case MsgType.Welcome: {
      const id = identity();
      if (typeof id === "string") return { error: `${type === MsgType.Hello ? "HELLO" : "WELCOME"}: bad or missing ${id}` };
      const ring = ringOf("ring");
      if (ring === undefined) return { error: "bad ring name" };
      if (type === MsgType.Hello) return { type: MsgType.Hello, ...id, ring };
      const proof = proofOf("proof");
      if (proof === undefined) return { error: "WELCOME: bad proof" };
      return { type: MsgType.Welcome, ...id, ring, proof };
    }
    case MsgType.Ready: {
      const proof = proofOf("proof");
      const transport = b.transport;
      const reason = str("reason", 1024);
      if (proof === undefined || (transport !== "shm" && transport !== "zmq") || reason === null) return { error: "READY: bad fields" };
      if (transport === "shm" && proof === null) return { error: "READY: shm without a proof" };
      return { type: MsgType.Ready, proof, transport, reason };
    }
    case MsgType.Refuse: {
      const reason = str("reason", 1024);
      return reason === null ? { error: "REFUSE: bad reason" } : { type: MsgType.Refuse, reason };
    }
    case MsgType.Heartbeat:
      return { type: MsgType.Heartbeat };
    case MsgType.Credit: {
      const bytes = int("bytes");
      return bytes === null ? { error: "CREDIT: bad bytes" } : { type: MsgType.Credit, bytes };
    }
    default:
      return { type: MsgType.Bye, reconnect: b.reconnect === true };
  }
}
