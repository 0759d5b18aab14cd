// The hub and agents when things go wrong (docs/PROTOCOL.md §9): an agent
// killed with -9, the hub killed while direct pairs keep talking (and
// agents re-joining a hub restarted on the endpoint), hostile messages to
// the hub and to an agent's own listener, request/reply through both
// paths, and the command line (hub, hub --stats, hub ls).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { connect, hub, join, type Agent, type Hub, type Peer } from "../../dist/lib/index.js";
import { Kind, decodeHub, encodeControl, encodeRoute, Op } from "../../dist/lib/hub/messages.js";
import { ROOT, collect, fixture, killStrays, spawnFixture, track, waitForLine } from "../helpers.js";

const CLI = path.join(ROOT, "dist", "lib", "cli.js");
// Generous: Node processes starting on a loaded 2-core machine.
const SLOW_MS = 30_000;

let dir = "";
let h: Hub | null = null;
const agents: Agent[] = [];

function endpointIn(d: string, name: string): string {
  return process.platform === "win32" ? "tcp://127.0.0.1:0" : `ipc://${path.join(d, name)}`;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "hub-fail-"));
});

const children: ChildProcess[] = [];
const agentDirs: string[] = [];

afterEach(async () => {
  // The children end first: an agent closed before its pair's process is gone would leave that process's ring (nobody sweeps it then).
  await Promise.all(
    children.splice(0).map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      // Its stdin's end first (it closes: nothing left behind), SIGKILL if it does not go within 5 s.
      const gone = new Promise((r) => c.once("exit", r));
      c.kill("SIGCONT");
      if (c.stdin !== null) c.stdin.end();
      else c.kill("SIGTERM"); // the hub's command line
      const timer = setTimeout(() => c.kill("SIGKILL"), 5000);
      return gone.finally(() => clearTimeout(timer));
    }),
  );
  killStrays();
  for (const d of agentDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await h?.close();
  h = null;
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

async function agent(name: string, transport: "auto" | "zmq" = "auto"): Promise<Agent> {
  const a = await join(h!.endpoint, { name, transport, timeout: SLOW_MS });
  agents.push(a);
  return a;
}

/** A "serve" agent process (echoes messages, answers requests), once joined. */
async function server(hubEndpoint: string, name: string, transport: "auto" | "zmq" = "auto", fast = false): Promise<ChildProcess> {
  // stdin a pipe: its end is the agent's cue to close.
  const args = [fixture("hub-agent"), "serve", hubEndpoint, name, transport, ...(fast ? ["fast"] : [])];
  const child = track(spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] }));
  children.push(child);
  const line = await waitForLine(child, /^joined/, SLOW_MS);
  // Its listener's directory: an agent killed with -9 cannot remove it.
  const m = /^joined ipc:\/\/(.+)$/.exec(line);
  if (m !== null) agentDirs.push(path.dirname(m[1]!));
  return child;
}

function once<T extends unknown[]>(emitter: { once(ev: string, f: (...a: T) => void): unknown }, ev: string, ms: number, match: (...a: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${ev}" within ${ms} ms`)), ms);
    const on = (...a: T): void => {
      if (!match(...a)) return void emitter.once(ev, on);
      clearTimeout(timer);
      resolve(a);
    };
    emitter.once(ev, on);
  });
}

async function roundTrip(a: Agent, to: string, text: string): Promise<void> {
  await a.send(to, Buffer.from(text), { timeout: SLOW_MS });
  const m = await a.recv({ timeout: SLOW_MS });
  expect({ from: m.from, text: Buffer.from(m.data).toString() }).toEqual({ from: to, text });
}

describe("an agent killed with -9", () => {
  it("the hub drops it (at once on this host: its process is watched; else within the heartbeat timeout), its roster entry goes, a request pending to it rejects EPEERDEAD, a send to it is ENOAGENT", async () => {
    h = await hub(endpointIn(dir, "hub.sock"));
    const a = await agent("claude");
    const b = await server(h.endpoint, "gemini");
    await a.waitFor("gemini", { timeout: SLOW_MS });
    await roundTrip(a, "gemini", "before");
    expect(a.transport("gemini")).toBe("shm");
    const pending = a.request("gemini", Buffer.from("never"));
    pending.catch(() => {});
    // One through the hub too: its request is the hub's to lose.
    const c = await server(h.endpoint, "planner", "zmq");
    await a.waitFor("planner", { timeout: SLOW_MS });
    await roundTrip(a, "planner", "before");
    const routed = a.request("planner", Buffer.from("never"));
    routed.catch(() => {});
    await roundTrip(a, "planner", "the request is at planner"); // after the request, in order: planner has it
    const plannerLeft = once<[{ name: string }]>(a, "leave", SLOW_MS, (e) => e.name === "planner");
    c.kill("SIGKILL");
    await plannerLeft;
    await expect(routed).rejects.toMatchObject({ code: "EPEERDEAD" });
    expect(a.transport("planner")).toBe(null);
    const left = once<[{ name: string }, string]>(h, "leave", SLOW_MS);
    const agentSaw = once<[{ name: string }]>(a, "leave", SLOW_MS);
    const t0 = performance.now();
    b.kill("SIGKILL");
    const [gone] = await left;
    // The bound this package states: at once on this host (pidfd), the heartbeat timeout (5 s) elsewhere; 10 s for a loaded machine.
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(gone.name).toBe("gemini");
    await agentSaw;
    await expect(pending).rejects.toMatchObject({ code: "EPEERDEAD" });
    expect(h.agents.map((e) => e.name)).toEqual(["claude"]);
    expect(a.agents).toEqual([]);
    await expect(a.send("gemini", Buffer.from("after"))).rejects.toMatchObject({ code: "ENOAGENT" });
  });
});

describe("an agent stopped (SIGSTOP)", () => {
  it("a hung agent is dropped by the hub and by its direct pair after the heartbeat timeout: requests to it reject EPEERDEAD", async () => {
    const heartbeat = { intervalMs: 100, timeoutMs: 1000 };
    h = await hub(endpointIn(dir, "hub.sock"), { heartbeat });
    const a = await join(h.endpoint, { name: "claude", heartbeat, timeout: SLOW_MS });
    agents.push(a);
    const b = await server(h.endpoint, "gemini", "auto", true);
    await a.waitFor("gemini", { timeout: SLOW_MS });
    await roundTrip(a, "gemini", "before");
    expect(a.transport("gemini")).toBe("shm");
    const pending = a.request("gemini", Buffer.from("never"));
    pending.catch(() => {});
    const left = once<[{ name: string }]>(h, "leave", SLOW_MS);
    const t0 = performance.now();
    b.kill("SIGSTOP");
    try {
      await expect(pending).rejects.toMatchObject({ code: "EPEERDEAD" });
      await left;
      // Not before the timeout (1 s, less the last interval): a stopped process is not a dead one until then.
      expect(performance.now() - t0).toBeGreaterThan(800);
      expect(h.agents.map((e) => e.name)).toEqual(["claude"]);
      expect(a.transport("gemini")).toBe(null);
    } finally {
      b.kill("SIGCONT");
    }
  });
});

describe("the hub killed with -9", () => {
  it("direct pairs go on without it; agents re-join a hub restarted on the endpoint, which lists them again", async () => {
    const endpoint = endpointIn(dir, "hub.sock");
    const runHub = async (): Promise<ChildProcess> => {
      const c = track(spawn(process.execPath, [CLI, "hub", endpoint, "--stats-interval", "50"], { stdio: ["ignore", "pipe", "pipe"] }));
      children.push(c);
      await waitForLine(c, /^hub listening on /, SLOW_MS);
      return c;
    };
    let hubProc = await runHub();
    const a = await join(endpoint, { name: "claude", timeout: SLOW_MS });
    agents.push(a);
    const b = await server(endpoint, "gemini");
    await a.waitFor("gemini", { timeout: SLOW_MS });
    await roundTrip(a, "gemini", "m0");
    expect(a.transport("gemini")).toBe("shm");
    const lost = once<[string]>(a, "hub", SLOW_MS, (s) => s === "lost");
    hubProc.kill("SIGKILL");
    await lost;
    expect(a.joined).toBe(false);
    for (let i = 1; i <= 5; i++) await roundTrip(a, "gemini", `m${i} without the hub`);
    expect(a.transport("gemini")).toBe("shm");
    const back = once<[string]>(a, "hub", SLOW_MS, (s) => s === "joined");
    hubProc = await runHub();
    await back;
    expect(a.joined).toBe(true);
    // Both re-join by themselves (backoff up to 2 s each).
    let names = "";
    for (const until = performance.now() + SLOW_MS; performance.now() < until; ) {
      const r = await cli(["hub", "ls", endpoint, "--json"]);
      names = (JSON.parse(r.stdout) as { agents: { name: string }[] }).agents.map((e) => e.name).sort().join(",");
      if (names === "claude,gemini") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(names).toBe("claude,gemini");
    await roundTrip(a, "gemini", "m6 after");
    b.stdin?.end();
    hubProc.kill("SIGTERM");
    await collect(hubProc, SLOW_MS);
  });
});

/** A raw connection to the hub, speaking its messages by hand. */
async function raw(name: string): Promise<Peer> {
  return connect(h!.endpoint, { name, transport: "zmq", reconnect: false, timeout: SLOW_MS });
}

async function next(p: Peer): Promise<ReturnType<typeof decodeHub>> {
  return decodeHub(await p.recv({ timeout: SLOW_MS }));
}

describe("hostile messages", () => {
  it("the hub refuses nonsense before JOIN, answers a ROUTE to an unknown name with UNROUTABLE, ignores a DELIVER naming another sender, and sets every sender's name itself", async () => {
    h = await hub(endpointIn(dir, "hub.sock"));
    const a = await agent("claude");
    for (const bad of [Buffer.from([Kind.Join, ...Buffer.from("{not json")]), Buffer.from([99]), encodeRoute(Kind.Route, Op.Message, 0, "claude", Buffer.from("x")), encodeControl(Kind.Join, { v: 1, endpoint: null, instance: "short" })]) {
      const p = await raw("evil");
      await p.send(bad);
      const d = await next(p);
      expect(d).toMatchObject({ kind: Kind.Refused, body: { code: "ECORRUPT" } });
      await expect(p.recv({ timeout: SLOW_MS })).rejects.toMatchObject({ code: "ECLOSED" });
      await p.close();
    }
    expect(a.agents).toEqual([]);
    const evil = await raw("evil");
    await evil.send(encodeControl(Kind.Join, { v: 1, endpoint: null, instance: randomBytes(16).toString("hex") }));
    expect(await next(evil)).toMatchObject({ kind: Kind.Welcome });
    await a.waitFor("evil", { timeout: SLOW_MS });
    const rejected = h.stats().rejected;
    await evil.send(encodeRoute(Kind.Route, Op.Message, 0, "nobody", Buffer.from("lost")));
    expect(await next(evil)).toMatchObject({ kind: Kind.Unroutable, op: Op.Message, name: "nobody" });
    await evil.send(encodeRoute(Kind.Deliver, Op.Message, 0, "gemini", Buffer.from("from gemini, honest")));
    await evil.send(encodeControl(Kind.Report, { routes: "lots" }));
    await evil.send(Buffer.from([Kind.Route, 0, 0]));
    await evil.send(encodeRoute(Kind.Route, Op.Message, 0, "claude", Buffer.from("hi")));
    const m = await a.recv({ timeout: SLOW_MS });
    // The only message claude gets: the ROUTE, with the name the hub knows its sender by.
    expect({ from: m.from, text: Buffer.from(m.data).toString() }).toEqual({ from: "evil", text: "hi" });
    expect(h.stats().rejected).toBe(rejected + 3);
    expect(h.agents.map((e) => e.name).sort()).toEqual(["claude", "evil"]);
    await evil.close();
  });

  it("an agent's listener refuses a direct connection whose process is not the one the roster names", async () => {
    h = await hub(endpointIn(dir, "hub.sock"));
    const a = await agent("claude");
    await agent("gemini"); // on the roster: this process
    const impostor = await collect(spawnFixture("hub-agent", ["impostor", a.endpoint!, "gemini"]), SLOW_MS);
    expect(impostor.stdout, impostor.stderr).toMatch(/^refused ECLOSED$/m);
    await expect(a.recv({ timeout: 300 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
  });
});

describe("misuse", () => {
  it("bad arguments are TypeErrors before anything is sent; a closed agent is ECLOSED; a second hub on a live endpoint is EADDRINUSE", async () => {
    h = await hub(endpointIn(dir, "hub.sock"));
    const ep = h.endpoint;
    for (const bad of [{}, { name: "" }, { name: 7 }, { name: "x".repeat(65) }, { name: "a\nb" }, { name: "ok", transport: "shm" }]) {
      await expect(join(ep, bad as never)).rejects.toMatchObject({ name: "TypeError" });
    }
    await expect(join(ep, { name: "ok", timeout: -1 })).rejects.toMatchObject({ code: "ERR_OUT_OF_RANGE" });
    await expect(join("http://nope", { name: "x" })).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    await expect(hub(ep, { statsIntervalMs: 1 })).rejects.toMatchObject({ code: "ERR_OUT_OF_RANGE" });
    if (process.platform !== "win32") await expect(hub(ep)).rejects.toMatchObject({ code: "EADDRINUSE" });
    const a = await agent("claude");
    await expect(a.send("claude", Buffer.from("me"))).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    await expect(a.send("", Buffer.from("x"))).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    await expect(a.send("nobody", "text" as never)).rejects.toMatchObject({ name: "TypeError" });
    await expect(a.send("nobody", Buffer.from("x"))).rejects.toMatchObject({ code: "ENOAGENT" });
    await expect(a.send("nobody", Buffer.from("x"), { timeout: -5 })).rejects.toMatchObject({ name: "RangeError" });
    await a.close();
    await a.close(); // idempotent
    await expect(a.send("gemini", Buffer.from("x"))).rejects.toMatchObject({ code: "ECLOSED" });
    await expect(a.request("gemini", Buffer.from("x"))).rejects.toMatchObject({ code: "ECLOSED" });
    expect(await a.messages().next()).toEqual({ done: true, value: undefined });
  });
});

describe("request/reply", () => {
  it("through a direct pair's agent and through the hub: replies matched, failures (EREMOTE), timeouts (a late reply dropped), aborts and unknown names", async () => {
    h = await hub(endpointIn(dir, "hub.sock"));
    const a = await agent("claude");
    await server(h.endpoint, "gemini");
    await server(h.endpoint, "planner", "zmq");
    await a.waitFor("gemini", { timeout: SLOW_MS });
    await a.waitFor("planner", { timeout: SLOW_MS });
    for (const to of ["gemini", "planner"]) {
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => a.request(to, Buffer.from(`${to}-${i}`), { timeout: SLOW_MS })));
      expect(replies.map((r) => Buffer.from(r).toString())).toEqual(Array.from({ length: 20 }, (_, i) => `re:${to}-${i}`));
      await expect(a.request(to, Buffer.from("fail"), { timeout: SLOW_MS })).rejects.toMatchObject({ code: "EREMOTE" });
      await expect(a.request(to, Buffer.from("never"), { timeout: 200 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
      // Its reply comes 500 ms later, while the next request waits: dropped, never taken for the next one's.
      await expect(a.request(to, Buffer.from("slow"), { timeout: 100 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
      expect(Buffer.from(await a.request(to, Buffer.from("after"), { timeout: SLOW_MS })).toString()).toBe("re:after");
      const ac = new AbortController();
      const aborted = a.request(to, Buffer.from("never"), { signal: ac.signal });
      ac.abort();
      await expect(aborted).rejects.toMatchObject({ code: "ABORT_ERR" });
    }
    expect(a.transport("gemini")).toBe("shm");
    expect(a.transport("planner")).toBe("hub");
    // gemini's requests and replies went over the direct pair (the Peer's request/reply), planner's through the hub.
    const hubRoutes = h.stats().routes.filter((r) => r.path === "hub").map((r) => `${r.from}>${r.to}`);
    expect(hubRoutes.sort()).toEqual(["claude>planner", "planner>claude"]);
    await expect(a.request("nobody", Buffer.from("?"))).rejects.toMatchObject({ code: "ENOAGENT" });
    // Agents in this process serve too.
    const b = await agent("b");
    await a.waitFor("b", { timeout: SLOW_MS });
    const served = (async () => {
      for await (const r of b.requests()) await r.reply(Buffer.concat([Buffer.from("b:"), r.data]));
    })();
    expect(Buffer.from(await a.request("b", Buffer.from("x"), { timeout: SLOW_MS })).toString()).toBe("b:x");
    await b.close();
    await served;
  });
});

describe("synaptic-shm hub --stats / ls", () => {
  it("prints the per-route table and the roster of a running hub", async () => {
    h = await hub(endpointIn(dir, "hub.sock"), { statsIntervalMs: 50 });
    const a = await agent("claude");
    await server(h.endpoint, "gemini");
    await server(h.endpoint, "planner", "zmq");
    await a.waitFor("planner", { timeout: SLOW_MS });
    await a.waitFor("gemini", { timeout: SLOW_MS });
    await roundTrip(a, "gemini", "one");
    await roundTrip(a, "planner", "two");
    await a.close();
    const s = await cli(["hub", "--stats", h.endpoint]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^FROM\s+TO\s+PATH\s+MESSAGES\s+BYTES\s+UPDATED$/m);
    expect(s.stdout).toMatch(/^claude\s+gemini\s+direct\s+1\s+3 B\s/m);
    expect(s.stdout).toMatch(/^claude\s+planner\s+hub\s+1\s+3 B\s/m);
    expect(s.stdout).toMatch(/^planner\s+claude\s+hub\s+1\s+3 B\s/m);
    const ls = await cli(["hub", "ls", h.endpoint]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/^gemini\s+\d+\s+this host\s+ipc:\/\//m);
    expect(ls.stdout).toMatch(/^planner\s+\d+\s+this host\s+none \(hub only\)/m);
    expect(ls.stdout).not.toMatch(/^claude/m);
    const usage = await cli(["hub"]);
    expect(usage.code).toBe(2);
  });
});
