// What each side does in each scenario. Every transport runs exactly this
// code: the same message pattern, warm-up and verification.
//   rtt     host: send message i (sequence number in its first 4 bytes), wait
//           for the echo, check it; peer: echo. Latency per round trip.
//   stream  host: send `warmup` + `count` messages as fast as the transport
//           takes them; peer: receive them, check size and sequence, then
//           acknowledge. Rate measured at the peer over the last `count`
//           (the warm-up lets the JIT optimise both sides' loops first).
//   stream-batch  stream through the transport's batch API (Endpoint.sendMany,
//           recvMany): `batch` messages per sendMany; the peer takes all
//           that arrived in one recvMany and checks each in place.
//   bulk    host: send one buffer of `size` bytes; peer: receive it, read one
//           byte of every 4 KiB page, check the byte count, acknowledge.
//           Time from the start of the send to the acknowledgement.
//   pointcloud  bulk in steady state, the writer filling (on a loan
//           transport: filling a loan in place); handoff and full transfer
//           times (pointcloud.ts).
//   connect  from nothing to the first echo, and (peers) reconnecting after
//           the listener is killed and started again (connect.ts).
import { P99_MIN, runCloudHost, runCloudPeer } from "./pointcloud.js";
import { summarize } from "./stats.js";
import type { Endpoint } from "./transports/types.js";

export type Scenario = "rtt" | "stream" | "stream-batch" | "bulk" | "pointcloud" | "connect";

/** stream-batch: messages per sendMany() when --batch is not given. */
export const DEFAULT_BATCH = 64;

export interface Job {
  scenario: Scenario;
  transport: string;
  size: number;
  /** rtt: timed round trips; stream: messages; bulk, pointcloud: timed transfers. */
  count: number;
  /** Untimed repetitions first (rtt round trips, bulk and pointcloud transfers). */
  warmup: number;
  cork: boolean;
  /** stream-batch: messages per sendMany(). */
  batch?: number;
  /** shm transports: the spin option as text ("adaptive", "20", "inf"): jobs travel as JSON. */
  spin?: string;
}

export type Progress = (done: number, total: number) => void;

const PAGE = 4096;

function setSeq(m: Uint8Array, i: number): void {
  m[0] = i & 255;
  m[1] = (i >>> 8) & 255;
  m[2] = (i >>> 16) & 255;
  m[3] = (i >>> 24) & 255;
}

function seqOf(m: Uint8Array): number {
  return (m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24)) >>> 0;
}

// The hot loops below call ep.recv()/ep.send() inline and await only when
// they return a promise: a helper async function would add a microtask to
// every message, which is a measurable part of a 1 µs round trip.
async function recv(ep: Endpoint): Promise<Uint8Array> {
  return ep.recv();
}

function lost(what: string, i: number, m: Uint8Array, size: number): Error {
  return new Error(`${what} ${i}: got ${m.length} bytes with sequence ${m.length >= 4 ? seqOf(m) : "?"}, expected ${size} bytes with sequence ${i}: lost or reordered`);
}

export interface HostResult {
  p50_us?: number;
  p99_us?: number;
  p999_us?: number;
  ms?: number;
  ms_p99?: number;
  handoff_p50_us?: number;
  handoff_p99_us?: number;
  /** Loan transports: loans sent, and slabs the pool created, during the timed transfers. */
  loans?: number;
  slabs_created_timed?: number;
}

export interface PeerResult {
  elapsedMs?: number;
}

export async function runHost(ep: Endpoint, job: Job, progress: Progress): Promise<HostResult> {
  if (job.scenario === "pointcloud") return runCloudHost(ep, job, progress);
  const { size, count, warmup } = job;
  const step = Math.max(1, Math.floor((count + warmup) / 20));
  if (job.scenario === "rtt") {
    const msg = new Uint8Array(size);
    const lat = new Float64Array(count);
    for (let i = 0; i < warmup + count; i++) {
      setSeq(msg, i);
      const t0 = process.hrtime.bigint();
      const p = ep.send(msg);
      if (p) await p;
      let m = ep.recv();
      if (m instanceof Promise) m = await m;
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      if (m.length !== size || seqOf(m) !== i >>> 0) throw lost("reply", i, m, size);
      if (i >= warmup) lat[i - warmup] = us;
      if (i % step === 0) progress(i, warmup + count);
    }
    const s = summarize(Array.from(lat));
    return { p50_us: s.p50, p99_us: s.p99, p999_us: s.p999 };
  }
  if (job.scenario === "stream") {
    const msg = new Uint8Array(size);
    const total = warmup + count;
    for (let i = 0; i < total; i++) {
      setSeq(msg, i);
      const p = ep.send(msg);
      if (p) await p;
      if (i % step === 0) progress(i, total);
    }
    const ack = await recv(ep);
    if (ack.length !== 4 || seqOf(ack) !== total >>> 0) throw new Error("stream: bad acknowledgement");
    return {};
  }
  if (job.scenario === "stream-batch") {
    const b = job.batch ?? DEFAULT_BATCH;
    const full = Array.from({ length: b }, () => new Uint8Array(size));
    const total = warmup + count;
    for (let i = 0; i < total; i += b) {
      const k = Math.min(b, total - i);
      const msgs = k === b ? full : full.slice(0, k);
      for (let j = 0; j < k; j++) setSeq(msgs[j]!, i + j);
      const p = ep.sendMany!(msgs);
      if (p) await p;
      if (i % step < b) progress(i, total);
    }
    const ack = await recv(ep);
    if (ack.length !== 4 || seqOf(ack) !== total >>> 0) throw new Error("stream-batch: bad acknowledgement");
    return {};
  }
  const data = Buffer.alloc(size);
  for (let off = 0; off < size; off += PAGE) data[off] = (off / PAGE) & 255; // touched: no faults while timed
  const times: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const t0 = process.hrtime.bigint();
    await ep.sendBulk(data);
    const ack = await recv(ep);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ack.length !== 8 || Number(Buffer.from(ack).readBigUInt64LE(0)) !== size) {
      throw new Error(`bulk ${i}: the peer acknowledged ${ack.length === 8 ? Buffer.from(ack).readBigUInt64LE(0) : "?"} of ${size} bytes`);
    }
    if (i >= warmup) times.push(ms);
    progress(i + 1, warmup + count);
  }
  return { ms: summarize(times).p50 };
}

export async function runPeer(ep: Endpoint, job: Job): Promise<PeerResult> {
  if (job.scenario === "pointcloud") return runCloudPeer(ep, job);
  const { size, count, warmup } = job;
  if (job.scenario === "rtt") {
    for (let i = 0; i < warmup + count; i++) {
      let m = ep.recv();
      if (m instanceof Promise) m = await m;
      const p = ep.send(m);
      if (p) await p;
    }
    return {};
  }
  if (job.scenario === "stream") {
    let t0 = 0;
    const total = warmup + count;
    for (let i = 0; i < total; i++) {
      let m = ep.recv();
      if (m instanceof Promise) m = await m;
      if (i === warmup) t0 = performance.now();
      if (m.length !== size || seqOf(m) !== i >>> 0) throw lost("message", i, m, size);
    }
    const elapsedMs = performance.now() - t0;
    const ack = new Uint8Array(4);
    setSeq(ack, total);
    await ep.send(ack);
    return { elapsedMs };
  }
  if (job.scenario === "stream-batch") {
    let i = 0;
    let t0 = 0;
    // Checked in place: the bytes are valid during the call only.
    const check = (d: Uint8Array, off: number, len: number): void => {
      const seq = (d[off]! | (d[off + 1]! << 8) | (d[off + 2]! << 16) | (d[off + 3]! << 24)) >>> 0;
      if (len !== size || seq !== i >>> 0) throw lost("message", i, d.subarray(off, off + len), size);
      if (i === warmup) t0 = performance.now();
      i++;
    };
    const total = warmup + count;
    while (i < total) {
      const p = ep.recvMany!(check);
      if (typeof p !== "number") await p;
    }
    const elapsedMs = performance.now() - t0;
    const ack = new Uint8Array(4);
    setSeq(ack, total);
    await ep.send(ack);
    return { elapsedMs };
  }
  const ack = Buffer.alloc(8);
  let sink = 0;
  for (let i = 0; i < warmup + count; i++) {
    let got = 0;
    await ep.recvBulk(size, (chunk) => {
      // Read one byte of every page the chunk covers, as a consumer would.
      const first = (PAGE - (got % PAGE)) % PAGE;
      for (let off = first; off < chunk.length; off += PAGE) sink += chunk[off]!;
      got += chunk.length;
    });
    ack.writeBigUInt64LE(BigInt(got), 0);
    await ep.send(ack);
  }
  if (sink < 0) console.log(sink); // keep the reads
  return {};
}

/** The in-process floor for bulk and pointcloud: one memcpy of `size` bytes into touched memory. */
export function runMemcpy(job: Job): HostResult {
  const src = Buffer.alloc(job.size, 1);
  const dst = Buffer.alloc(job.size);
  const times: number[] = [];
  for (let i = 0; i < job.warmup + job.count; i++) {
    const t0 = process.hrtime.bigint();
    dst.set(src);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= job.warmup) times.push(ms);
  }
  const s = summarize(times);
  return job.count >= P99_MIN ? { ms: s.p50, ms_p99: s.p99 } : { ms: s.p50 };
}
