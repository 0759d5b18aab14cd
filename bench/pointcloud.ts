// The pointcloud scenario: a large buffer (10 MB, 100 MB, 1 GB) produced by
// one process and read by another, in steady state (warm-up transfers first,
// so buffers, loan slabs and mappings exist and are prefaulted).
//   host  per transfer: take a buffer (a fresh loan on a loan transport, else
//         its own reused Buffer), fill it (one byte per 4 KiB page: the
//         cheapest fill that writes every page), stamp the clock, send;
//         wait for the acknowledgement.
//   peer  receive; stamp the clock once the whole cloud is there (for a
//         stream socket: when its last chunk arrives; earlier chunks are
//         read as they come); read one byte per page and check it; release
//         (loans); acknowledge with the byte count and the stamp.
// Figures (host side, both clocks CLOCK_MONOTONIC via process.hrtime, which
// is one clock for all processes on Linux):
//   handoff  send -> the reader has the view (its stamp minus the host's)
//   full     start of the fill -> the acknowledgement is back
// p50 of the timed transfers, and p99 when there are at least 100.
import type { HostResult, Job, PeerResult, Progress } from "./scenarios.js";
import { summarize } from "./stats.js";
import type { Endpoint } from "./transports/types.js";

const PAGE = 4096;
/** Transfers a p99 is reported from at least (nearest rank: below that it is nearly the maximum). */
export const P99_MIN = 100;
const ACK = 16; // u64 byte count, u64 the peer's clock when it had the view (ns)

const now = (): bigint => process.hrtime.bigint();

/** The value page `page` holds in transfer `i`: a reader checks every page against it. */
const pageValue = (i: number, page: number): number => (i + page) & 255;

function fill(buf: Uint8Array, i: number): void {
  for (let off = 0, page = 0; off < buf.length; off += PAGE, page++) buf[off] = pageValue(i, page);
}

/** Default timed transfers for a cloud of `size` bytes: 200 of 10 MB, 20 of 100 MB, 5 of 1 GB (quick: at most 50). */
export function defaultTransfers(size: number, quick: boolean): number {
  const n = Math.round((quick ? 2e8 : 2e9) / size);
  return quick ? Math.max(3, Math.min(50, n)) : Math.max(5, Math.min(200, n));
}

export async function runCloudHost(ep: Endpoint, job: Job, progress: Progress): Promise<HostResult> {
  const { size, count, warmup } = job;
  const own = ep.lend ? null : Buffer.alloc(size);
  const handoff: number[] = [];
  const full: number[] = [];
  let before = { loans: 0, slabsCreated: 0 };
  for (let i = 0; i < warmup + count; i++) {
    if (i === warmup) before = ep.loanStats?.() ?? before;
    const t0 = now();
    const buf = ep.lend ? await ep.lend(size) : own!;
    fill(buf, i);
    const sent = now();
    await ep.sendBulk(buf);
    let ack = ep.recv();
    if (ack instanceof Promise) ack = await ack;
    const back = now();
    const a = Buffer.from(ack.buffer, ack.byteOffset, ack.byteLength);
    if (a.length !== ACK || Number(a.readBigUInt64LE(0)) !== size) {
      throw new Error(`pointcloud ${i}: the peer acknowledged ${a.length === ACK ? a.readBigUInt64LE(0) : "?"} of ${size} bytes`);
    }
    if (i >= warmup) {
      handoff.push(Number(a.readBigUInt64LE(8) - sent) / 1e3);
      full.push(Number(back - t0) / 1e6);
    }
    progress(i + 1, warmup + count);
  }
  const h = summarize(handoff);
  const f = summarize(full);
  const p99 = count >= P99_MIN;
  const out: HostResult = { handoff_p50_us: h.p50, ms: f.p50 };
  if (p99) Object.assign(out, { handoff_p99_us: h.p99, ms_p99: f.p99 });
  const after = ep.loanStats?.();
  if (after) Object.assign(out, { loans: after.loans - before.loans, slabs_created_timed: after.slabsCreated - before.slabsCreated });
  return out;
}

export async function runCloudPeer(ep: Endpoint, job: Job): Promise<PeerResult> {
  const { size, count, warmup } = job;
  const ack = Buffer.alloc(ACK);
  for (let i = 0; i < warmup + count; i++) {
    let got = 0;
    let bad = 0;
    let view = 0n;
    await ep.recvBulk(size, (chunk) => {
      if (got + chunk.length >= size) view = now(); // the last piece (a loan's or ZeroMQ's only one): the reader has it all
      // Read one byte of every page the chunk covers, and check it.
      const first = (PAGE - (got % PAGE)) % PAGE;
      for (let off = first; off < chunk.length; off += PAGE) if (chunk[off] !== pageValue(i, (got + off) / PAGE)) bad++;
      got += chunk.length;
    });
    if (bad > 0) throw new Error(`pointcloud ${i}: ${bad} pages hold other bytes than this transfer's: lost, reordered or torn`);
    ack.writeBigUInt64LE(BigInt(got), 0);
    ack.writeBigUInt64LE(view, 8);
    const p = ep.send(ack);
    if (p) await p;
  }
  return {};
}
