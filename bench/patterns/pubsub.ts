// Publish/subscribe by endpoint (publish()/subscribe()) against zeromq.js
// PUB/SUB (ipc and tcp) and a TCP fan-out, in the same run.
//   rate:  64 B messages, N subscriber processes, every message checked;
//          figure = messages/s each subscriber received (count / time from
//          the first send to the last subscriber's last message).
//   rows:  pubsub-shm (local subscribers: the broadcast ring), pubsub-zmq
//          (subscribers forced onto ZeroMQ: the publisher's per-subscriber
//          window over the Peer's ZeroMQ connection), zmq-ipc / zmq-tcp
//          (zeromq.js XPUB -> SUB, high-water marks unlimited: nothing drops),
//          tcp (one server writing each message to N sockets).
//   proxy: one-way latency of one message at a time, publisher and
//          subscriber in this process: direct, and through a proxy in a
//          child process (synaptic-shm proxy); p50/p99 and the proxy's cost.
// The publisher uses trySend() and awaits send() only when that says no room.
// The shm ring row is the ring's (the broadcast benchmark measures the ring
// itself, bench/patterns/broadcast.ts); here: what the endpoint layer adds.
// Usage: node dist/bench/patterns/pubsub.js [--runs 3] [--subs 1,4] [--count 100000]
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

import { publish, subscribe } from "../../lib/index.js";
import { zeromqOrNull } from "../../lib/peer/zmq.js";
import { Kid as BaseKid } from "./kid.js";

const SIZE = 64;
const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : def;
};
const now = (): number => performance.timeOrigin + performance.now();

type Msg = { ready?: true; done?: true; n?: number; bad?: number; last?: number };

function fill(b: Uint8Array, k: number): Uint8Array {
  new DataView(b.buffer, b.byteOffset, 8).setUint32(0, k, true);
  b.fill(k & 255, 4);
  return b;
}
function ok(b: Uint8Array, k: number): boolean {
  return b.length === SIZE && new DataView(b.buffer, b.byteOffset, 8).getUint32(0, true) === k && b[SIZE - 1] === (k & 255);
}

// ---- children: one subscriber each; "ready", then "done" with its count and the time of its last message ----
const tell = (m: Msg): void => {
  if (process.connected) process.send!(m, undefined, undefined, () => undefined);
};

async function child(kind: string, endpoint: string, count: number): Promise<void> {
  let n = 0;
  let bad = 0;
  let last = 0;
  const take = (b: Uint8Array): boolean => {
    if (!ok(b, n)) bad++;
    n++;
    last = now();
    return n < count;
  };
  if (kind === "pubsub-shm" || kind === "pubsub-zmq") {
    const sub = await subscribe(endpoint, { topics: ["bench"], transport: kind === "pubsub-shm" ? "auto" : "zmq", timeout: 60_000 });
    tell({ ready: true });
    // Drain what is there without a promise per message; await only when empty (as the broadcast bench does).
    for (;;) {
      const m = sub.tryRecv() ?? (await sub.recv());
      if (!take(m.data)) break;
    }
    await sub.close();
  } else if (kind === "zmq-ipc" || kind === "zmq-tcp") {
    const zmq = zeromqOrNull()!;
    const sock = new zmq.Subscriber({ receiveHighWaterMark: 0, linger: 0 });
    sock.connect(endpoint);
    sock.subscribe("bench");
    tell({ ready: true });
    for await (const [, d] of sock) if (!take(d!)) break;
    sock.close();
  } else {
    const [host, port] = endpoint.split(":");
    const s = net.connect(Number(port), host);
    s.setNoDelay(true);
    tell({ ready: true });
    let buf: Buffer = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      s.on("data", (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        let at = 0;
        while (buf.length - at >= SIZE) {
          if (!take(buf.subarray(at, at + SIZE))) {
            s.destroy();
            return resolve();
          }
          at += SIZE;
        }
        buf = buf.subarray(at);
      });
      s.on("close", () => resolve());
    });
  }
  tell({ done: true, n, bad, last });
}

class Kid extends BaseKid<Msg> {
  constructor(kind: string, endpoint: string, count: number) {
    super(__filename, [kind, endpoint, String(count)]);
  }
}

// ---- the publishing side of each row ----
interface Side {
  endpoint: string;
  /** Resolves once `n` subscribers are there. */
  joined(n: number): Promise<void>;
  send(k: number, b: Uint8Array): Promise<void> | void;
  close(): Promise<void>;
}

async function side(kind: string, dir: string): Promise<Side> {
  const wait = async (ok: () => boolean): Promise<void> => {
    while (!ok()) await new Promise((r) => setTimeout(r, 5));
  };
  if (kind === "pubsub-shm" || kind === "pubsub-zmq") {
    const pub = await publish(`ipc://${path.join(dir, `${kind}.sock`)}`, { policy: "block", blockTimeout: 60_000 });
    // A promise only when it must wait (the ring or a window full), as a ZeroMQ user's loop would not await a PUB.
    return { endpoint: pub.endpoint, joined: (n) => wait(() => pub.subscribers.length >= n), send: (_k, b) => (pub.trySend("bench", b) ? undefined : pub.send("bench", b)), close: () => pub.close() };
  }
  if (kind === "zmq-ipc" || kind === "zmq-tcp") {
    const zmq = zeromqOrNull()!;
    const sock = new zmq.XPublisher({ sendHighWaterMark: 0, linger: 0 });
    await sock.bind(kind === "zmq-ipc" ? `ipc://${path.join(dir, "zmq.sock")}` : "tcp://127.0.0.1:*");
    let subs = 0;
    void (async () => {
      for await (const [m] of sock) if (m![0] === 1) subs++;
    })().catch(() => {});
    return { endpoint: sock.lastEndpoint!, joined: (n) => wait(() => subs >= 1 && (n === 1 || subs >= 1)).then(() => new Promise((r) => setTimeout(r, 300))), send: (_k, b) => sock.send(["bench", b]), close: async () => sock.close() };
  }
  const socks: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    socks.push(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    endpoint: `127.0.0.1:${port}`,
    joined: (n) => wait(() => socks.length >= n),
    // Back-pressure as a TCP server should: wait for 'drain' when a socket's buffer is full.
    send: (_k, b) => {
      let full: net.Socket | null = null;
      for (const s of socks) if (!s.write(b)) full = s;
      if (full !== null) return new Promise<void>((r) => full!.once("drain", () => r()));
    },
    close: async () => {
      for (const s of socks) s.destroy();
      server.close();
    },
  };
}

async function rateRun(kind: string, subs: number, count: number): Promise<number | null> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "smsh-bench-pubsub-"));
  const s = await side(kind, dir);
  const kids = Array.from({ length: subs }, () => new Kid(kind, s.endpoint, count));
  try {
    for (const k of kids) await k.next(); // ready
    await s.joined(subs);
    const t0 = now();
    const b = new Uint8Array(SIZE);
    for (let k = 0; k < count; k++) {
      const p = s.send(k, fill(b, k));
      // publish() resolves at once when there was room: await only a wait (the shm ring and ZeroMQ rows both may).
      if (p !== undefined) await p;
    }
    const done = await Promise.all(kids.map((k) => k.next()));
    if (done.some((d) => d.n !== count || d.bad !== 0)) {
      console.error(`${kind}: a subscriber got ${done.map((d) => `${d.n} (${d.bad} bad)`).join(", ")} of ${count}`);
      return null;
    }
    const t1 = Math.max(...done.map((d) => d.last!));
    return count / ((t1 - t0) / 1000);
  } finally {
    await s.close();
    for (const k of kids) k.proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One-way latency (µs) of `n` messages, one at a time, publisher and subscriber in this process; via a proxy process if asked. */
async function latency(n: number, viaProxy: boolean, transport: "auto" | "zmq"): Promise<number[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "smsh-bench-pubsub-"));
  const up = `ipc://${path.join(dir, "up.sock")}`;
  const down = `ipc://${path.join(dir, "down.sock")}`;
  const pub = await publish(up);
  let proxy: ChildProcess | null = null;
  try {
    if (viaProxy) {
      proxy = spawn(process.execPath, [path.join(__dirname, "..", "..", "lib", "cli.js"), "proxy", "--quiet", "--publish-on", down, up], { stdio: ["ignore", "pipe", "inherit"] });
      await new Promise<void>((r) => proxy!.stdout!.on("data", (d: Buffer) => d.toString().includes("publishing on") && r()));
    }
    const sub = await subscribe(viaProxy ? down : up, { topics: ["lat"], transport, timeout: 30_000 });
    while (pub.subscribers.length < 1 || pub.topics.length === 0) await new Promise((r) => setTimeout(r, 5));
    const out: number[] = [];
    const b = new Uint8Array(SIZE);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await pub.send("lat", b);
      await sub.recv({ timeout: 10_000 });
      out.push((performance.now() - t0) * 1000);
    }
    await sub.close();
    return out.slice(Math.floor(n / 10)); // the first tenth warms up
  } finally {
    proxy?.kill("SIGTERM");
    await pub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (v: number[], p: number): number => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor((p / 100) * v.length))]!;
const fmt = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1));

async function main(): Promise<void> {
  const runs = Number(opt("runs", "3"));
  const subsList = opt("subs", "1,4").split(",").map(Number);
  const count = Number(opt("count", "100000"));
  const zmqOk = zeromqOrNull() !== null;
  console.log(`# publish/subscribe endpoints, 64 B: messages/s each subscriber received (median of ${runs} runs; every message checked)`);
  console.log(`# ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, not pinned, load before: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  const kinds = ["pubsub-shm", "pubsub-zmq", ...(zmqOk ? ["zmq-ipc", "zmq-tcp"] : []), "tcp"];
  const table: Record<string, Record<number, number>> = {};
  for (const subs of subsList) {
    for (const kind of kinds) {
      const vals: number[] = [];
      // zeromq rows are slower: fewer messages, the same rate.
      const n = kind === "pubsub-shm" ? count : Math.max(10_000, Math.floor(count / 4));
      for (let r = 0; r < runs; r++) {
        const v = await rateRun(kind, subs, n);
        if (v !== null) vals.push(v);
      }
      (table[kind] ??= {})[subs] = median(vals);
    }
  }
  console.log(`\n| row | ${subsList.map((s) => `${s} sub${s > 1 ? "s" : ""}`).join(" | ")} | ${subsList.map((s) => `vs tcp (${s})`).join(" | ")} | ${subsList.map((s) => `vs zmq-ipc (${s})`).join(" | ")} |`);
  console.log(`|---|${subsList.map(() => "---:").join("|")}|${subsList.map(() => "---:").join("|")}|${subsList.map(() => "---:").join("|")}|`);
  for (const kind of kinds) {
    const r = table[kind]!;
    const cells = subsList.map((s) => fmt(r[s]!));
    const vsTcp = subsList.map((s) => `${(r[s]! / table.tcp![s]!).toFixed(2)}×`);
    const vsZmq = subsList.map((s) => (zmqOk ? `${(r[s]! / table["zmq-ipc"]![s]!).toFixed(2)}×` : "-"));
    console.log(`| ${kind} | ${cells.join(" | ")} | ${vsTcp.join(" | ")} | ${vsZmq.join(" | ")} |`);
  }
  console.log(`\n# one-way latency, 64 B, one message at a time, publisher and subscriber in one process (2,000 messages, first tenth dropped; medians of ${runs} runs)`);
  console.log("| path | p50 µs | p99 µs |");
  console.log("|---|---:|---:|");
  for (const [label, via, t] of [
    ["direct, shm", false, "auto"],
    ["direct, zmq", false, "zmq"],
    ["through a proxy process, shm both hops", true, "auto"],
    ["through a proxy process, zmq downstream", true, "zmq"],
  ] as const) {
    const p50: number[] = [];
    const p99: number[] = [];
    for (let r = 0; r < runs; r++) {
      const v = await latency(2000, via, t);
      p50.push(pct(v, 50));
      p99.push(pct(v, 99));
    }
    console.log(`| ${label} | ${fmt(median(p50))} | ${fmt(median(p99))} |`);
  }
  console.log(`\n# load after: ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}

if (args[0] === "--child") void child(args[1]!, args[2]!, Number(args[3]));
else
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
