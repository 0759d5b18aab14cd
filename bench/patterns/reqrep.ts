// Request/reply round trips between two processes (issue 14, docs/PROTOCOL.md
// §7): a Peer's request() on transport "shm" and on "zmq", against zeromq.js
// REQ/REP and DEALER/ROUTER (ipc and tcp) and a plain TCP request/response
// (4-byte length prefix), all in the same run. 64-byte requests, echoed.
// "peer shm send/recv" is the same Peer without envelopes (a plain send()
// answered by a plain send()): what the request/reply layer adds.
// Per row: the round trip with one request in flight (p50/p99, and the rate
// of that loop), then throughput with 64 and 1024 in flight (REQ/REP cannot
// have more than one). Each row has a server process of its own; each
// figure is the median of --runs runs. Figures are printed, never asserted.
//
//   node dist/bench/patterns/reqrep.js [--runs 3] [--rounds 10000] [--total 50000] [--json FILE]
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

import { connect, listen, type Peer } from "../../lib/index.js";
import { loadZmq } from "../../lib/peer/zmq.js";
import { parseCommandLine, parseInteger } from "../../lib/util/args.js";
import { loadavg } from "../machine.js";
import { quantile } from "../stats.js";

const SIZE = 64;
const WARM = 1000;
const IN_FLIGHT = [64, 1024] as const;
/** ZeroMQ high-water marks for the DEALER/ROUTER rows: above the deepest row, so nothing is dropped. */
const HWM = 100_000;

type RowName = "peer shm" | "peer zmq" | "peer shm send/recv" | "zmq REQ/REP ipc" | "zmq REQ/REP tcp" | "zmq DEALER/ROUTER ipc" | "zmq DEALER/ROUTER tcp" | "tcp";
const ROWS: RowName[] = ["peer shm", "peer shm send/recv", "peer zmq", "zmq DEALER/ROUTER ipc", "zmq DEALER/ROUTER tcp", "zmq REQ/REP ipc", "zmq REQ/REP tcp", "tcp"];

interface Figures {
  p50: number; // µs
  p99: number;
  rate1: number; // round trips/s, one in flight
  rate: Partial<Record<(typeof IN_FLIGHT)[number], number>>; // requests/s with that many in flight
}

/** A client side: one request (resolves with its reply), and how many may be in flight (1 for REQ). */
interface Client {
  request(b: Buffer): Promise<Uint8Array>;
  maxInFlight: number;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- servers

async function serve(kind: string, arg: string): Promise<void> {
  if (kind === "peer") {
    const [ep, transport, plain] = arg.split(",");
    const peer = await connect(ep!, { name: "server", transport: transport as "auto" | "zmq" });
    if (plain === "plain") for await (const m of peer.messages({ copy: false })) await peer.send(m);
    else await peer.serve((req) => req.data, { concurrency: 4096 });
    await peer.close();
    return;
  }
  if (kind === "tcp") {
    const srv = net.createServer((s) => {
      s.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      s.on("data", (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        let at = 0;
        const out: Buffer[] = [];
        while (buf.length - at >= 4) {
          const n = buf.readUInt32LE(at);
          if (buf.length - at < 4 + n) break;
          out.push(buf.subarray(at, at + 4 + n));
          at += 4 + n;
        }
        buf = buf.subarray(at);
        if (out.length > 0) s.write(out.length === 1 ? out[0]! : Buffer.concat(out));
      });
      s.on("error", () => {});
    });
    srv.listen(0, "127.0.0.1", () => process.send!({ ep: (srv.address() as net.AddressInfo).port }));
    return;
  }
  const zmq = loadZmq();
  if (kind === "rep") {
    const sock = new zmq.Reply();
    await sock.bind(arg);
    process.send!({ ep: sock.lastEndpoint });
    for await (const [m] of sock) await sock.send(m!);
  } else {
    // High-water marks above the deepest test (1024 in flight): a ROUTER drops what exceeds its HWM (1000 by default).
    const sock = new zmq.Router({ sendHighWaterMark: HWM, receiveHighWaterMark: HWM });
    await sock.bind(arg);
    process.send!({ ep: sock.lastEndpoint });
    for await (const [id, m] of sock) await sock.send([id!, m!]);
  }
}

// ---------------------------------------------------------------- clients

const here = (): string => __filename;

function spawnServer(kind: string, arg: string): ChildProcess {
  return fork(here(), ["--serve", kind, arg], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
}

const endpointOf = (child: ChildProcess): Promise<string | number> => new Promise((r) => child.once("message", (m: { ep: string | number }) => r(m.ep)));

async function openClient(row: RowName, dir: string, n: number): Promise<{ client: Client; child: ChildProcess }> {
  if (row.startsWith("peer")) {
    const ep = `ipc://${path.join(dir, `peer${n}.sock`)}`;
    const server = await listen(ep, { name: "bench" });
    const plain = row === "peer shm send/recv";
    const child = spawnServer("peer", `${ep},${row === "peer zmq" ? "zmq" : "auto"},${plain ? "plain" : "request"}`);
    let peer: Peer | undefined;
    for await (const p of server) {
      peer = p;
      break;
    }
    const want = row === "peer zmq" ? "zmq" : "shm";
    if (peer!.transport !== want) throw new Error(`${row}: the peers agreed on ${peer!.transport}`);
    return {
      child,
      client: {
        // The baseline without envelopes: a plain send() and the echo's recv(), one at a time.
        request: plain ? async (b) => (await peer!.send(b), peer!.recv()) : (b) => peer!.request(b),
        maxInFlight: plain ? 1 : Infinity,
        async close() {
          await peer!.close();
          await server.close();
        },
      },
    };
  }
  if (row === "tcp") {
    const child = spawnServer("tcp", "");
    const port = (await endpointOf(child)) as number;
    const sock = net.connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    await new Promise((r) => sock.once("connect", r));
    const waiting: ((b: Uint8Array) => void)[] = [];
    let head = 0;
    let buf: Buffer = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      let at = 0;
      while (buf.length - at >= 4) {
        const len = buf.readUInt32LE(at);
        if (buf.length - at < 4 + len) break;
        waiting[head++]!(buf.subarray(at + 4, at + 4 + len));
        at += 4 + len;
      }
      if (head > 4096) {
        waiting.splice(0, head);
        head = 0;
      }
      buf = buf.subarray(at);
    });
    return {
      child,
      client: {
        request(b) {
          const f = Buffer.allocUnsafe(4 + b.length);
          f.writeUInt32LE(b.length, 0);
          f.set(b, 4);
          sock.write(f);
          return new Promise((r) => waiting.push(r));
        },
        maxInFlight: Infinity,
        async close() {
          sock.destroy();
        },
      },
    };
  }
  const zmq = loadZmq();
  const ipc = row.endsWith("ipc");
  const req = row.includes("REQ");
  const child = spawnServer(req ? "rep" : "router", ipc ? `ipc://${path.join(dir, `z${n}.sock`)}` : "tcp://127.0.0.1:0");
  const ep = (await endpointOf(child)) as string;
  if (req) {
    const sock = new zmq.Request();
    sock.connect(ep);
    return {
      child,
      client: {
        async request(b) {
          await sock.send(b);
          const [r] = await sock.receive();
          return r!;
        },
        maxInFlight: 1,
        async close() {
          sock.close();
        },
      },
    };
  }
  // DEALER: one send and one receive at a time (zeromq.js); replies come in order (one ROUTER, one DEALER).
  const sock = new zmq.Dealer({ sendHighWaterMark: HWM, receiveHighWaterMark: HWM });
  sock.connect(ep);
  const waiting: ((b: Uint8Array) => void)[] = [];
  const outQ: Buffer[] = [];
  let sending = false;
  let closed = false;
  const pumpOut = async (): Promise<void> => {
    sending = true;
    while (outQ.length > 0) await sock.send(outQ.shift()!);
    sending = false;
  };
  void (async () => {
    try {
      for await (const [r] of sock) waiting.shift()!(r!);
    } catch {
      if (!closed) throw new Error("the DEALER failed");
    }
  })();
  return {
    child,
    client: {
      request(b) {
        outQ.push(b);
        if (!sending) void pumpOut();
        return new Promise((r) => waiting.push(r));
      },
      maxInFlight: Infinity,
      async close() {
        closed = true;
        sock.close();
      },
    },
  };
}

// ---------------------------------------------------------------- measuring

async function latency(c: Client, rounds: number): Promise<Pick<Figures, "p50" | "p99" | "rate1">> {
  const msg = Buffer.alloc(SIZE, 0x62);
  const lat = new Float64Array(rounds);
  let t0 = 0;
  for (let i = 0; i < WARM + rounds; i++) {
    if (i === WARM) t0 = performance.now();
    const s = process.hrtime.bigint();
    const r = await c.request(msg);
    if (r.length !== SIZE) throw new Error("bad reply");
    if (i >= WARM) lat[i - WARM] = Number(process.hrtime.bigint() - s) / 1000;
  }
  const secs = (performance.now() - t0) / 1000;
  lat.sort();
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), rate1: rounds / secs };
}

/** `k` loops, each with one request in flight, until `total` replies came: requests/s. */
async function throughput(c: Client, k: number, total: number): Promise<number> {
  const msg = Buffer.alloc(SIZE, 0x63);
  let issued = 0;
  const loop = async (): Promise<void> => {
    while (issued < total) {
      issued++;
      const r = await c.request(msg);
      if (r.length !== SIZE) throw new Error("bad reply");
    }
  };
  issued = 0;
  const warm = Math.min(total, 5 * k);
  const warmLoop = async (): Promise<void> => {
    while (issued < warm) {
      issued++;
      await c.request(msg);
    }
  };
  await Promise.all(Array.from({ length: k }, warmLoop));
  issued = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: k }, loop));
  return total / ((performance.now() - t0) / 1000);
}

async function measure(row: RowName, dir: string, n: number, rounds: number, total: number): Promise<Figures> {
  const { client, child } = await openClient(row, dir, n);
  try {
    const l = await latency(client, rounds);
    const rate: Figures["rate"] = {};
    if (client.maxInFlight > 1) for (const k of IN_FLIGHT) rate[k] = await throughput(client, k, total);
    return { ...l, rate };
  } finally {
    await client.close();
    child.kill();
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[(s.length - 1) >> 1]!;
};
const fmt = (x: number | undefined, digits = 0): string => (x === undefined || Number.isNaN(x) ? "-" : x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));

async function main(): Promise<void> {
  const { values } = parseCommandLine(process.argv.slice(2), { runs: { type: "string" }, rounds: { type: "string" }, total: { type: "string" }, json: { type: "string" } });
  const str = (k: string, d: string): string => (typeof values[k] === "string" ? (values[k] as string) : d);
  const runs = parseInteger("runs", str("runs", "3"));
  const rounds = parseInteger("rounds", str("rounds", "10000"), 100);
  const total = parseInteger("total", str("total", "50000"), 1000);
  const dir = path.join(os.tmpdir(), `smsh-reqrep-bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const before = loadavg();
  console.log(`request/reply, ${SIZE} B, two processes, not pinned; ${runs} run(s) of each row, medians; ${rounds} round trips one at a time (after ${WARM}), ${total} requests at each depth`);
  console.log(`${os.cpus()[0]?.model.trim()} x${os.cpus().length}, ${process.platform} ${os.release()}, node ${process.version}, loadavg ${before.join(" ")}`);
  const all = new Map<RowName, Figures[]>();
  let n = 0;
  try {
    for (let run = 0; run < runs; run++) {
      for (const row of ROWS) {
        const f = await measure(row, dir, n++, rounds, total);
        all.set(row, [...(all.get(row) ?? []), f]);
        process.stderr.write(`  run ${run + 1} ${row}: p50 ${fmt(f.p50, 1)} µs, ${IN_FLIGHT.map((k) => `${fmt(f.rate[k])}/s @${k}`).join(", ")}\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const med = new Map<RowName, Figures>();
  for (const [row, fs] of all) {
    const rate: Figures["rate"] = {};
    for (const k of IN_FLIGHT) if (fs[0]!.rate[k] !== undefined) rate[k] = median(fs.map((f) => f.rate[k]!));
    med.set(row, { p50: median(fs.map((f) => f.p50)), p99: median(fs.map((f) => f.p99)), rate1: median(fs.map((f) => f.rate1)), rate });
  }
  const header = ["row", "p50 µs", "p99 µs", "rt/s (1 in flight)", ...IN_FLIGHT.map((k) => `req/s @${k}`)];
  const lines = ROWS.map((r) => {
    const f = med.get(r)!;
    return [r, fmt(f.p50, 1), fmt(f.p99, 1), fmt(f.rate1), ...IN_FLIGHT.map((k) => fmt(f.rate[k]))];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const pr = (cells: string[]): void => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
  console.log("");
  pr(header);
  for (const l of lines) pr(l);
  console.log("");
  const shm = med.get("peer shm")!;
  const ratio = (label: string, base: Figures): void => {
    const r = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}x` : "-");
    console.log(
      `peer shm / ${label}: latency p50 ${r(shm.p50, base.p50)}, p99 ${r(shm.p99, base.p99)} (below 1: faster); rate 1 in flight ${r(shm.rate1, base.rate1)}, ${IN_FLIGHT.map((k) => `@${k} ${base.rate[k] === undefined ? "-" : r(shm.rate[k]!, base.rate[k]!)}`).join(", ")} (above 1: more)`,
    );
  };
  ratio("tcp", med.get("tcp")!);
  ratio("zmq DEALER/ROUTER ipc", med.get("zmq DEALER/ROUTER ipc")!);
  ratio("zmq REQ/REP ipc", med.get("zmq REQ/REP ipc")!);
  console.log(`targets (seeds): p50 < 1 ms ${shm.p50 < 1000 ? "met" : "NOT met"} (${fmt(shm.p50, 1)} µs), p99 < 2 ms ${shm.p99 < 2000 ? "met" : "NOT met"} (${fmt(shm.p99, 1)} µs), > 20K msg/s ${(shm.rate[64] ?? 0) > 20_000 ? "met" : "NOT met"} (${fmt(shm.rate[64])}/s @64)`);
  console.log(`loadavg before ${before.join(" ")}, after ${loadavg().join(" ")} (a shared machine: other programs ran meanwhile; compare rows of the same run)`);
  if (typeof values.json === "string") writeFileSync(values.json, JSON.stringify({ runs, rounds, total, loadavg: { before, after: loadavg() }, medians: Object.fromEntries(med), all: Object.fromEntries(all) }, null, 2));
}

if (process.argv[2] === "--serve") {
  serve(process.argv[3]!, process.argv[4] ?? "").catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
