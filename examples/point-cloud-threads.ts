// Received point clouds handed on to worker threads, still with no copy.
//   npm run build:ts && node dist/examples/point-cloud-threads.js
//
// A loan received from a channel is shared memory; posting its buffer to a
// worker in the transfer list moves it there (our view is detached, the
// worker's is the same memory). The reader's release() then holds the slot
// back until the worker lets go, so the writer never lends memory a worker
// still reads: the worker calls detachLoan() when it is done (an idle
// worker's garbage collector may never get to it). Where views are made
// through Node-API (Windows), Node copies the buffer instead:
// loanTransfer() says which ("move" or "copy"), and a copy needs no
// detachLoan().
//
//   writer --- clouds (loans of 4.8 MB) ---> reader (main thread)
//                                               |  postMessage(cloud.buffer, [cloud.buffer])
//                                               v
//                                        2 worker threads: centroid, detachLoan()
//
// One process here for brevity; the writer is usually another process.
import { isMainThread, parentPort, Worker } from "node:worker_threads";

import { Channel, detachLoan, loanTransfer } from "@synaptic-mesh/shm";

const POINTS = 400_000; // x, y, z float32: 4.8 MB per cloud
const CLOUDS = 6;
// Generous: worker threads start slowly on a busy machine.
const TIMEOUT_MS = 30_000;

function centroid(xyz: Float32Array): number[] {
  let sx = 0, sy = 0, sz = 0;
  for (let i = 0; i < xyz.length; i += 3) {
    sx += xyz[i]!;
    sy += xyz[i + 1]!;
    sz += xyz[i + 2]!;
  }
  const n = xyz.length / 3;
  return [sx / n, sy / n, sz / n];
}

// ---- worker thread: computes on the cloud it was given, then lets go ------
function worker(): void {
  parentPort!.on("message", ({ cloud, n }: { cloud: ArrayBuffer; n: number }) => {
    const c = centroid(new Float32Array(cloud, 0, POINTS * 3));
    if (loanTransfer() === "move") detachLoan(cloud); // done with it: its slot can go back to the writer now
    parentPort!.postMessage({ n, c, left: cloud.byteLength });
  });
}

// ---- main thread: writes clouds, receives them, hands them to workers -----
async function main(): Promise<void> {
  const tx = Channel.create({ capacity: 64 * 1024, pool: { maxBytes: 4 * POINTS * 12 } });
  const rx = Channel.attach(tx.name);
  const workers = [new Worker(__filename), new Worker(__filename)];
  try {
    const results = new Map<number, number[]>();
    let answered = 0;
    const allAnswered = new Promise<void>((resolve, reject) => {
      for (const w of workers) {
        w.on("error", reject);
        w.on("message", ({ n, c, left }: { n: number; c: number[]; left: number }) => {
          results.set(n, c);
          // Every point of cloud n has x = n: another cloud's bytes would show.
          const intact = c[0] === n ? "intact" : "CHANGED under the worker";
          const after = loanTransfer() === "move" ? `the worker's view now ${left} bytes` : "the worker had a copy";
          console.log(`main: cloud ${n} centroid (${c.map((v) => v.toFixed(3)).join(", ")}) ${intact}; ${after}`);
          if (++answered === CLOUDS) resolve();
        });
      }
    });
    for (let n = 0; n < CLOUDS; n++) {
      // The writer: fill a loan in place, send it (a 32-byte descriptor).
      const loan = await tx.loan(POINTS * 12, { timeout: TIMEOUT_MS });
      const xyz = new Float32Array(loan.buffer, loan.byteOffset, POINTS * 3);
      for (let i = 0; i < xyz.length; i += 3) {
        xyz[i] = n;
        xyz[i + 1] = (i % 300) / 100;
        xyz[i + 2] = 1;
      }
      await tx.send(loan, { timeout: TIMEOUT_MS });
      // The reader: hand the received cloud to a worker, moving its memory.
      const cloud = await rx.recv({ timeout: TIMEOUT_MS });
      const buffer = cloud.buffer as ArrayBuffer;
      workers[n % 2]!.postMessage({ cloud: buffer, n }, [buffer]);
      rx.release(); // the slot goes back once the worker has let go, not before
    }
    await allAnswered;
    // Slots come back within a poll (10 ms) of the workers' detachLoan().
    const end = Date.now() + TIMEOUT_MS;
    while (tx.poolStats.inFlight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    const p = tx.poolStats;
    const copies = loanTransfer() === "move" ? "none copied" : "each copied to its worker (loanTransfer() is \"copy\" here)";
    console.log(`main: ${results.size} clouds computed in 2 threads, ${copies}; in flight now ${p.inFlight} bytes, ${p.slabsCreated} slab(s) made for ${p.loansSent} clouds`);
  } finally {
    for (const w of workers) await w.terminate();
    rx.close();
    tx.close();
  }
}

if (isMainThread) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  worker();
}
