// The publish/subscribe conversation (docs/PROTOCOL.md §8): what a
// subscriber and its publisher say to each other over their Peer (transport
// "zmq": every message below is one DATA message of §4). Byte 0 is the kind,
// bytes 1-3 are zero unless said otherwise; JSON bodies are UTF-8 objects of
// at most MAX_JSON bytes:
//   1  SUBSCRIBE  sub -> pub   JSON {topics: string[], shm: boolean}   first message
//   2  TOPICS     sub -> pub   JSON {topics: string[]}                 the whole new list
//   3  CONSUMED   sub -> pub   u64 count (bytes 8-15, LE): MESSAGEs taken by the user since
//                              SUBSCRIBE (cumulative); the publisher keeps at most `window`
//                              MESSAGEs sent and not consumed per subscriber
//   4  FALLBACK   sub -> pub   JSON {reason}: it could not attach the ring WELCOME named;
//                              serve it over ZeroMQ (a second WELCOME answers)
//   5  ATTACHED   sub -> pub   JSON {slot}: it attached the ring and holds this slot (the
//                              publisher's view of it, its eviction; informative)
//   16 WELCOME    pub -> sub   JSON {policy, blockTimeout, window, transport, ring, reason}
//   17 MESSAGE    pub -> sub   u16 topic length (bytes 2-3, LE), topic (UTF-8), payload
//   18 MISSED     pub -> sub   u64 count (bytes 8-15, LE, < 2^53): messages for this
//                              subscriber the publisher did not send, just before the next
//   19 EVICTED    pub -> sub   JSON {reason}: a "block" publisher gave up on this subscriber
//   20 REFUSED    pub -> sub   JSON {reason}: a message broke this protocol
// Everything received is untrusted: decodeFromSubscriber/decodeFromPublisher
// check every byte and field and return an error string instead of throwing.

export const Kind = { Subscribe: 1, Topics: 2, Consumed: 3, Fallback: 4, Attached: 5, Welcome: 16, Message: 17, Missed: 18, Evicted: 19, Refused: 20 } as const;

export type Policy = "block" | "drop";

/** Largest JSON body (a SUBSCRIBE of MAX_TOPICS prefixes of some length). */
export const MAX_JSON = 256 * 1024;
/** Most prefixes one subscriber may hold. */
export const MAX_TOPICS = 1024;
/** Longest topic or prefix, in UTF-8 bytes (the u16 of MESSAGE). */
export const MAX_TOPIC_BYTES = 65535;

export type FromSubscriber =
  | { kind: typeof Kind.Subscribe; topics: string[]; shm: boolean }
  | { kind: typeof Kind.Topics; topics: string[] }
  | { kind: typeof Kind.Consumed; count: number }
  | { kind: typeof Kind.Fallback; reason: string }
  | { kind: typeof Kind.Attached; slot: number }
  | { error: string };

export interface Welcome {
  kind: typeof Kind.Welcome;
  policy: Policy;
  blockTimeout: number;
  /** MESSAGEs the publisher sends ahead of this subscriber's CONSUMED. */
  window: number;
  transport: "shm" | "zmq";
  /** The broadcast ring's name (transport "shm"), else null. */
  ring: string | null;
  /** Why "zmq" ("" for "shm"). */
  reason: string;
}

export type FromPublisher =
  | Welcome
  | { kind: typeof Kind.Message; topic: string; data: Uint8Array }
  | { kind: typeof Kind.Missed; count: number }
  | { kind: typeof Kind.Evicted; reason: string }
  | { kind: typeof Kind.Refused; reason: string }
  | { error: string };

/** Whether `topic` starts with one of `prefixes` (ZeroMQ SUB: "" matches all, none matches nothing). */
export function topicMatches(prefixes: Iterable<string>, topic: string): boolean {
  for (const p of prefixes) if (topic.startsWith(p)) return true;
  return false;
}

function json(kind: number, body: object): Buffer {
  const b = Buffer.from(JSON.stringify(body), "utf8");
  const f = Buffer.allocUnsafe(4 + b.length);
  f.writeUInt32LE(kind, 0);
  f.set(b, 4);
  return f;
}

export const encodeSubscribe = (topics: string[], shm: boolean): Buffer => json(Kind.Subscribe, { topics, shm });
export const encodeTopics = (topics: string[]): Buffer => json(Kind.Topics, { topics });
export const encodeWelcome = (w: Omit<Welcome, "kind">): Buffer => json(Kind.Welcome, w);
export const encodeFallback = (reason: string): Buffer => json(Kind.Fallback, { reason: reason.slice(0, 4096) });
export const encodeAttached = (slot: number): Buffer => json(Kind.Attached, { slot });
export const encodeEvicted = (reason: string): Buffer => json(Kind.Evicted, { reason });
export const encodeRefused = (reason: string): Buffer => json(Kind.Refused, { reason });

function counted(kind: number, count: number): Buffer {
  const f = Buffer.alloc(16);
  f[0] = kind;
  f.writeUInt32LE(count % 2 ** 32, 8);
  f.writeUInt32LE(Math.floor(count / 2 ** 32), 12);
  return f;
}
export const encodeMissed = (count: number): Buffer => counted(Kind.Missed, count);
export const encodeConsumed = (count: number): Buffer => counted(Kind.Consumed, count);

/** The count of MISSED or CONSUMED (a safe integer), or null for a bad frame. */
function countOf(f: Uint8Array): number | null {
  if (f.length !== 16 || f[1] !== 0 || f[2] !== 0 || f[3] !== 0 || f[4] !== 0 || f[5] !== 0 || f[6] !== 0 || f[7] !== 0) return null;
  const v = new DataView(f.buffer, f.byteOffset, 16);
  const count = v.getUint32(8, true) + v.getUint32(12, true) * 2 ** 32;
  return Number.isSafeInteger(count) ? count : null;
}

/** The MESSAGE frame: one copy of the payload, shared by every remote subscriber (each Peer copies it once more into its DATA frame). */
export function encodeMessage(topic: Buffer, data: Uint8Array): Buffer {
  const f = Buffer.allocUnsafe(4 + topic.length + data.byteLength);
  f[0] = Kind.Message;
  f[1] = 0;
  f.writeUInt16LE(topic.length, 2);
  f.set(topic, 4);
  f.set(data, 4 + topic.length);
  return f;
}

/** A topic as the wire carries it; the checks a topic argument gets. */
export function topicBytes(name: string, topic: unknown): Buffer {
  if (typeof topic !== "string") throw Object.assign(new TypeError(`The "${name}" argument must be of type string. Received type ${typeof topic}`), { code: "ERR_INVALID_ARG_TYPE" });
  const b = Buffer.from(topic, "utf8");
  if (b.length > MAX_TOPIC_BYTES) throw Object.assign(new RangeError(`The "${name}" argument is longer than ${MAX_TOPIC_BYTES} bytes in UTF-8 (${b.length})`), { code: "ERR_OUT_OF_RANGE" });
  return b;
}

function body(f: Uint8Array): Record<string, unknown> | string {
  if (f.length < 4 || f[1] !== 0 || f[2] !== 0 || f[3] !== 0) return "bad header";
  if (f.length - 4 > MAX_JSON) return `JSON body of ${f.length - 4} bytes (> ${MAX_JSON})`;
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(f.buffer, f.byteOffset + 4, f.length - 4).toString("utf8"));
  } catch {
    return "body is not JSON";
  }
  return o === null || typeof o !== "object" || Array.isArray(o) ? "body is not a JSON object" : (o as Record<string, unknown>);
}

function topicList(v: unknown): string[] | null {
  if (!Array.isArray(v) || v.length > MAX_TOPICS) return null;
  for (const t of v) if (typeof t !== "string" || Buffer.byteLength(t, "utf8") > MAX_TOPIC_BYTES) return null;
  return v as string[];
}

export function decodeFromSubscriber(f: Uint8Array): FromSubscriber {
  const kind = f[0];
  if (kind === Kind.Consumed) {
    const count = countOf(f);
    return count === null ? { error: "CONSUMED: bad frame" } : { kind, count };
  }
  if (kind !== Kind.Subscribe && kind !== Kind.Topics && kind !== Kind.Fallback && kind !== Kind.Attached) return { error: `message kind ${kind ?? "(empty)"} from a subscriber` };
  const b = body(f);
  if (typeof b === "string") return { error: b };
  if (kind === Kind.Attached) return Number.isInteger(b.slot) && (b.slot as number) >= 0 && (b.slot as number) < 256 ? { kind, slot: b.slot as number } : { error: "ATTACHED: bad slot" };
  if (kind === Kind.Fallback) return typeof b.reason === "string" && b.reason.length <= 4096 ? { kind, reason: b.reason } : { error: "FALLBACK: bad reason" };
  const topics = topicList(b.topics);
  if (topics === null) return { error: `topics must be an array of at most ${MAX_TOPICS} strings of at most ${MAX_TOPIC_BYTES} bytes` };
  if (kind === Kind.Topics) return { kind, topics };
  if (typeof b.shm !== "boolean") return { error: "shm must be a boolean" };
  return { kind, topics, shm: b.shm };
}

export function decodeFromPublisher(f: Uint8Array): FromPublisher {
  const kind = f[0];
  if (kind === Kind.Message) {
    if (f.length < 4 || f[1] !== 0) return { error: "MESSAGE: bad header" };
    const n = f[2]! | (f[3]! << 8);
    if (4 + n > f.length) return { error: `MESSAGE: topic of ${n} bytes in a frame of ${f.length}` };
    const topic = Buffer.from(f.buffer, f.byteOffset + 4, n).toString("utf8");
    return { kind, topic, data: f.subarray(4 + n) };
  }
  if (kind === Kind.Missed) {
    const count = countOf(f);
    return count === null || count === 0 ? { error: "MISSED: bad frame" } : { kind, count };
  }
  if (kind !== Kind.Welcome && kind !== Kind.Evicted && kind !== Kind.Refused) return { error: `message kind ${kind ?? "(empty)"} from a publisher` };
  const b = body(f);
  if (typeof b === "string") return { error: b };
  if (kind !== Kind.Welcome) {
    if (typeof b.reason !== "string" || b.reason.length > 4096) return { error: "bad reason" };
    return kind === Kind.Evicted ? { kind, reason: b.reason } : { kind, reason: b.reason };
  }
  const { policy, blockTimeout, window, transport, ring, reason } = b;
  if (policy !== "block" && policy !== "drop") return { error: "WELCOME: bad policy" };
  if (!Number.isSafeInteger(blockTimeout) || (blockTimeout as number) < 0) return { error: "WELCOME: bad blockTimeout" };
  if (!Number.isSafeInteger(window) || (window as number) < 1) return { error: "WELCOME: bad window" };
  if (transport !== "shm" && transport !== "zmq") return { error: "WELCOME: bad transport" };
  if (ring !== null && (typeof ring !== "string" || !/^smsh-[a-z2-7]{16}$/.test(ring))) return { error: "WELCOME: bad ring" };
  if (transport === "shm" && ring === null) return { error: "WELCOME: shm without a ring" };
  if (typeof reason !== "string" || reason.length > 4096) return { error: "WELCOME: bad reason" };
  return { kind, policy, blockTimeout: blockTimeout as number, window: window as number, transport, ring: ring as string | null, reason };
}
