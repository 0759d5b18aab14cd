// Small messages in bulk: a sensor process streams 200,000 readings of 16
// bytes to a monitor process, in batches.
//   npm run build:ts && node dist/examples/telemetry-batch.js
//
// The writer sends them with sendMany() (one index store and at most one
// wakeup per batch); the reader takes everything published at once with
// drain(), which allocates nothing per message: the handler gets the ring's
// bytes, an offset and a length, valid during the call only.
//
// Plain send()/trySend() batch by themselves too: the messages a process
// sends in one tick are published together at its end (the first at once),
// as Node's streams cork writes within a tick. sendMany() is for when the
// messages are at hand together; drain() for a reader that keeps up with
// millions of messages per second.
import { fork } from "node:child_process";

import { Channel } from "@synaptic-mesh/shm";

const READINGS = 200_000;
const BATCH = 256;
const TIMEOUT_MS = 30_000; // every wait has a way out; generous: a child starting on a busy machine

// One reading: u32 sequence, u32 sensor id, f64 value (16 bytes, little-endian).
function encode(into: DataView, seq: number): void {
  into.setUint32(0, seq, true);
  into.setUint32(4, seq % 8, true);
  into.setFloat64(8, Math.sin(seq / 1000), true);
}

// ---- the sensor: creates the channel, sends batches -----------------------
async function sensor(): Promise<void> {
  const tx = Channel.create({ capacity: 256 * 1024 });
  console.log(`sensor: created ${tx.name}`);
  const monitor = fork(__filename, ["monitor", tx.name]);
  const done = new Promise<number | null>((resolve) => monitor.once("exit", resolve));
  try {
    // The batch's buffers are reused: sendMany() copies them into the ring
    // (or, when the ring is full, into its queue) before it returns.
    const batch = Array.from({ length: BATCH }, () => new Uint8Array(16));
    const views = batch.map((b) => new DataView(b.buffer));
    const t0 = performance.now();
    for (let seq = 0; seq < READINGS; ) {
      const n = Math.min(BATCH, READINGS - seq);
      for (let i = 0; i < n; i++) encode(views[i]!, seq + i);
      // Waits (with its timeout) only while the ring is full.
      await tx.sendMany(n === BATCH ? batch : batch.slice(0, n), { timeout: TIMEOUT_MS });
      seq += n;
    }
    const ms = performance.now() - t0;
    console.log(`sensor: sent ${READINGS} readings in batches of ${BATCH} (${Math.round(READINGS / ms)} per ms), ${tx.stats.wakeups} wakeups`);
  } finally {
    tx.close(); // end of stream: the monitor reads what is left, then readable() rejects with ECLOSED
  }
  const code = await done;
  console.log(`sensor: the monitor exited with code ${code}`);
}

// ---- the monitor: attaches by name, drains ---------------------------------
async function monitor(name: string): Promise<void> {
  const rx = Channel.attach(name);
  let count = 0;
  let sum = 0;
  let next = 0;
  let drains = 0;
  // Called once per message, in order; `data` is the ring (or a loan), valid during the call only.
  const onReading = (data: Uint8Array, offset: number, length: number): void => {
    const v = new DataView(data.buffer, data.byteOffset + offset, length);
    const seq = v.getUint32(0, true);
    if (length !== 16 || seq !== next) throw new Error(`reading ${next}: got sequence ${seq}, ${length} bytes`);
    sum += v.getFloat64(8, true);
    next++;
    count++;
  };
  try {
    for (;;) {
      drains++;
      if (rx.drain(onReading) > 0) continue;
      await rx.readable({ timeout: TIMEOUT_MS }); // ECLOSED once the sensor closed and everything was read
    }
  } catch (e) {
    if ((e as { code?: string }).code !== "ECLOSED") throw e;
  } finally {
    rx.close();
  }
  console.log(`monitor: ${count} readings in order, ${(count / drains).toFixed(1)} per drain(), mean value ${(sum / count).toFixed(4)}`);
}

if (process.argv[2] === "monitor") {
  monitor(process.argv[3]!).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  sensor().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
