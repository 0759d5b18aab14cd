// Asking a running hub (the command line's `hub --stats` and `hub ls`): an
// ordinary Peer (transport "zmq") that sends QUERY without joining, reads
// the ANSWER and leaves.
import { shmError } from "../core/errors.js";
import { connect, type CurveOptions } from "../peer/connect.js";
import { Kind, decodeHub, encodeControl, entryOf, type AgentEntry } from "./messages.js";
import type { RouteStats } from "./stats.js";

export interface HubAnswer {
  agents: AgentEntry[];
  routes: RouteStats[];
  rejected: number;
  unroutable: number;
  statsIntervalMs: number;
}

/** The hub's roster (what "agents") or statistics (what "stats"). */
export async function queryHub(endpoint: string, what: "stats" | "agents", options: { timeout?: number; curve?: CurveOptions } = {}): Promise<Partial<HubAnswer>> {
  const timeout = options.timeout ?? 10_000;
  const peer = await connect(endpoint, { name: "synaptic-shm", transport: "zmq", reconnect: false, timeout, curve: options.curve });
  try {
    await peer.send(encodeControl(Kind.Query, { what }), { timeout });
    const d = decodeHub(await peer.recv({ timeout }));
    if ("error" in d || "op" in d || d.kind !== Kind.Answer) throw shmError("ECORRUPT", `${endpoint} answered QUERY with something else than ANSWER`);
    const b = d.body;
    const out: Partial<HubAnswer> = {};
    if (Array.isArray(b.agents)) out.agents = b.agents.map(entryOf).filter((e): e is AgentEntry => e !== null);
    if (Array.isArray(b.routes)) out.routes = b.routes as RouteStats[];
    for (const k of ["rejected", "unroutable", "statsIntervalMs"] as const) if (Number.isSafeInteger(b[k])) out[k] = b[k] as number;
    return out;
  } finally {
    await peer.close();
  }
}
