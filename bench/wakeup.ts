// Wake-to-callback latency across two processes, for each way a sleeping
// peer can be woken: the event-loop paths ("doorbell": uv_poll on a Unix
// datagram socket; "futex": a native thread in FUTEX_WAIT signalling the
// loop through a thread-safe function), the blocking futex wait, and a spin
// loop as the floor. The parent and a forked child ping-pong a counter in a
// shared segment; each side records, per wake, the time from the peer's
// notify() (a CLOCK_MONOTONIC stamp in shared memory) to its own callback.
//
//   node dist/bench/wakeup.js [--rounds N] [--modes doorbell,futex,sync,spin] [--json FILE]
import { fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as net from "node:net";

import { Segment, WaitLine, Waiter, layout } from "../lib/index.js";
import type { WaitMode } from "../lib/index.js";
import { UsageError, parseCommandLine, parseInteger } from "../lib/util/args.js";
import { formatNumber } from "../lib/util/format.js";
import { summarize, type Summary } from "./stats.js";

type Mode = WaitMode | "sync" | "spin" | "tcp";
const ALL_MODES: Mode[] = ["doorbell", "futex", "sync", "spin", "tcp"];

const SEG_WORDS = 8; // [0] ping, [1] pong, f64 at [2..3] ping stamp, f64 at [4..5] pong stamp

function now(): number {
  return Number(process.hrtime.bigint());
}

interface Side {
  mine: number; // word index I write
  theirs: number; // word index I wait on
  myStamp: number; // f64 index of my stamp
  theirStamp: number;
  myLine: WaitLine; // the line my peer sleeps on: I notify it
  theirLine: WaitLine; // the line I sleep on
}

function makeSide(seg: Segment, parent: boolean): Side {
  const a = new WaitLine(seg, layout.OFFSETS.reader_wait);
  const b = new WaitLine(seg, layout.OFFSETS.writer_wait);
  return parent
    ? { mine: 0, theirs: 1, myStamp: 1, theirStamp: 2, myLine: a, theirLine: b }
    : { mine: 1, theirs: 0, myStamp: 2, theirStamp: 1, myLine: b, theirLine: a };
}

/** Runs `rounds` exchanges; returns one-way latencies (µs) seen by this side. */
async function pingPong(seg: Segment, side: Side, mode: Exclude<Mode, "tcp">, rounds: number, first: boolean): Promise<number[]> {
  const words = new Int32Array(seg.buffer, seg.dataOffset, SEG_WORDS);
  const stamps = new Float64Array(seg.buffer, seg.dataOffset, SEG_WORDS / 2);
  const waiter = mode === "doorbell" || mode === "futex" ? new Waiter(side.theirLine, mode) : null;
  const lat: number[] = [];
  const send = (i: number): void => {
    stamps[side.myStamp] = now();
    Atomics.store(words, side.mine, i);
    side.myLine.notify();
  };
  const arrived = (i: number): boolean => Atomics.load(words, side.theirs) === i;
  const receive = async (i: number): Promise<void> => {
    if (mode === "spin") {
      while (!arrived(i));
    } else {
      while (!arrived(i)) {
        const seq = side.theirLine.prepare(waiter ? waiter.mode : "sync");
        if (!arrived(i)) {
          if (waiter) await waiter.wait(seq);
          else side.theirLine.waitSync(seq, 1000);
        }
        side.theirLine.finish();
      }
    }
    lat.push((now() - stamps[side.theirStamp]!) / 1000);
  };
  for (let i = 1; i <= rounds; i++) {
    if (first) {
      send(i);
      await receive(i);
    } else {
      await receive(i);
      send(i);
    }
  }
  waiter?.close();
  return lat;
}

/**
 * The same exchange over TCP loopback (noDelay, 16-byte messages carrying the
 * round number and the sender's stamp), the reference in the same run.
 */
function tcpPingPong(socket: net.Socket, rounds: number, first: boolean): Promise<number[]> {
  socket.setNoDelay(true);
  const lat: number[] = [];
  const out = Buffer.alloc(16);
  let pending: Buffer = Buffer.alloc(0);
  let i = first ? 1 : 0;
  return new Promise((resolve, reject) => {
    const send = (n: number): void => {
      out.writeUInt32LE(n, 0);
      out.writeDoubleLE(now(), 8);
      socket.write(out);
    };
    socket.on("error", reject);
    socket.on("data", (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      while (pending.length >= 16) {
        const n = pending.readUInt32LE(0);
        lat.push((now() - pending.readDoubleLE(8)) / 1000);
        pending = pending.subarray(16);
        if (first) {
          if (n !== i) return reject(new Error(`tcp: expected ${i}, got ${n}`));
          if (i === rounds) return resolve(lat);
          send(++i);
        } else {
          send(n);
          if (n === rounds) return resolve(lat);
        }
      }
    });
    if (first) send(1);
  });
}

async function child(): Promise<void> {
  const [name, mode, rounds] = process.argv.slice(3);
  if (mode === "tcp") {
    const socket = net.connect(Number(name), "127.0.0.1");
    const lat = await tcpPingPong(socket, Number(rounds), false);
    process.send!(lat, () => {
      socket.destroy();
      process.exit(0);
    });
    return;
  }
  const seg = Segment.attach(name!);
  const lat = await pingPong(seg, makeSide(seg, false), mode as Exclude<Mode, "tcp">, Number(rounds), false);
  process.send!(lat, () => {
    seg.close();
    process.exit(0);
  });
}

export async function measureWakeup(mode: Mode, rounds: number): Promise<{ mode: Mode; oneWay: Summary; rtt: Summary }> {
  const seg = Segment.create({ size: 4096 });
  const server = net.createServer();
  try {
    let peer: Promise<net.Socket> | null = null;
    let target = seg.name;
    if (mode === "tcp") {
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      target = String((server.address() as net.AddressInfo).port);
      peer = new Promise((r) => server.once("connection", r));
    }
    const proc = fork(__filename, ["child", target, mode, String(rounds)], { stdio: "inherit" });
    const childLat = new Promise<number[]>((resolve, reject) => {
      proc.once("message", (m) => resolve(m as number[]));
      proc.once("exit", (code) => reject(new Error(`child exited with ${code}`)));
    });
    // Give the child time to attach and start waiting before timing.
    await new Promise((r) => setTimeout(r, 200));
    const started = process.hrtime.bigint();
    const mine = peer
      ? await tcpPingPong(await peer, rounds, true)
      : await pingPong(seg, makeSide(seg, true), mode as Exclude<Mode, "tcp">, rounds, true);
    const elapsedUs = Number(process.hrtime.bigint() - started) / 1000;
    const theirs = await childLat;
    const warm = Math.floor(rounds / 10); // drop the first 10% as warm-up
    const oneWay = summarize([...mine.slice(warm), ...theirs.slice(warm)]);
    const rttMean = elapsedUs / rounds;
    return { mode, oneWay, rtt: { ...oneWay, mean: rttMean } };
  } finally {
    seg.close();
    server.close();
  }
}

const USAGE = `usage: node dist/bench/wakeup.js [--rounds N] [--modes ${ALL_MODES.join(",")}] [--json FILE]`;

async function main(): Promise<void> {
  let values: Record<string, string | true>;
  try {
    ({ values } = parseCommandLine(process.argv.slice(2), {
      rounds: { type: "string" },
      modes: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    }));
    if (values.help) {
      console.log(USAGE);
      return;
    }
    if (typeof values.modes === "string") {
      for (const m of values.modes.split(",")) if (!ALL_MODES.includes(m as Mode)) throw new UsageError(`unknown mode "${m}"`);
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`wakeup: ${e.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const rounds = typeof values.rounds === "string" ? parseInteger("rounds", values.rounds) : 20000;
  const modes = (typeof values.modes === "string" ? values.modes.split(",") : ALL_MODES) as Mode[];
  const fmt = (us: number): string => formatNumber(us);
  const results = [];
  console.log(`wake-to-callback latency across two processes, ${rounds} round trips per mode (µs)`);
  console.log("mode       p50      p99      p99.9    round trip (mean)");
  for (const mode of modes) {
    const r = await measureWakeup(mode, rounds);
    results.push(r);
    console.log(
      `${mode.padEnd(9)} ${fmt(r.oneWay.p50).padStart(7)}  ${fmt(r.oneWay.p99).padStart(7)}  ${fmt(r.oneWay.p999).padStart(7)}    ${fmt(r.rtt.mean).padStart(7)}`,
    );
  }
  const json = values.json;
  if (typeof json === "string") writeFileSync(json, JSON.stringify({ version: 1, rounds, results }, null, 2));
}

if (process.argv[2] === "child") {
  void child();
} else if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
