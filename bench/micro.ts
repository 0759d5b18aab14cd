// In-process microbenchmarks of the hot path (tinybench), so a regression in
// framing or bookkeeping shows up without two processes and their noise.
//   node dist/bench/micro.js [--time MS]
import { Bench } from "tinybench";

import { Channel, Segment, WaitLine, layout } from "../lib/index.js";
import { parseCommandLine, parseInteger } from "../lib/util/args.js";

async function main(): Promise<void> {
  const { values } = parseCommandLine(process.argv.slice(2), { time: { type: "string" } });
  const time = typeof values.time === "string" ? parseInteger("time", values.time) : 500;
  const tx = Channel.create({ capacity: 1 << 20 });
  const rx = Channel.attach(tx.name);
  const seg = Segment.create({ size: 4096 });
  const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
  const msg64 = new Uint8Array(64).fill(7);
  const msg4k = new Uint8Array(4096).fill(7);
  const BATCH = 1000;
  const BATCH_OF = 100; // messages per trySendMany
  const batch64 = Array.from({ length: BATCH_OF }, () => msg64);
  let sink = 0;
  const handler = (data: Uint8Array, offset: number, length: number): void => {
    sink += data[offset]! + length;
  };

  const bench = new Bench({ time, warmupTime: 100 });
  bench
    .add(`trySend+tryRecv 64 B x${BATCH}`, () => {
      for (let k = 0; k < BATCH; k++) tx.trySend(msg64);
      for (let k = 0; k < BATCH; k++) rx.tryRecv();
    })
    .add(`trySend+tryRecv 4 KiB x${BATCH / 10}`, () => {
      for (let k = 0; k < BATCH / 10; k++) tx.trySend(msg4k);
      for (let k = 0; k < BATCH / 10; k++) rx.tryRecv();
    })
    .add(`reserve/commit+tryRecv 64 B x${BATCH}`, () => {
      for (let k = 0; k < BATCH; k++) {
        const v = tx.reserve(64)!;
        v[0] = k;
        tx.commit(v);
      }
      for (let k = 0; k < BATCH; k++) rx.tryRecv();
    })
    .add(`trySendMany+drain 64 B x${BATCH}`, () => {
      for (let k = 0; k < BATCH; k += BATCH_OF) tx.trySendMany(batch64);
      while (rx.drain(handler) > 0);
    })
    .add(`trySendMany+tryRecvMany 64 B x${BATCH}`, () => {
      for (let k = 0; k < BATCH; k += BATCH_OF) tx.trySendMany(batch64);
      while (rx.tryRecvMany(BATCH).length > 0);
    })
    .add(`tryRecv on an empty ring x${BATCH}`, () => {
      for (let k = 0; k < BATCH; k++) rx.tryRecv();
    })
    .add(`tryRecv+release 64 B x${BATCH}`, () => {
      for (let k = 0; k < BATCH; k++) tx.trySend(msg64);
      for (let k = 0; k < BATCH; k++) {
        rx.tryRecv();
        rx.release();
      }
    })
    .add(`notify with nobody waiting x${BATCH}`, () => {
      for (let k = 0; k < BATCH; k++) line.notify();
    })
    .add(`one native call (segment.closed) x${BATCH}`, () => {
      for (let k = 0; k < BATCH; k++) seg.handle.closed();
    });
  await bench.run();
  console.log("operation                                   ns per item");
  for (const task of bench.tasks) {
    const per = task.name.match(/x(\d+)$/);
    const items = per ? Number(per[1]) : 1;
    const r = task.result as { latency?: { mean: number }; mean?: number } | undefined;
    const meanMs = r?.latency?.mean ?? r?.mean ?? NaN;
    console.log(`${task.name.padEnd(42)} ${((meanMs * 1e6) / items).toFixed(1).padStart(10)}`);
  }
  if (sink < 0) console.log(sink); // keep the reads
  tx.close();
  rx.close();
  seg.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
