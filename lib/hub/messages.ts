// What agents and the hub say to each other (docs/PROTOCOL.md §9): each is
// one DATA message of an ordinary Peer (transport "zmq"), its first byte the
// kind. Control messages are that byte and a JSON object; a routed message
// is that byte, an op, a correlation id, a name and the bytes themselves.
// Everything decoded here came from another process: bounded and checked,
// never thrown for.
import { invalidArgValue } from "../core/errors.js";

export const Kind = {
  /** agent -> hub: {v, endpoint} (the agent's own listener for direct pairs, or null: only through the hub) */
  Join: 1,
  /** hub -> agent: {agents, statsIntervalMs} (the roster, the agent included) */
  Welcome: 2,
  /** hub -> agent or client: {code, reason}; the hub closes the connection after it */
  Refused: 3,
  /** hub -> agents: an AgentEntry that joined */
  Joined: 4,
  /** hub -> agents: {name, pid, reason} that left */
  Left: 5,
  /** agent -> hub: {routes: [{to, messages, bytes}]}, its direct pairs' counts since it started */
  Report: 6,
  /** anyone -> hub: {what: "stats" | "agents"} (the hub's command line) */
  Query: 7,
  /** hub -> asker: {what, ...} */
  Answer: 8,
  /** agent -> hub: op, id, the destination's name, the bytes */
  Route: 16,
  /** hub -> agent: op, id, the sender's name (the hub's, never the sender's word), the bytes */
  Deliver: 17,
  /** hub -> agent: op, id, the name that is not there (its ROUTE went nowhere) */
  Unroutable: 18,
} as const;

/** What a routed message is: a message, a request (id), its reply or error. */
export const Op = { Message: 0, Request: 1, Reply: 2, Error: 3 } as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/** A routed frame's fixed part: kind u8, op u8, id u32 LE, name length u8, then the name (UTF-8). */
export const ROUTE_HEADER = 7;

/** Largest JSON body of a control message (a roster of many agents fits). */
export const MAX_CONTROL = 1 << 20;

/** A name's limits: 1 to 64 characters, no control characters, at most 255 bytes of UTF-8. */
const NAME_RE = /^[^\u0000-\u001f\u007f]{1,64}$/u;

export function isAgentName(name: unknown): name is string {
  return typeof name === "string" && NAME_RE.test(name) && Buffer.byteLength(name) <= 255;
}

export function checkAgentName(what: string, name: unknown): string {
  if (!isAgentName(name)) throw invalidArgValue(what, "must be a string of 1 to 64 characters without control characters", name);
  return name;
}

/** One agent as the hub knows it: its name, its process (from the hub link's handshake) and its listener. */
export interface AgentEntry {
  name: string;
  pid: number;
  uid: number;
  /** The process's start time (clock ticks since boot, decimal): with pid and host, which process it is. */
  startTime: string;
  /** Its host's boot id ("" where there is none: never taken as the same host). */
  host: string;
  /** Its listener for direct pairs, or null (transport "zmq": only through the hub). */
  endpoint: string | null;
  /** Date.now() when it joined. */
  joinedAt: number;
}

export interface RouteFrame {
  kind: typeof Kind.Route | typeof Kind.Deliver | typeof Kind.Unroutable;
  op: OpCode;
  id: number;
  name: string;
  data: Uint8Array;
}

export type Control = { kind: number; body: Record<string, unknown> };
export type HubMessage = RouteFrame | Control | { error: string };

export function encodeControl(kind: number, body: object): Buffer {
  const json = Buffer.from(JSON.stringify(body), "utf8");
  const f = Buffer.allocUnsafe(1 + json.length);
  f[0] = kind;
  json.copy(f, 1);
  return f;
}

/** A routed frame: one copy of `data` (a loan of a ring is ordinary bytes on the hub's wire). */
export function encodeRoute(kind: RouteFrame["kind"], op: OpCode, id: number, name: string, data: Uint8Array): Buffer {
  const n = Buffer.from(name, "utf8");
  const f = Buffer.allocUnsafe(ROUTE_HEADER + n.length + data.byteLength);
  f[0] = kind;
  f[1] = op;
  f.writeUInt32LE(id >>> 0, 2);
  f[6] = n.length;
  n.copy(f, ROUTE_HEADER);
  f.set(data, ROUTE_HEADER + n.length);
  return f;
}

/** Decodes one message of the hub link; the bytes of a routed one are a view of `m`. */
export function decodeHub(m: Uint8Array): HubMessage {
  if (m.byteLength < 1) return { error: "an empty message" };
  const kind = m[0]!;
  if (kind === Kind.Route || kind === Kind.Deliver || kind === Kind.Unroutable) {
    if (m.byteLength < ROUTE_HEADER) return { error: "a routed message shorter than its header" };
    const op = m[1]!;
    if (op > Op.Error) return { error: `unknown op ${op}` };
    const id = m[2]! + m[3]! * 2 ** 8 + m[4]! * 2 ** 16 + m[5]! * 2 ** 24;
    const len = m[6]!;
    if (m.byteLength < ROUTE_HEADER + len) return { error: "a routed message shorter than its name" };
    const name = Buffer.from(m.buffer, m.byteOffset + ROUTE_HEADER, len).toString("utf8");
    if (!isAgentName(name)) return { error: "a routed message with a bad name" };
    return { kind, op: op as OpCode, id, name, data: m.subarray(ROUTE_HEADER + len) };
  }
  if (kind < Kind.Join || kind > Kind.Answer) return { error: `unknown kind ${kind}` };
  if (m.byteLength - 1 > MAX_CONTROL) return { error: `a control message of ${m.byteLength - 1} bytes (> ${MAX_CONTROL})` };
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(m.buffer, m.byteOffset + 1, m.byteLength - 1).toString("utf8"));
  } catch {
    return { error: "a control message that is not JSON" };
  }
  if (o === null || typeof o !== "object" || Array.isArray(o)) return { error: "a control message that is not a JSON object" };
  return { kind, body: o as Record<string, unknown> };
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** An AgentEntry from another process's JSON, or null if any field is wrong. */
export function entryOf(v: unknown): AgentEntry | null {
  if (v === null || typeof v !== "object") return null;
  const e = v as Record<string, unknown>;
  if (!isAgentName(e.name) || !isCount(e.pid) || !isCount(e.uid) || !isCount(e.joinedAt)) return null;
  if (typeof e.startTime !== "string" || !/^\d{1,20}$/.test(e.startTime) || typeof e.host !== "string" || e.host.length > 64) return null;
  if (e.endpoint !== null && !isEndpoint(e.endpoint)) return null;
  return { name: e.name, pid: e.pid, uid: e.uid, startTime: e.startTime, host: e.host, endpoint: e.endpoint as string | null, joinedAt: e.joinedAt };
}

export function isEndpoint(v: unknown): v is string {
  return typeof v === "string" && v.length <= 1024 && /^(ipc:\/\/.+|tcp:\/\/.+:\d+)$/.test(v);
}

/** An agent's report of its direct pairs: [{to, messages, bytes}], or null if malformed. */
export function reportOf(body: Record<string, unknown>): { to: string; messages: number; bytes: number }[] | null {
  const r = body.routes;
  if (!Array.isArray(r) || r.length > 100_000) return null;
  const out: { to: string; messages: number; bytes: number }[] = [];
  for (const x of r as unknown[]) {
    if (x === null || typeof x !== "object") return null;
    const { to, messages, bytes } = x as Record<string, unknown>;
    if (!isAgentName(to) || !isCount(messages) || !isCount(bytes)) return null;
    out.push({ to, messages, bytes });
  }
  return out;
}

/** The first message an agent's listener sends on a direct pair it accepted (the connector sends nothing before it). */
export const ACCEPT = Buffer.from("smsh-agent-accept/1", "utf8");

export function isAccept(m: Uint8Array): boolean {
  return m.byteLength === ACCEPT.length && Buffer.from(m.buffer, m.byteOffset, m.byteLength).equals(ACCEPT);
}
