// Point clouds handed to another process with loans, no point copied.
//   npm run build:ts && node dist/examples/point-cloud-loan.js
//
// The scanner fills a Float32Array in place in shared memory lent by its
// channel's pool and hands it over (a 32-byte descriptor goes through the
// ring); the worker computes the centroid on the same memory and answers.
// The pool lends the same memory again for the next cloud.
//
//   scanner --- clouds: loans of 12 MB (1,000,000 points) ---> worker
//   scanner <--- answers: centroid (3 float64s) ------------- worker
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

import { Channel } from "@synaptic-mesh/shm";

const POINTS = 1_000_000; // x, y, z float32: 12 MB per cloud
const CLOUDS = 5;
// Generous: the worker is a fresh Node process, and a busy machine is slow.
const TIMEOUT_MS = 30_000;

function centroid(xyz: Float32Array): Float64Array {
  let sx = 0, sy = 0, sz = 0;
  for (let i = 0; i < xyz.length; i += 3) {
    sx += xyz[i]!;
    sy += xyz[i + 1]!;
    sz += xyz[i + 2]!;
  }
  const n = xyz.length / 3;
  return Float64Array.of(sx / n, sy / n, sz / n);
}

async function scanner(): Promise<void> {
  const clouds = Channel.create({ capacity: 64 * 1024 });
  const worker = spawn(process.execPath, [__filename, "worker", clouds.name], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => worker.once("exit", resolve));
  const lines = createInterface({ input: worker.stdout })[Symbol.asyncIterator]();
  try {
    const answers = Channel.attach((await lines.next()).value as string);
    let s = 7;
    const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) | 0) >>> 0) / 2 ** 32;
    for (let c = 0; c < CLOUDS; c++) {
      // Shared memory from the pool, waiting (at most TIMEOUT_MS) if the
      // worker still holds everything the pool may lend.
      const loan = await clouds.loan(POINTS * 12, { timeout: TIMEOUT_MS });
      const xyz = new Float32Array(loan.buffer, loan.byteOffset, POINTS * 3); // filled in place
      for (let i = 0; i < xyz.length; i += 3) {
        xyz[i] = c * 10 + rnd();
        xyz[i + 1] = rnd() * 2;
        xyz[i + 2] = 1;
      }
      const mine = centroid(xyz); // before sending: afterwards the loan is not ours
      await clouds.send(loan, { timeout: TIMEOUT_MS });
      console.log(`scanner: cloud ${c} sent; our view of it now has ${loan.byteLength} bytes (handed over)`);
      const m = await answers.recv({ timeout: TIMEOUT_MS });
      const theirs = new Float64Array(m.buffer, m.byteOffset, 3);
      const same = theirs.every((v, i) => v === mine[i]);
      console.log(`scanner: cloud ${c} centroid (${Array.from(theirs, (v) => v.toFixed(3)).join(", ")}) ${same ? "matches" : "DIFFERS"}`);
      if (!same) throw new Error("the worker's centroid differs");
    }
    const p = clouds.poolStats;
    console.log(`scanner: ${p.loansSent} clouds sent from ${p.slabsCreated} pool slab(s) of ${(p.bytes / 1e6).toFixed(1)} MB: the memory was reused`);
    clouds.close(); // end of stream: the worker exits
    answers.close();
    console.log(`scanner: worker exited with ${await exited}`);
  } finally {
    clouds.close();
    worker.kill();
  }
}

async function worker(name: string): Promise<void> {
  const clouds = Channel.attach(name);
  const answers = Channel.create({ capacity: 4096 });
  console.log(answers.name); // the scanner reads this line
  // copy: false: each cloud is a view of the scanner's loan (no copy), valid
  // until the next step, which gives the memory back to the scanner's pool.
  // (The default iterator copies, so that what it hands out stays valid.)
  for await (const cloud of clouds.messages({ copy: false, timeout: TIMEOUT_MS })) {
    const xyz = new Float32Array(cloud.buffer, cloud.byteOffset, cloud.byteLength / 4);
    await answers.send(centroid(xyz), { timeout: TIMEOUT_MS });
  }
  answers.close();
  clouds.close();
}

const [role, name] = process.argv.slice(2);
(role === "worker" ? worker(name!) : scanner()).catch((e) => {
  console.error(e);
  process.exit(1);
});
