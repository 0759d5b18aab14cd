// Channel benchmark: this package's channel against Node TCP loopback and a
// Unix domain socket, across two processes, in one run.
//   rtt     one message in flight, ping-pong; per-round-trip latency
//   stream  the host streams messages one way as fast as it can; the peer
//           counts and checks sequence numbers; messages/s at the receiver
//
//   node dist/bench/channel.js [--size 64] [--rounds 20000] [--messages 1000000]
//        [--transports shm-event,shm-spin,tcp,uds] [--spin US] [--no-cork] [--json FILE]
//   --no-cork: publish every message on its own (no batching per tick) on every transport
import { fork } from "node:child_process";
import { writeFileSync } from "node:fs";

import { fmt, summarize, type Summary } from "./stats.js";
import { shmTransport } from "./transports/shm.js";
import { tcpTransport, udsTransport } from "./transports/socket.js";
import type { Endpoint, Transport } from "./transports/types.js";

type Scenario = "rtt" | "stream";

interface PeerJob {
  transport: string;
  spin?: number;
  cork: boolean;
  scenario: Scenario;
  offer: string;
  count: number;
  size: number;
}

export function makeTransport(name: string, spin?: number, cork = true): Transport {
  switch (name) {
    case "shm-event":
      return shmTransport("event", spin, cork);
    case "shm-spin":
      return shmTransport("spin", undefined, cork);
    case "tcp":
      return tcpTransport(cork);
    case "uds":
      return udsTransport(cork);
    default:
      throw new Error(`unknown transport ${name}`);
  }
}

function seqOf(m: Uint8Array): number {
  return (m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24)) >>> 0;
}

function setSeq(m: Uint8Array, i: number): void {
  m[0] = i & 255;
  m[1] = (i >>> 8) & 255;
  m[2] = (i >>> 16) & 255;
  m[3] = (i >>> 24) & 255;
}

/** Peer side of rtt: echo every message back. */
async function echo(ep: Endpoint, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    let m = ep.recv();
    if (m instanceof Promise) m = await m;
    const p = ep.send(m);
    if (p) await p;
  }
}

/** Peer side of stream: receive `count` messages in order; returns elapsed ms from the first to the last. */
async function sink(ep: Endpoint, count: number, size: number): Promise<number> {
  let t0 = 0;
  for (let i = 0; i < count; i++) {
    // Await only when the transport has nothing yet: no microtask per message.
    let m = ep.recv();
    if (m instanceof Promise) m = await m;
    if (i === 0) t0 = performance.now();
    if (m.length !== size || seqOf(m) !== i >>> 0) {
      throw new Error(`stream: message ${i} has size ${m.length} and sequence ${seqOf(m)}: lost or reordered`);
    }
  }
  return performance.now() - t0;
}

async function peerMain(): Promise<void> {
  const job = await new Promise<PeerJob>((r) => process.once("message", (m) => r(m as PeerJob)));
  const { answer, endpoint } = await makeTransport(job.transport, job.spin, job.cork).peer(job.offer);
  process.send!({ answer });
  const result = job.scenario === "rtt" ? (await echo(endpoint, job.count), 0) : await sink(endpoint, job.count, job.size);
  process.send!({ elapsedMs: result }, () => {
    void endpoint.close();
    process.exit(0);
  });
}

export interface ChannelResult {
  transport: string;
  mode: string | null;
  scenario: Scenario;
  size: number;
  rtt?: Summary; // microseconds
  msgsPerSec?: number;
  mbPerSec?: number;
}

export async function runOne(
  name: string,
  scenario: Scenario,
  size: number,
  count: number,
  spin?: number,
  cork = true,
): Promise<ChannelResult> {
  const t = makeTransport(name, spin, cork);
  const child = fork(__filename, ["peer"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const messages: unknown[] = [];
  const waiters: ((m: unknown) => void)[] = [];
  child.on("message", (m) => (waiters.length ? waiters.shift()!(m) : messages.push(m)));
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  const next = <T>(): Promise<T> =>
    messages.length
      ? Promise.resolve(messages.shift() as T)
      : Promise.race([
          new Promise<T>((r) => waiters.push(r as (m: unknown) => void)),
          exited.then((code) => Promise.reject(new Error(`${name} ${scenario}: peer exited with ${code}`))),
        ]);
  const host = await t.host();
  const total = scenario === "rtt" ? count + Math.ceil(count / 10) : count;
  child.send({ transport: name, spin, cork, scenario, offer: host.offer, count: total, size } satisfies PeerJob);
  const { answer } = await next<{ answer: string }>();
  const ep = await host.complete(answer);
  const msg = new Uint8Array(size);
  const result: ChannelResult = { transport: t.transport, mode: t.mode, scenario, size };
  try {
    if (scenario === "rtt") {
      const warm = total - count;
      const lat: number[] = [];
      for (let i = 0; i < total; i++) {
        setSeq(msg, i);
        const t0 = process.hrtime.bigint();
        const p = ep.send(msg);
        if (p) await p;
        let m = ep.recv();
        if (m instanceof Promise) m = await m;
        const us = Number(process.hrtime.bigint() - t0) / 1000;
        if (m.length !== size || seqOf(m) !== i) throw new Error(`rtt: reply ${i} has sequence ${seqOf(m)}`);
        if (i >= warm) lat.push(us);
      }
      result.rtt = summarize(lat);
      await next();
    } else {
      for (let i = 0; i < count; i++) {
        setSeq(msg, i);
        const p = ep.send(msg);
        if (p) await p;
      }
      const { elapsedMs } = await next<{ elapsedMs: number }>();
      result.msgsPerSec = count / (elapsedMs / 1000);
      result.mbPerSec = (result.msgsPerSec * size) / 1e6;
    }
  } finally {
    await ep.close();
    await exited;
  }
  return result;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (flag: string, dflt: string): string => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1]! : dflt;
  };
  const size = Number(get("--size", "64"));
  const rounds = Number(get("--rounds", "20000"));
  const messages = Number(get("--messages", "1000000"));
  const spinArg = get("--spin", "");
  const spin = spinArg === "" ? undefined : Number(spinArg);
  const transports = get("--transports", "shm-event,shm-spin,tcp,uds").split(",");
  const cork = !args.includes("--no-cork");
  const results: ChannelResult[] = [];
  console.log(`channel benchmark, ${size}-byte messages, two processes${cork ? "" : ", no corking"}`);
  for (const scenario of ["rtt", "stream"] as const) {
    for (const name of transports) {
      const r = await runOne(name, scenario, size, scenario === "rtt" ? rounds : messages, spin, cork);
      results.push(r);
    }
  }
  const tcpRtt = results.find((r) => r.transport === "tcp" && r.scenario === "rtt")?.rtt?.p50;
  const tcpRate = results.find((r) => r.transport === "tcp" && r.scenario === "stream")?.msgsPerSec;
  console.log("\nround trip (µs)          p50      p99    p99.9   p50 vs tcp");
  for (const r of results.filter((x) => x.rtt)) {
    const ratio = tcpRtt ? (r.rtt!.p50 / tcpRtt).toFixed(3) + "x" : "";
    const label = `${r.transport}${r.mode ? `-${r.mode}` : ""}`;
    console.log(`${label.padEnd(20)} ${fmt(r.rtt!.p50).padStart(8)} ${fmt(r.rtt!.p99).padStart(8)} ${fmt(r.rtt!.p999).padStart(8)}   ${ratio.padStart(9)}`);
  }
  console.log("\none-way stream          msgs/s        MB/s   vs tcp");
  for (const r of results.filter((x) => x.msgsPerSec)) {
    const ratio = tcpRate ? (r.msgsPerSec! / tcpRate).toFixed(1) + "x" : "";
    const label = `${r.transport}${r.mode ? `-${r.mode}` : ""}`;
    console.log(`${label.padEnd(20)} ${Math.round(r.msgsPerSec!).toLocaleString("en-US").padStart(11)} ${r.mbPerSec!.toFixed(1).padStart(10)}   ${ratio.padStart(6)}`);
  }
  const json = get("--json", "");
  if (json) writeFileSync(json, JSON.stringify({ version: 1, size, rounds, messages, spin: spin ?? null, cork, results }, null, 2));
}

if (process.argv[2] === "peer") {
  peerMain().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
