// Agents and the hub (issue 14): 64-byte round trips, one in flight, and a
// one-way stream, in the same run for
//   introduced  agent -> agent that the hub introduced (a direct Peer, shm): the hub is not on the data path
//   direct      a Peer of connect()/listen() (shm): what "introduced" should cost (target <= 1.2x)
//   routed      agent -> agent through the hub (an agent of transport "zmq"): two ZeroMQ hops
//   zmq-broker  zeromq.js DEALER -> ROUTER broker -> DEALER (the same two hops, without this package)
//   tcp         a plain TCP socket, loopback, 64-byte frames
// Each row: the measuring side is this process, the echoing side a child
// process, and (introduced, routed, zmq-broker) the hub or broker another.
//   npm run bench:patterns:hub [-- --runs 3 --trips 10000]
// Prints medians over runs of p50/p99 (µs), round trips/s and streamed
// messages/s, the ratios, and the conditions. Never asserts a figure.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect, createServer, type Socket } from "node:net";
import * as os from "node:os";
import * as path from "node:path";

import { connect, join, listen, type Agent, type Peer } from "../../lib/index.js";
import { hub } from "../../lib/hub/hub.js";
import { zeromqOrNull } from "../../lib/peer/zmq.js";

const SIZE = 64;
/** First byte of a message: 0 echo it, 1 count it (stream), 2 end of stream: answer with the count. */
const ECHO = 0;
const STREAM = 1;
const END = 2;

interface Wire {
  send(b: Buffer): Promise<void> | void;
  recv(): Promise<Uint8Array>;
  close(): Promise<void> | void;
}

interface Row {
  name: string;
  what: string;
  open(dir: string): Promise<{ wire: Wire; procs: ChildProcess[] }>;
}

function child(args: string[]): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn(process.execPath, [__filename, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve({ proc, line: buf.slice(0, nl) });
    });
    proc.once("exit", (c) => reject(new Error(`${args[0]} exited with ${c} before it was ready`)));
  });
}

const ep = (dir: string, name: string): string => (process.platform === "win32" ? "tcp://127.0.0.1:0" : `ipc://${path.join(dir, name)}`);

function agentWire(a: Agent, to: string): Wire {
  const it = a.messages();
  return {
    send: (b) => a.send(to, b),
    recv: async () => (await it.next()).value!.data,
    close: async () => {
      await it.return?.();
      await a.close();
    },
  };
}

function peerWire(p: Peer): Wire {
  return { send: (b) => p.send(b), recv: () => p.recv(), close: () => p.close() };
}

const ROWS: Row[] = [
  {
    name: "introduced",
    what: "agent -> agent, introduced by the hub, direct Peer (shm)",
    async open(dir) {
      const h = await child(["hub", ep(dir, "hub.sock")]);
      const e = await child(["echo-agent", h.line, "echo", "auto"]);
      const a = await join(h.line, { name: "measure" });
      await a.waitFor("echo");
      await a.send("echo", Buffer.from([END])); // the path is decided (the direct pair made) before the clock starts
      await a.recv();
      if (a.transport("echo") !== "shm") throw new Error(`introduced: transport ${a.transport("echo")}, not shm`);
      return { wire: agentWire(a, "echo"), procs: [e.proc, h.proc] };
    },
  },
  {
    name: "direct",
    what: "Peer, connect()/listen() (shm)",
    async open(dir) {
      const e = await child(["echo-peer", ep(dir, "peer.sock")]);
      const p = await connect(e.line, { name: "measure" });
      if (p.transport !== "shm") throw new Error(`direct: transport ${p.transport}, not shm`);
      return { wire: peerWire(p), procs: [e.proc] };
    },
  },
  {
    name: "routed",
    what: "agent -> agent through the hub (ZeroMQ, two hops)",
    async open(dir) {
      const h = await child(["hub", ep(dir, "hub.sock")]);
      const e = await child(["echo-agent", h.line, "echo", "auto"]);
      const a = await join(h.line, { name: "measure", transport: "zmq" });
      await a.waitFor("echo");
      if (a.transport("echo") !== "hub") throw new Error(`routed: transport ${a.transport("echo")}, not hub`);
      return { wire: agentWire(a, "echo"), procs: [e.proc, h.proc] };
    },
  },
  {
    name: "zmq-broker",
    what: "zeromq.js DEALER -> ROUTER broker -> DEALER",
    async open(dir) {
      const zmq = zeromqOrNull()!;
      const b = await child(["broker", ep(dir, "broker.sock")]);
      const e = await child(["echo-dealer", b.line]);
      const d = new zmq.Dealer({ routingId: "measure", linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
      d.connect(b.line);
      const to = Buffer.from("echo");
      // The broker drops what goes to a routing id it does not know yet: probe until the echo side answers.
      d.receiveTimeout = 200;
      for (let i = 0; ; i++) {
        await d.send([to, Buffer.alloc(SIZE)]);
        try {
          await d.receive();
          break;
        } catch (err) {
          if (i > 100) throw err;
        }
      }
      d.receiveTimeout = -1;
      return {
        wire: {
          send: (m) => d.send([to, m]),
          recv: async () => (await d.receive())[1]!,
          close: () => d.close(),
        },
        procs: [e.proc, b.proc],
      };
    },
  },
  {
    name: "tcp",
    what: "TCP socket, loopback, 64-byte frames",
    async open() {
      const e = await child(["echo-tcp"]);
      const s = netConnect(Number(e.line), "127.0.0.1");
      s.setNoDelay(true);
      await new Promise((r) => s.once("connect", r));
      return { wire: tcpWire(s), procs: [e.proc] };
    },
  },
];

/** 64-byte frames over a stream socket. */
function tcpWire(s: Socket): Wire {
  let buf: Buffer = Buffer.alloc(0);
  const waiting: ((b: Uint8Array) => void)[] = [];
  s.on("data", (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    while (buf.length >= SIZE && waiting.length > 0) {
      waiting.shift()!(buf.subarray(0, SIZE));
      buf = buf.subarray(SIZE);
    }
  });
  return {
    send: (b) => void s.write(b),
    recv: () => new Promise((r) => waiting.push(r)),
    close: () => void s.destroy(),
  };
}

interface Result {
  p50: number;
  p99: number;
  trips: number;
  stream: number;
}

async function measure(w: Wire, trips: number, warm: number, streamN: number): Promise<Result> {
  const m = Buffer.alloc(SIZE, 7);
  m[0] = ECHO;
  for (let i = 0; i < warm; i++) {
    await w.send(m);
    await w.recv();
  }
  const lat = new Float64Array(trips);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < trips; i++) {
    const a = process.hrtime.bigint();
    await w.send(m);
    await w.recv();
    lat[i] = Number(process.hrtime.bigint() - a) / 1000;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort();
  const s = Buffer.alloc(SIZE, 9);
  s[0] = STREAM;
  const s0 = process.hrtime.bigint();
  for (let i = 0; i < streamN; i++) await w.send(s);
  const end = Buffer.alloc(SIZE);
  end[0] = END;
  await w.send(end);
  const got = Buffer.from(await w.recv()).readUInt32LE(1);
  if (got !== streamN) throw new Error(`stream: the echo side counted ${got}, not ${streamN}`);
  const ssecs = Number(process.hrtime.bigint() - s0) / 1e9;
  return { p50: lat[Math.floor(trips * 0.5)]!, p99: lat[Math.floor(trips * 0.99)]!, trips: trips / secs, stream: streamN / ssecs };
}

/** The echo side's answer to `m`, or null (counted). */
function answer(m: Uint8Array, state: { n: number }): Buffer | null {
  if (m[0] === STREAM) {
    state.n++;
    return null;
  }
  if (m[0] === END) {
    const r = Buffer.alloc(SIZE);
    r[0] = END;
    r.writeUInt32LE(state.n, 1);
    state.n = 0;
    return r;
  }
  return Buffer.from(m);
}

async function serveChild(role: string, args: string[]): Promise<void> {
  const state = { n: 0 };
  const stop = new Promise<void>((r) => process.stdin.once("end", r).resume());
  if (role === "hub") {
    const h = await hub(args[0]!);
    console.log(h.endpoint);
    await stop;
    await h.close();
  } else if (role === "echo-agent") {
    const a = await join(args[0]!, { name: args[1]!, transport: args[2] as "auto" });
    console.log("ready");
    void stop.then(() => a.close());
    for await (const { from, data } of a) {
      const r = answer(data, state);
      if (r !== null) await a.send(from, r);
    }
  } else if (role === "echo-peer") {
    const server = await listen(args[0]!, { name: "echo" });
    console.log(server.endpoint);
    void stop.then(() => server.close());
    for await (const p of server) {
      for await (const m of p.messages()) {
        const r = answer(m, state);
        if (r !== null) await p.send(r);
      }
      break;
    }
  } else if (role === "broker") {
    const zmq = zeromqOrNull()!;
    // mandatory: a full queue waits instead of dropping (as the hub's ROUTER does); the groundwork's baselines set no HWM limit either.
    const r = new zmq.Router({ linger: 0, mandatory: true, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    await r.bind(args[0]!);
    console.log(args[0]);
    void stop.then(() => r.close());
    for await (const [from, to, m] of r) {
      // Not connected yet (EHOSTUNREACH, mandatory): dropped; the measuring side probes until the echo answers.
      await r.send([to!, from!, m!]).catch(() => {});
    }
  } else if (role === "echo-dealer") {
    const zmq = zeromqOrNull()!;
    const d = new zmq.Dealer({ routingId: "echo", linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    d.connect(args[0]!);
    console.log("ready");
    void stop.then(() => d.close());
    for await (const [from, m] of d) {
      if (m === undefined || m.length === 0) continue;
      const r = answer(m, state);
      if (r !== null) await d.send([from!, r]);
    }
  } else if (role === "echo-tcp") {
    const server = createServer((s) => {
      s.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      s.on("data", (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        while (buf.length >= SIZE) {
          const r = answer(buf.subarray(0, SIZE), state);
          if (r !== null) s.write(r);
          buf = buf.subarray(SIZE);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    console.log((server.address() as { port: number }).port);
    await stop;
    server.close();
  }
}

/**
 * introduced and direct open at once, measured in alternating blocks of
 * `block` round trips: each block of one beside a block of the other, under
 * the same load (this machine's load swings between runs by 10x).
 */
async function paired(trips: number, block: number, warm: number): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-hub-"));
  const rows = [ROWS.find((r) => r.name === "introduced")!, ROWS.find((r) => r.name === "direct")!];
  const opened = [];
  for (const r of rows) opened.push(await r.open(dir));
  const m = Buffer.alloc(SIZE, 7);
  m[0] = ECHO;
  const lat = rows.map(() => [] as number[]);
  const ratios: number[] = [];
  try {
    for (const o of opened) for (let i = 0; i < warm; i++) (await o.wire.send(m), await o.wire.recv());
    for (let done = 0; done < trips; done += block) {
      const p50s: number[] = [];
      for (let k = 0; k < opened.length; k++) {
        const w = opened[k]!.wire;
        const b: number[] = [];
        for (let i = 0; i < block; i++) {
          const a = process.hrtime.bigint();
          await w.send(m);
          await w.recv();
          b.push(Number(process.hrtime.bigint() - a) / 1000);
        }
        lat[k]!.push(...b);
        p50s.push(median(b));
      }
      ratios.push(p50s[0]! / p50s[1]!);
    }
  } finally {
    for (const o of opened) {
      await o.wire.close();
      await Promise.all(o.procs.map((p) => new Promise((r) => (p.once("exit", r), p.stdin!.end()))));
    }
    rmSync(dir, { recursive: true, force: true });
  }
  const q = (xs: number[], f: number): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * f)]!;
  console.log(`\npaired: introduced and direct in alternating blocks of ${block} round trips (${trips} each), same processes throughout`);
  for (let k = 0; k < rows.length; k++) console.log(`  ${rows[k]!.name.padEnd(11)} p50 ${q(lat[k]!, 0.5).toFixed(1)} µs  p99 ${q(lat[k]!, 0.99).toFixed(1)} µs`);
  console.log(`  introduced / direct: p50 ${(q(lat[0]!, 0.5) / q(lat[1]!, 0.5)).toFixed(2)}x, p99 ${(q(lat[0]!, 0.99) / q(lat[1]!, 0.99)).toFixed(2)}x; per block pair, median ${median(ratios).toFixed(2)}x (quartiles ${q(ratios, 0.25).toFixed(2)}-${q(ratios, 0.75).toFixed(2)}) (target <= 1.2x)`);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(argv: string[]): Promise<void> {
  const opt = (name: string, def: number): number => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : def;
  };
  const runs = opt("runs", 3);
  const trips = opt("trips", 10_000);
  const warm = Math.min(2000, Math.ceil(trips / 5));
  const streamN = opt("stream", 20_000);
  const only = argv.includes("--rows") ? argv[argv.indexOf("--rows") + 1]!.split(",") : null;
  const rows = ROWS.filter((r) => (!r.name.startsWith("zmq") || zeromqOrNull() !== null) && (only === null || only.includes(r.name) || r.name === "tcp"));
  const load0 = os.loadavg();
  console.log(`agents and the hub: 64 B, ${trips} round trips (after ${warm} warm-up) and ${streamN} streamed, ${runs} runs, rows interleaved`);
  console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), not pinned, loadavg ${load0.map((x) => x.toFixed(2)).join(" ")}`);
  const results = new Map<string, Result[]>(rows.map((r) => [r.name, []]));
  for (let run = 0; run < runs; run++) {
    for (const row of rows) {
      const dir = mkdtempSync(path.join(os.tmpdir(), "bench-hub-"));
      const { wire, procs } = await row.open(dir);
      try {
        const r = await measure(wire, trips, warm, streamN);
        results.get(row.name)!.push(r);
        console.log(`  run ${run + 1} ${row.name.padEnd(11)} p50 ${r.p50.toFixed(1)} µs  p99 ${r.p99.toFixed(1)} µs  ${Math.round(r.trips)} trips/s  ${Math.round(r.stream)} msg/s streamed`);
      } finally {
        await wire.close();
        await Promise.all(
          procs.map((p) => {
            const gone = new Promise((r) => p.once("exit", r));
            p.stdin!.end();
            setTimeout(() => p.kill("SIGKILL"), 5000).unref();
            return gone;
          }),
        );
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const med = (name: string, k: keyof Result): number => median(results.get(name)!.map((r) => r[k]));
  const tcp = med("tcp", "p50");
  const zb = rows.some((r) => r.name === "zmq-broker") ? med("zmq-broker", "p50") : NaN;
  console.log(`\nmedians of ${runs} runs:`);
  console.log(`${"row".padEnd(11)} ${"p50 µs".padStart(9)} ${"p99 µs".padStart(9)} ${"trips/s".padStart(9)} ${"msg/s".padStart(10)} ${"p50/TCP".padStart(8)} ${"p50/ZMQ".padStart(8)}  what`);
  for (const row of rows) {
    const p50 = med(row.name, "p50");
    console.log(
      `${row.name.padEnd(11)} ${p50.toFixed(1).padStart(9)} ${med(row.name, "p99").toFixed(1).padStart(9)} ${Math.round(med(row.name, "trips")).toString().padStart(9)} ${Math.round(med(row.name, "stream")).toString().padStart(10)} ${(p50 / tcp).toFixed(2).padStart(8)} ${(p50 / zb).toFixed(2).padStart(8)}  ${row.what}`,
    );
  }
  const has = (n: string): boolean => rows.some((r) => r.name === n);
  if (has("introduced") && has("direct")) {
    const ratio = (k: keyof Result): string => (med("introduced", k) / med("direct", k)).toFixed(2);
    // Per run, then the median: the two rows of one run ran minutes apart at most, under the same load.
    const perRun = results.get("introduced")!.map((r, i) => r.p50 / results.get("direct")![i]!.p50);
    console.log(`\nintroduced / direct: p50 ${ratio("p50")}x (per run: ${perRun.map((x) => x.toFixed(2)).join(", ")}; median ${median(perRun).toFixed(2)}x), p99 ${ratio("p99")}x (target <= 1.2x); round trips/s ${ratio("trips")}x`);
  }
  const sat = (row: string): string => `p50 ${med(row, "p50") < 1000 ? "<" : ">="} 1 ms, p99 ${med(row, "p99") < 2000 ? "<" : ">="} 2 ms, ${med(row, "stream") > 20_000 ? ">" : "<="} 20K msg/s`;
  console.log(`seeds' targets (P50 < 1 ms, P99 < 2 ms, > 20K msg/s): ${rows.filter((r) => r.name !== "tcp").map((r) => `${r.name} ${sat(r.name)}`).join("; ")}`);
  if (has("introduced") && has("direct")) await paired(trips * 2, 500, warm);
  console.log(`loadavg at the end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}

const [role, ...rest] = process.argv.slice(2);
(role !== undefined && !role.startsWith("--") ? serveChild(role, rest) : main(process.argv.slice(2))).catch((e) => {
  console.error(e);
  process.exit(1);
});
