// Loans between worker threads, as between processes: a worker lends with
// loanSync() and sends with sendSync(); the main thread receives in place
// and releases; the worker's pool memory is reused.
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";

import { Channel } from "../dist/lib/index.js";
import { checkPattern } from "../dist/test/fixtures/loan-pattern.js";
import { ROOT } from "./helpers.js";

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { Channel } = require(${JSON.stringify(path.join(ROOT, "dist/lib/index.js"))});
const { fillPattern } = require(${JSON.stringify(path.join(ROOT, "dist/test/fixtures/loan-pattern.js"))});
const tx = Channel.create({ capacity: 1 << 16, pool: { maxBytes: 4 * workerData.size } });
parentPort.postMessage({ name: tx.name });
while (tx.readerState === "absent") Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
for (let i = 0; i < workerData.count; i++) {
  const loan = tx.loanSync(workerData.size, 20000); // waits while the main thread holds 4
  if (loan === null) throw new Error("loanSync timed out");
  fillPattern(loan, i);
  if (!tx.sendSync(loan, 20000)) throw new Error("sendSync timed out");
  if (loan.byteLength !== 0) throw new Error("the loan was not detached by sendSync");
}
parentPort.postMessage({ stats: tx.poolStats });
tx.close();
`;

describe("loans between worker threads", () => {
  it("a worker's loans (loanSync/sendSync) are read in place by the main thread and reused", async () => {
    const SIZE = 4 << 20;
    const COUNT = 40;
    const w = new Worker(WORKER, { eval: true, workerData: { size: SIZE, count: COUNT } });
    const messages: Record<string, unknown>[] = [];
    const next = (): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        if (messages.length > 0) return resolve(messages.shift()!);
        w.once("message", resolve);
        w.once("error", reject);
      });
    w.on("message", (m: Record<string, unknown>) => messages.push(m));
    try {
      const { name } = (await next()) as { name: string };
      messages.length = 0;
      const rx = Channel.attach(name);
      try {
        for (let i = 0; i < COUNT; i++) {
          const m = await rx.recv({ timeout: 20_000 });
          expect(m.byteLength).toBe(SIZE);
          expect(checkPattern(m, i)).toBe(true);
        }
        rx.release();
      } finally {
        rx.close();
      }
      const { stats } = (await next()) as { stats: { loansSent: number; slabsCreated: number } };
      expect(stats.loansSent).toBe(COUNT);
      expect(stats.slabsCreated).toBeLessThanOrEqual(4);
    } finally {
      await w.terminate();
    }
  }, 60_000);
});
