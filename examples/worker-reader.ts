// A worker thread reads a channel the main thread writes; segments a worker
// leaves open are cleaned up when it exits.
//   npm run build:ts && node dist/examples/worker-reader.js
//
// Worker threads are just another place to attach: the main thread creates
// the channel and passes its name in workerData; the worker attaches it by
// name. A worker may block, so it reads with recvSync(timeout) (await
// rx.recv() or `for await (const m of rx)` work in a worker too). The main
// thread keeps its event loop: its send() waits without blocking when the
// ring is full.
//
// Segments are per thread: what a worker creates is closed (and its name
// removed) when the worker exits, even if it forgot to. Still close channels
// yourself: close() is what tells the other end "end of stream"; an end that
// is only cleaned up at exit looks dead to its peer (EPEERDEAD).
import { once } from "node:events";
import { existsSync } from "node:fs";
import { isMainThread, parentPort, threadId, Worker, workerData } from "node:worker_threads";

import { Channel, Segment, type ShmError } from "@synaptic-mesh/shm";

const READINGS = 100_000;
// Generous: the worker waits for the main thread, which may be descheduled
// for a long time on a busy machine. recvSync returns null when it runs out.
const QUIET_TIMEOUT_MS = 30_000;

interface Summary {
  count: number;
  sum: number;
  max: number;
}

// A reading: [sensor, value] as two float64s, 16 bytes per message.
function reading(i: number): Float64Array {
  return Float64Array.of(i % 16, ((i * 7919) % 1000) / 10);
}

// ---- main thread: creates the channel, starts the worker, writes -----------
async function main(): Promise<void> {
  const tx = Channel.create({ capacity: 64 * 1024 }); // small on purpose: the writer must wait for the reader
  const worker = new Worker(__filename, { workerData: { channel: tx.name } });
  // Listen for the exit from the start: a worker that finishes quickly
  // delivers its last message and its "exit" in one go, before code that
  // awaited that message could start listening (and a promise nobody
  // resolves does not keep Node running: it would just end, silently).
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
  // The worker's next message; rejects if it throws (events.once() rejects
  // on its "error" event) or exits first.
  const next = (): Promise<unknown> =>
    Promise.race([
      once(worker, "message").then(([m]) => m as unknown),
      exited.then((code) => Promise.reject(new Error(`worker exited with ${code} before it was done`))),
    ]);

  try {
    // The worker names a scratch segment it created and will not close.
    const { scratch } = (await next()) as { scratch: string };
    console.log(`main: worker attached ${tx.name}; it created ${scratch} (in /dev/shm: ${existsSync(`/dev/shm/${scratch}`)})`);

    const expected: Summary = { count: 0, sum: 0, max: -Infinity };
    for (let i = 0; i < READINGS; i++) {
      const r = reading(i);
      // send() copies the bytes before it resolves; it waits only while the
      // ring is full (the worker is behind), at most the timeout.
      await tx.send(r, { timeout: QUIET_TIMEOUT_MS });
      expected.count++;
      expected.sum += r[1]!;
      expected.max = Math.max(expected.max, r[1]!);
    }
    // How often the ring was full and send() had to wait: depends on how fast the worker reads.
    console.log(`main: sent ${READINGS} readings; waited for room ${tx.stats.writerWaits} times`);
    tx.close(); // end of stream for the worker

    const got = (await next()) as Summary & { threadId: number };
    const same = got.count === expected.count && got.sum === expected.sum && got.max === expected.max;
    console.log(`main: worker ${got.threadId} read ${got.count} readings, sum ${got.sum.toFixed(1)}, max ${got.max} (${same ? "matches" : "DIFFERS FROM"} what was sent)`);
    if (!same) throw new Error(`worker summary ${JSON.stringify(got)} != ${JSON.stringify(expected)}`);

    const code = await exited;
    console.log(`main: worker exited with ${code}; ${scratch} in /dev/shm: ${existsSync(`/dev/shm/${scratch}`)} (removed at the worker's exit)`);
  } finally {
    tx.close();
    await worker.terminate(); // no-op once it has exited
  }
}

// ---- worker thread: attaches by name, reads with recvSync -------------------
function work(): void {
  const rx = Channel.attach((workerData as { channel: string }).channel);
  // A segment this worker creates and, on purpose, never closes: the
  // worker's exit removes it (so does its process's exit, or a signal).
  const scratch = Segment.create({ size: 1 << 20 });
  parentPort!.postMessage({ scratch: scratch.name });

  const s: Summary = { count: 0, sum: 0, max: -Infinity };
  for (;;) {
    let m: Uint8Array | null;
    try {
      m = rx.recvSync(QUIET_TIMEOUT_MS); // blocks this thread only
    } catch (e) {
      if ((e as ShmError).code === "ECLOSED") break; // the main thread closed: end of stream
      throw e;
    }
    if (m === null) throw new Error(`no reading for ${QUIET_TIMEOUT_MS} ms`);
    // The view points into the ring (no copy) and is valid until the next
    // receive. Payloads start 8-byte aligned, so a Float64Array over it works.
    const r = new Float64Array(m.buffer, m.byteOffset, m.byteLength / 8);
    s.count++;
    s.sum += r[1]!;
    s.max = Math.max(s.max, r[1]!);
  }
  rx.close();
  // `scratch` is still open (and referenced here: a segment that is
  // garbage-collected is closed early, its owner's name removed).
  parentPort!.postMessage({ ...s, threadId, scratchOpen: !scratch.closed });
  // Returning ends the worker; the exit closes `scratch` and removes its name.
}

if (isMainThread) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  work();
}
