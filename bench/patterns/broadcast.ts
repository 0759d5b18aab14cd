// Broadcast 1 -> N: this package's broadcast ring against zeromq.js PUB/SUB
// (ipc and tcp, high-water marks unlimited so nothing drops) and a TCP
// fan-out (one server writing every message to N sockets), in the same run.
//   64 B:   messages/s each subscriber received (count / time from the first
//           send to the last subscriber's last message); every message checked.
//   100 MB: time from send() to the last subscriber holding the whole
//           message (shm: a loan, slab already mapped by every subscriber;
//           its first delivery, which maps it, is reported apart).
// shm subscribers take messages with tryRecv() and await recv() only when
// none is there (zeromq.js and TCP clients use their async iterators).
// Usage: node dist/bench/patterns/broadcast.js [--runs 3] [--subs 1,4,8] [--count 200000]
import { rmSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";

import { Broadcast, type BroadcastMessage } from "../../lib/index.js";
import { zeromqOrNull, type Zmq } from "../../lib/peer/zmq.js";
import { Kid as BaseKid } from "./kid.js";

const BIG = 100_000_000;
const SMALL = 64;
const now = (): number => performance.timeOrigin + performance.now();
const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : def;
};

type Msg = { ready?: true; done?: true; n?: number; last?: number; bad?: number; got?: number; at?: number; ok?: boolean };

/** A subscriber process of this script (role in argv), with its messages queued. */
class Kid extends BaseKid<Msg> {
  constructor(role: string, ...rest: string[]) {
    super(__filename, [role, ...rest]);
  }
}

// ---- message content -------------------------------------------------------
function fillSmall(b: Uint8Array, k: number): void {
  b[0] = k & 255;
  b[1] = (k >>> 8) & 255;
  b[2] = (k >>> 16) & 255;
  b[3] = (k >>> 24) & 255;
  b.fill((k * 7) & 255, 4);
}
/** Whether b is message k (every byte). */
function checkSmall(b: Uint8Array, k: number): boolean {
  if (b.length !== SMALL || (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0 !== k >>> 0) return false;
  const v = (k * 7) & 255;
  for (let i = 4; i < SMALL; i++) if (b[i] !== v) return false;
  return true;
}
/** One byte per 4 KiB page of round r's big message (and the last byte). */
function markBig(b: Uint8Array, r: number): void {
  for (let i = 0; i < b.length; i += 4096) b[i] = (r + i / 4096) & 255;
  b[b.length - 1] = r & 255;
}
function checkBig(b: Uint8Array, r: number): boolean {
  if (b.length !== BIG) return false;
  for (let i = 0; i < b.length; i += 4096) if (b[i] !== ((r + i / 4096) & 255)) return false;
  return b[b.length - 1] === (r & 255);
}

// ---- children ----------------------------------------------------------------
// The callback form: a parent that already went away is no error for a child here.
const send = (m: Msg): void => {
  if (process.connected) process.send!(m, undefined, undefined, () => undefined);
};

async function shmSub(name: string, size: number): Promise<void> {
  const sub = Broadcast.attach(name);
  send({ ready: true });
  let n = 0;
  let bad = 0;
  let last = 0;
  for (;;) {
    let m: BroadcastMessage;
    try {
      // Drain what is there without a promise per message; await only when empty.
      m = sub.tryRecv() ?? (await sub.recv());
    } catch {
      break; // ECLOSED: the end
    }
    if (size === SMALL) {
      if (!checkSmall(m.data, n)) bad++;
      n++;
      last = now();
    } else {
      const at = now();
      const r = Number(m.topic.slice(4));
      const ok = checkBig(m.data, r);
      m.release();
      send({ got: r, at, ok });
    }
  }
  send({ done: true, n, last, bad });
  sub.close();
}

async function zmqSub(zmq: Zmq, endpoint: string, size: number): Promise<void> {
  const sock = new zmq.Subscriber({ receiveHighWaterMark: 0, maxMessageSize: -1 });
  sock.connect(endpoint);
  sock.subscribe("t");
  send({ ready: true });
  let n = 0;
  let bad = 0;
  let last = 0;
  for await (const [raw] of sock) {
    if (raw!.length === 1) break; // the end marker: the bare topic
    if (size === SMALL) {
      if (!checkSmall(raw!.subarray(1), n)) bad++;
      n++;
      last = now();
    } else {
      const at = now();
      const r = raw![1]!;
      send({ got: r, at, ok: checkBig(raw!.subarray(2), r) });
    }
  }
  send({ done: true, n, last, bad });
  sock.close();
}

async function tcpSub(port: number, size: number): Promise<void> {
  const sock = net.connect(port, "127.0.0.1");
  sock.setNoDelay(true);
  await new Promise((r) => sock.once("connect", r));
  send({ ready: true });
  let n = 0;
  let bad = 0;
  let last = 0;
  let pending: Buffer[] = [];
  let have = 0;
  let need = -1; // body length of the frame being assembled
  let big: Uint8Array | null = null;
  for await (const chunk of sock as AsyncIterable<Buffer>) {
    pending.push(chunk);
    have += chunk.length;
    for (;;) {
      if (need < 0) {
        if (have < 4) break;
        const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        need = all.readUInt32LE(0);
        pending = [all.subarray(4)];
        have -= 4;
        if (size !== SMALL) big = new Uint8Array(need);
      }
      if (size !== SMALL) {
        // Assemble the big message as it comes (one copy, as a receiver must).
        let at = big!.length - need;
        while (pending.length > 0 && need > 0) {
          const c = pending.shift()!;
          const take = Math.min(c.length, need);
          big!.set(c.subarray(0, take), at);
          at += take;
          need -= take;
          have -= take;
          if (take < c.length) pending.unshift(c.subarray(take));
        }
        if (need > 0) break;
        const t = now();
        const r = big![1]!;
        send({ got: r, at: t, ok: checkBig(big!.subarray(2), r) });
        need = -1;
        continue;
      }
      if (have < need) break;
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      if (!checkSmall(all.subarray(1, need), n)) bad++;
      n++;
      last = now();
      pending = [all.subarray(need)];
      have -= need;
      need = -1;
    }
  }
  send({ done: true, n, last, bad });
}

// ---- rows ---------------------------------------------------------------------
interface SmallResult {
  rate: number;
  bad: number;
  delivered: number;
}

async function shmSmall(subs: number, count: number): Promise<SmallResult> {
  const w = Broadcast.create({ policy: "block", capacity: Number(opt("capacity", String(1 << 20))) });
  const kids = Array.from({ length: subs }, () => new Kid("shm", w.name, String(SMALL)));
  for (const k of kids) await k.until((m) => m.ready === true);
  const body = new Uint8Array(SMALL);
  const t0 = now();
  for (let k = 0; k < count; k++) {
    fillSmall(body, k);
    if (!w.trySend("t", body)) await w.send("t", body);
  }
  w.close();
  return finishSmall(kids, count, t0);
}

async function finishSmall(kids: Kid[], count: number, t0: number): Promise<SmallResult> {
  let last = 0;
  let bad = 0;
  let delivered = Infinity;
  for (const k of kids) {
    const m = await k.until((x) => x.done === true);
    last = Math.max(last, m.last!);
    bad += m.bad! + (m.n !== count ? 1 : 0);
    delivered = Math.min(delivered, m.n!);
    k.end();
  }
  return { rate: count / ((last - t0) / 1000), bad, delivered };
}

async function zmqPub(zmq: Zmq, kind: "ipc" | "tcp", subs: number, size: number): Promise<{ pub: InstanceType<Zmq["XPublisher"]>; kids: Kid[]; cleanup: () => void }> {
  const path = `/tmp/smsh-bcast-bench-${process.pid}.sock`;
  const pub = new zmq.XPublisher({ sendHighWaterMark: 0, maxMessageSize: -1, verbosity: "allSubs" });
  await pub.bind(kind === "ipc" ? `ipc://${path}` : "tcp://127.0.0.1:0");
  const seen = (async () => {
    let s = 0;
    for await (const [m] of pub) if (m![0] === 1 && ++s >= subs) return;
  })();
  const kids = Array.from({ length: subs }, () => new Kid("zmq", pub.lastEndpoint!, String(size)));
  for (const k of kids) await k.until((m) => m.ready === true);
  await seen;
  await new Promise((r) => setTimeout(r, 100)); // let the subscriptions settle
  return { pub, kids, cleanup: () => (pub.close(), kind === "ipc" ? rmSync(path, { force: true }) : undefined) };
}

async function zmqSmall(zmq: Zmq, kind: "ipc" | "tcp", subs: number, count: number): Promise<SmallResult> {
  const { pub, kids, cleanup } = await zmqPub(zmq, kind, subs, SMALL);
  const msg = Buffer.alloc(1 + SMALL);
  msg[0] = 0x74; // "t"
  const t0 = now();
  for (let k = 0; k < count; k++) {
    fillSmall(msg.subarray(1), k);
    await pub.send(Buffer.from(msg)); // zeromq.js may keep the buffer: a fresh one each time
  }
  for (let i = 0; i < 3; i++) await pub.send("t");
  const r = await finishSmall(kids, count, t0);
  cleanup();
  return r;
}

async function tcpServer(subs: number, size: number): Promise<{ socks: net.Socket[]; kids: Kid[]; server: net.Server }> {
  const server = net.createServer();
  const socks: net.Socket[] = [];
  const all = new Promise<void>((r) =>
    server.on("connection", (s) => {
      s.setNoDelay(true);
      socks.push(s);
      if (socks.length === subs) r();
    }),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const kids = Array.from({ length: subs }, () => new Kid("tcp", String(port), String(size)));
  for (const k of kids) await k.until((m) => m.ready === true);
  await all;
  return { socks, kids, server };
}

/** Writes `buf` to every socket, waiting for 'drain' where the kernel is full (nothing dropped, memory bounded). */
async function writeAll(socks: net.Socket[], buf: Buffer): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const s of socks) if (!s.write(buf)) waits.push(new Promise((r) => s.once("drain", r)));
  if (waits.length > 0) await Promise.all(waits);
}

async function tcpSmall(subs: number, count: number): Promise<SmallResult> {
  const { socks, kids, server } = await tcpServer(subs, SMALL);
  // Frames of [u32 length][topic "t"][64 B], 256 per write (as a server corks a burst).
  const frame = 4 + 1 + SMALL;
  const batch = 256;
  const t0 = now();
  for (let k = 0; k < count; k += batch) {
    const n = Math.min(batch, count - k);
    const buf = Buffer.alloc(n * frame);
    for (let i = 0; i < n; i++) {
      buf.writeUInt32LE(1 + SMALL, i * frame);
      buf[i * frame + 4] = 0x74;
      fillSmall(buf.subarray(i * frame + 5, (i + 1) * frame), k + i);
    }
    await writeAll(socks, buf);
  }
  for (const s of socks) s.end();
  const r = await finishSmall(kids, count, t0);
  server.close();
  return r;
}

interface BigResult {
  first: number | null;
  ms: number[];
  bad: number;
}

async function collectBig(kids: Kid[], t0: number): Promise<{ ms: number; bad: number }> {
  let last = 0;
  let bad = 0;
  for (const k of kids) {
    const m = await k.until((x) => x.got !== undefined);
    last = Math.max(last, m.at!);
    if (!m.ok) bad++;
  }
  return { ms: last - t0, bad };
}

async function shmBig(subs: number, rounds: number): Promise<BigResult> {
  const w = Broadcast.create({ policy: "block", maxLoanBytes: 2 * BIG });
  const kids = Array.from({ length: subs }, () => new Kid("shm", w.name, String(BIG)));
  for (const k of kids) await k.until((m) => m.ready === true);
  const out: BigResult = { first: null, ms: [], bad: 0 };
  for (let r = 0; r <= rounds; r++) {
    const l = await w.loan(BIG);
    markBig(l.data, r);
    const t0 = now();
    await w.send(`big.${r}`, l);
    w.flushHeld();
    const { ms, bad } = await collectBig(kids, t0);
    out.bad += bad;
    if (r === 0) out.first = ms; // the subscribers map the slab now
    else out.ms.push(ms);
  }
  w.close();
  for (const k of kids) k.end();
  return out;
}

async function zmqBig(zmq: Zmq, kind: "ipc" | "tcp", subs: number, rounds: number): Promise<BigResult> {
  const { pub, kids, cleanup } = await zmqPub(zmq, kind, subs, BIG);
  const out: BigResult = { first: null, ms: [], bad: 0 };
  for (let r = 0; r < rounds; r++) {
    const msg = Buffer.allocUnsafe(2 + BIG);
    msg[0] = 0x74;
    msg[1] = r;
    markBig(msg.subarray(2), r);
    const t0 = now();
    await pub.send(msg);
    const { ms, bad } = await collectBig(kids, t0);
    out.ms.push(ms);
    out.bad += bad;
  }
  for (let i = 0; i < 3; i++) await pub.send("t");
  for (const k of kids) k.end();
  cleanup();
  return out;
}

async function tcpBig(subs: number, rounds: number): Promise<BigResult> {
  const { socks, kids, server } = await tcpServer(subs, BIG);
  const out: BigResult = { first: null, ms: [], bad: 0 };
  for (let r = 0; r < rounds; r++) {
    const msg = Buffer.allocUnsafe(4 + 2 + BIG);
    msg.writeUInt32LE(2 + BIG, 0);
    msg[4] = 0x74;
    msg[5] = r;
    markBig(msg.subarray(6), r);
    const t0 = now();
    await writeAll(socks, msg);
    const { ms, bad } = await collectBig(kids, t0);
    out.ms.push(ms);
    out.bad += bad;
  }
  for (const s of socks) s.end();
  for (const k of kids) k.end();
  server.close();
  return out;
}

// ---- the run -----------------------------------------------------------------
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "-");

async function main(): Promise<void> {
  const runs = Number(opt("runs", "3"));
  const subsList = opt("subs", "1,4,8").split(",").map(Number);
  const count = Number(opt("count", "200000"));
  const zmqCount = Number(opt("zmq-count", "100000"));
  const zmq = zeromqOrNull();
  const started = now();
  console.log(`# broadcast 1 -> N (bench/patterns/broadcast.ts), ${new Date().toISOString()}`);
  console.log(
    `# ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, ${os.platform()} ${os.release()}, not pinned; ` +
      `loadavg at start ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}; medians of ${runs} runs (64 B) and of the rounds (100 MB)`,
  );
  if (zmq === null) console.log("# zeromq not installed: its rows are skipped");

  console.log(`\n## 64 B messages: messages/s each subscriber received (shm and tcp: ${count} messages; zeromq: ${zmqCount}); every message checked`);
  console.log("| subscribers | shm ring | zmq ipc | zmq tcp | tcp fan-out | shm/zmq ipc | shm/zmq tcp | shm/tcp | loadavg |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const n of subsList) {
    const rows: Record<string, number[]> = { shm: [], zi: [], zt: [], tcp: [] };
    let bad = 0;
    for (let r = 0; r < runs; r++) {
      const a = await shmSmall(n, count);
      rows.shm!.push(a.rate);
      bad += a.bad;
      if (zmq !== null) {
        const b = await zmqSmall(zmq, "ipc", n, zmqCount);
        rows.zi!.push(b.rate);
        bad += b.bad;
        const c = await zmqSmall(zmq, "tcp", n, zmqCount);
        rows.zt!.push(c.rate);
        bad += c.bad;
      }
      const d = await tcpSmall(n, count);
      rows.tcp!.push(d.rate);
      bad += d.bad;
    }
    const [s, zi, zt, t] = [median(rows.shm!), median(rows.zi!), median(rows.zt!), median(rows.tcp!)];
    console.log(
      `| ${n} | ${fmt(s)} | ${fmt(zi)} | ${fmt(zt)} | ${fmt(t)} | ${fmt(s / zi, 1)}x | ${fmt(s / zt, 1)}x | ${fmt(s / t, 1)}x | ${os.loadavg()[0]!.toFixed(2)} |` +
        (bad > 0 ? ` **${bad} bad or missing**` : ""),
    );
  }

  const rounds = Number(opt("rounds", "5"));
  console.log(`\n## 100 MB: ms from send() to the last subscriber holding the whole message (median of ${rounds} rounds; shm: a loan, slab already mapped; "first" maps it)`);
  console.log("| subscribers | shm loan | shm first delivery | zmq ipc | zmq tcp | tcp fan-out | zmq ipc/shm | tcp/shm | loadavg |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const n of subsList) {
    const a = await shmBig(n, rounds);
    const b = zmq !== null ? await zmqBig(zmq, "ipc", n, Math.min(3, rounds)) : null;
    const c = zmq !== null ? await zmqBig(zmq, "tcp", n, Math.min(3, rounds)) : null;
    const d = await tcpBig(n, Math.min(3, rounds));
    const bad = a.bad + (b?.bad ?? 0) + (c?.bad ?? 0) + d.bad;
    const s = median(a.ms);
    const zi = b ? median(b.ms) : NaN;
    const zt = c ? median(c.ms) : NaN;
    const t = median(d.ms);
    console.log(
      `| ${n} | ${fmt(s, 3)} | ${fmt(a.first!, 1)} | ${fmt(zi, 1)} | ${fmt(zt, 1)} | ${fmt(t, 1)} | ${fmt(zi / s, 0)}x | ${fmt(t / s, 0)}x | ${os.loadavg()[0]!.toFixed(2)} |` +
        (bad > 0 ? ` **${bad} bad**` : ""),
    );
  }
  console.log(`\n# done in ${((now() - started) / 1000).toFixed(0)} s; loadavg at the end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}

if (args[0] === "--child") {
  const [, role, a, b] = args;
  const size = Number(b);
  const run = role === "shm" ? shmSub(a!, size) : role === "tcp" ? tcpSub(Number(a), size) : zmqSub(zeromqOrNull()!, a!, size);
  run.then(
    () => (process.connected ? process.disconnect() : undefined),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
} else {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
