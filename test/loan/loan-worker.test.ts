// Loans between worker threads, as between processes: a worker lends with
// loanSync() and sends with sendSync(); the main thread receives in place
// and releases; the worker's pool memory is reused.
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";

import { Channel } from "../../dist/lib/index.js";
import { checkPattern } from "../../dist/test/fixtures/loan-pattern.js";
import { ROOT } from "../helpers.js";

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

  // worker.terminate() runs no JavaScript of the worker's: its channel ends
  // are closed by the addon's environment cleanup, as a process's at exit.
  it("a worker terminated while it holds received loans: the main thread's writer gets every slot back and lends again", async () => {
    const SLOT = 1 << 20;
    const tx = Channel.create({ capacity: 1 << 16, pool: { maxBytes: 4 * SLOT } });
    const w = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
       const { Channel } = require(${JSON.stringify(path.join(ROOT, "dist/lib/index.js"))});
       const rx = Channel.attach(workerData.name);
       const kept = [];
       (async () => {
         for (let i = 0; i < 4; i++) { await rx.recv(); kept.push(rx.keep()); }
         parentPort.postMessage("held");
         setInterval(() => { for (const k of kept) k.data[0]; }, 1); // reads them until terminated
       })();`,
      { eval: true, workerData: { name: tx.name } },
    );
    try {
      for (let i = 0; i < 4; i++) await tx.send(await tx.loan(SLOT, { timeout: 20_000 }), { timeout: 20_000 });
      await new Promise((resolve, reject) => {
        w.once("message", resolve);
        w.once("error", reject);
      });
      expect(tx.tryLoan(SLOT)).toBeNull(); // all four are held by the worker
      await w.terminate();
      // Generous: the writer sees the reader gone on its wait's periodic re-check.
      const again: Uint8Array[] = [];
      for (let i = 0; i < 4; i++) again.push(await tx.loan(SLOT, { timeout: 20_000 }));
      expect(tx.poolStats).toMatchObject({ inFlight: 0, loaned: 4 * SLOT });
      for (const l of again) tx.cancelLoan(l);
    } finally {
      await w.terminate();
      tx.close();
    }
  }, 60_000);

  it("a worker that lends, terminated: the main thread's held loan still reads correctly, then the channel says the writer is gone", async () => {
    const SIZE = 2 << 20;
    const w = new Worker(
      `const { parentPort } = require("node:worker_threads");
       const { Channel } = require(${JSON.stringify(path.join(ROOT, "dist/lib/index.js"))});
       const { fillPattern } = require(${JSON.stringify(path.join(ROOT, "dist/test/fixtures/loan-pattern.js"))});
       const tx = Channel.create({ capacity: 1 << 16 });
       parentPort.postMessage(tx.name);
       parentPort.once("message", () => {
         const loan = tx.loanSync(${SIZE}, 20000);
         fillPattern(loan, 5);
         tx.sendSync(loan, 20000);
         parentPort.postMessage("sent");
         setInterval(() => {}, 1000);
       });`,
      { eval: true },
    );
    const next = (): Promise<string> =>
      new Promise((resolve, reject) => {
        w.once("message", resolve);
        w.once("error", reject);
      });
    let rx: ReturnType<typeof Channel.attach> | null = null;
    try {
      const name = await next();
      rx = Channel.attach(name);
      const sent = next();
      w.postMessage("go");
      await sent;
      const m = await rx.recv({ timeout: 20_000 });
      const kept = rx.keep();
      await w.terminate();
      expect(m.byteLength).toBe(SIZE);
      expect(checkPattern(m, 5)).toBe(true); // the mapping lives on in this thread
      await expect(rx.recv({ timeout: 20_000 })).rejects.toMatchObject({ code: expect.stringMatching(/^(EPEERDEAD|ECLOSED)$/) });
      expect(checkPattern(kept.data, 5)).toBe(true);
      kept.release();
      expect(m.byteLength).toBe(0);
    } finally {
      await w.terminate();
      rx?.close();
    }
  }, 60_000);
});
