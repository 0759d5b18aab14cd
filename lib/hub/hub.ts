// The hub (docs/PROTOCOL.md §9): a listener whose Peers (transport "zmq":
// it is the control plane) are agents. It keeps the roster (who is there,
// which process, where its own listener is), introduces agents to each
// other (JOINED/LEFT), routes what agents cannot send directly (ROUTE ->
// DELIVER, the sender's name set by the hub), and keeps the per-route
// statistics. Agents on one host talk over direct Peers: the hub is not on
// their data path.
import { EventEmitter } from "node:events";

import { checkInteger, invalidArgType } from "../core/errors.js";
import type { CurveOptions } from "../peer/connect.js";
import type { HeartbeatOptions, Peer } from "../peer/peer.js";
import { listen, type Server } from "../peer/server.js";
import { Kind, Op, decodeHub, encodeControl, encodeRoute, isAgentName, isEndpoint, reportOf, type AgentEntry, type RouteFrame } from "./messages.js";
import { ReportedCounts, RouteTable, type RouteStats } from "./stats.js";

export interface HubOptions {
  /** The hub's own name in handshakes (default "hub"). */
  name?: string;
  /** Liveness of each agent's link: an agent silent for timeoutMs is dropped (one on this host that dies is dropped at once). */
  heartbeat?: HeartbeatOptions;
  /** CURVE: the hub's secret key (agents pass its public key as curve.serverKey). */
  curve?: Pick<CurveOptions, "secretKey">;
  /** Bind tcp:// on an address other than loopback (agents on other hosts). */
  allowRemote?: boolean;
  /** How often agents report their direct pairs' counts, in ms (default 1,000). */
  statsIntervalMs?: number;
  /** Largest routed message, in bytes (default 1 GiB). */
  maxMessageSize?: number;
}

export interface HubStats {
  routes: RouteStats[];
  /** Agents joined now. */
  agents: number;
  /** Messages the hub refused (malformed, unknown kind, before JOIN) or could not route (no such agent, its link failed). */
  rejected: number;
  unroutable: number;
  /** How often agents report direct pairs: a direct route's figures are at most this old while its sender lives. */
  statsIntervalMs: number;
}

/** How long the hub waits for a destination to take a routed message (its flow control) before it counts it unroutable. */
const ROUTE_SEND_TIMEOUT_MS = 30_000;
/** How long a connection may take to say JOIN (or ask a QUERY) before the hub drops it. */
const FIRST_MESSAGE_MS = 10_000;

interface Member {
  entry: AgentEntry;
  /** The agent object's random id (JOIN): only it may take its name over again while its old link lingers. */
  instance: string;
  peer: Peer;
  reported: ReportedCounts;
}

export class Hub extends EventEmitter {
  readonly #server: Server;
  readonly #members = new Map<string, Member>();
  readonly #table = new RouteTable();
  readonly #statsIntervalMs: number;
  #rejected = 0;
  #unroutable = 0;
  #closed = false;

  /** @internal made by hub() */
  constructor(server: Server, statsIntervalMs: number) {
    super();
    this.#server = server;
    this.#statsIntervalMs = statsIntervalMs;
    void this.#acceptLoop();
  }

  /** The endpoint bound (with the port chosen for "tcp://host:0"). */
  get endpoint(): string {
    return this.#server.endpoint;
  }

  /** The agents joined now. */
  get agents(): AgentEntry[] {
    return [...this.#members.values()].map((m) => ({ ...m.entry }));
  }

  stats(): HubStats {
    return { routes: this.#table.list(), agents: this.#members.size, rejected: this.#rejected, unroutable: this.#unroutable, statsIntervalMs: this.#statsIntervalMs };
  }

  async #acceptLoop(): Promise<void> {
    for await (const peer of this.#server) void this.#serve(peer);
  }

  /** One connection: JOIN (an agent) or QUERY (the command line), then its messages until it goes. */
  async #serve(peer: Peer): Promise<void> {
    let me: Member | null = null;
    let why = "";
    try {
      for (;;) {
        const m = await peer.recv(me === null ? { timeout: FIRST_MESSAGE_MS } : undefined);
        const d = decodeHub(m);
        if ("error" in d) {
          this.#rejected++;
          if (me === null) return await this.#refuse(peer, "ECORRUPT", d.error);
          continue;
        }
        if ("op" in d) {
          if (me !== null && d.kind === Kind.Route) await this.#route(me, d);
          else if (me === null) return await this.#refuse(peer, "ECORRUPT", "JOIN first");
          else this.#rejected++; // DELIVER/UNROUTABLE are the hub's to send: a spoofed sender goes nowhere
          continue;
        }
        if (d.kind === Kind.Query) this.#answer(peer, d.body.what);
        else if (me === null && d.kind === Kind.Join) {
          me = await this.#join(peer, d.body);
          if (me === null) return;
        } else if (me !== null && d.kind === Kind.Report) {
          const routes = reportOf(d.body);
          if (routes === null) this.#rejected++;
          else me.reported.apply(this.#table, me.entry.name, routes);
        } else {
          this.#rejected++;
          if (me === null) return await this.#refuse(peer, "ECORRUPT", `message kind ${d.kind} before JOIN`);
        }
      }
    } catch (e) {
      why = (e as Error).message;
    } finally {
      if (me !== null) this.#leave(me, why || peer.stateReason || "left");
      await peer.close();
    }
  }

  async #refuse(peer: Peer, code: string, reason: string): Promise<void> {
    await peer.send(encodeControl(Kind.Refused, { code, reason }), { timeout: 1000 }).catch(() => {});
  }

  /** JOIN: the name is the handshake's; refused if a live agent of another process holds it. */
  async #join(peer: Peer, body: Record<string, unknown>): Promise<Member | null> {
    const id = peer.remoteIdentity;
    if (body.v !== 1) return this.#refuse(peer, "ECORRUPT", `JOIN of version ${String(body.v)}, this hub speaks 1`).then(() => null);
    if (!isAgentName(id.name)) return this.#refuse(peer, "ECORRUPT", "a name of 1 to 64 characters without control characters").then(() => null);
    const endpoint = body.endpoint ?? null;
    if (endpoint !== null && !isEndpoint(endpoint)) return this.#refuse(peer, "ECORRUPT", "JOIN: a bad endpoint").then(() => null);
    const instance = body.instance;
    if (typeof instance !== "string" || !/^[0-9a-f]{32}$/.test(instance)) return this.#refuse(peer, "ECORRUPT", "JOIN: a bad instance").then(() => null);
    const held = this.#members.get(id.name);
    if (held !== undefined) {
      const e = held.entry;
      if (held.instance !== instance || e.pid !== id.pid || e.startTime !== id.startTime || e.host !== id.host) {
        return this.#refuse(peer, "ENAMETAKEN", `"${id.name}" is held by a live agent (pid ${e.pid})`).then(() => null);
      }
      // The same agent again (its link was lost and made anew): the new link replaces the old one.
      this.#members.delete(id.name);
      void held.peer.close();
    }
    const entry: AgentEntry = { name: id.name, pid: id.pid, uid: id.uid, startTime: id.startTime, host: id.host, endpoint, joinedAt: Date.now() };
    const me: Member = { entry, peer, instance, reported: held?.reported ?? new ReportedCounts() };
    this.#members.set(id.name, me);
    try {
      await peer.send(encodeControl(Kind.Welcome, { agents: this.agents, statsIntervalMs: this.#statsIntervalMs }), { timeout: FIRST_MESSAGE_MS });
    } catch (e) {
      // Its connection went (or does not read) before it was welcomed: it never joined.
      if (this.#members.get(id.name) === me) this.#members.delete(id.name);
      throw e;
    }
    this.#broadcast(encodeControl(Kind.Joined, entry), me);
    if (held === undefined) this.emit("join", { ...entry });
    return me;
  }

  #leave(me: Member, why: string): void {
    if (this.#members.get(me.entry.name) !== me) return; // replaced by a new link of the same process
    this.#members.delete(me.entry.name);
    this.#broadcast(encodeControl(Kind.Left, { name: me.entry.name, pid: me.entry.pid, reason: why }), null);
    this.emit("leave", { ...me.entry }, why);
  }

  /** To every member but `except`, without waiting (a slow one holds up nobody; its link's end drops it). */
  #broadcast(frame: Buffer, except: Member | null): void {
    for (const m of this.#members.values()) if (m !== except) void m.peer.send(frame, { timeout: ROUTE_SEND_TIMEOUT_MS }).catch(() => {});
  }

  /** ROUTE from `me`: delivered with `me`'s name as the sender, or UNROUTABLE back. */
  async #route(me: Member, r: RouteFrame): Promise<void> {
    const to = this.#members.get(r.name);
    if (to !== undefined) {
      try {
        await to.peer.send(encodeRoute(Kind.Deliver, r.op, r.id, me.entry.name, r.data), { timeout: ROUTE_SEND_TIMEOUT_MS });
        this.#table.add(me.entry.name, r.name, "hub", 1, r.data.byteLength);
        return;
      } catch {
        // its link failed or took nothing for ROUTE_SEND_TIMEOUT_MS: unroutable
      }
    }
    this.#unroutable++;
    // A reply or an error to a requester that is gone needs no answer.
    if (r.op === Op.Message || r.op === Op.Request) void me.peer.send(encodeRoute(Kind.Unroutable, r.op, r.id, r.name, new Uint8Array(0)), { timeout: ROUTE_SEND_TIMEOUT_MS }).catch(() => {});
  }

  #answer(peer: Peer, what: unknown): void {
    const body = what === "agents" ? { what, agents: this.agents } : { what: "stats", ...this.stats() };
    void peer.send(encodeControl(Kind.Answer, body), { timeout: FIRST_MESSAGE_MS }).catch(() => {});
  }

  /** Closes every agent's link (they go on with their direct pairs and re-join a hub at this endpoint when one is back), then the listener. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#server.close();
  }
}

/** Runs a hub on `endpoint` ("ipc://<path>", "tcp://127.0.0.1:<port>"; another address with allowRemote). */
export async function hub(endpoint: string, options: HubOptions = {}): Promise<Hub> {
  if (options === null || typeof options !== "object") throw invalidArgType("options", "an object", options);
  const statsIntervalMs = options.statsIntervalMs === undefined ? 1000 : checkInteger("options.statsIntervalMs", options.statsIntervalMs, 10, 2 ** 31 - 1);
  const server = await listen(endpoint, {
    name: options.name ?? "hub",
    transport: "zmq",
    heartbeat: options.heartbeat,
    curve: options.curve,
    allowRemote: options.allowRemote,
    maxMessageSize: options.maxMessageSize,
  });
  return new Hub(server, statsIntervalMs);
}
