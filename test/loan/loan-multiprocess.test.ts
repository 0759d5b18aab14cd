// Loans across processes: the memory a writer lends is read in place by a
// reader in another process, comes back to the writer's pool and is reused;
// a reader or writer killed with SIGKILL neither loses the other's data nor
// leaves the pool stuck.
import { existsSync, rmSync } from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

import { Channel, sweep } from "../../dist/lib/index.js";
import { native } from "../../dist/lib/core/native.js";
import { slabName } from "../../dist/lib/loan/slab.js";
import { checkPattern, fillPattern, randomSize } from "../../dist/test/fixtures/loan-pattern.js";
import { channelSlabKey, collect, killStrays, spawnFixture, waitForLine, LINUX_ONLY } from "../helpers.js";

afterEach(killStrays);

const MiB = 1 << 20;

/** Slab names of a ring that exist in /dev/shm now (indices below `upTo`). */
function slabsOnDisk(token: string, upTo = 64): string[] {
  const out: string[] = [];
  for (let i = 0; i < upTo; i++) if (existsSync(`/dev/shm/${slabName(token, i)}`)) out.push(slabName(token, i));
  return out;
}

describe("loans across processes", () => {
  // 1,000 loans of log-uniform sizes (1 B .. 64 MiB, about 4 GB in all) and
  // one of 1 GiB: generous timeout for a loaded 2-core machine, which
  // fills and checks every byte on both sides.
  it("1,000 random-size loans and a 1 GiB loan arrive intact, checked byte by byte, from a pool that is reused", async () => {
    const COUNT = 1000;
    const SEED = 12345;
    const BIG = 1 << 30;
    const tx = Channel.create({ capacity: MiB, pool: { maxBytes: 1.5 * 2 ** 30 } });
    const child = spawnFixture("loan-peer", ["reader", tx.name, String(COUNT), String(SEED), String(BIG)]);
    const done = collect(child, 280_000);
    try {
      let bytes = 0;
      // If the reader fails, the writer's next call says ECLOSED: show the reader's own error.
      const readerError = async (e: unknown): Promise<never> => {
        throw new Error(`${String(e)}; reader: ${JSON.stringify(await done)}`);
      };
      for (let i = 0; i <= COUNT; i++) {
        const size = i < COUNT ? randomSize(i, SEED) : BIG;
        const loan = await tx.loan(size, { timeout: 120_000 }).catch(readerError);
        expect(loan.byteLength).toBe(size);
        expect(loan.byteOffset % 64).toBe(0);
        fillPattern(loan, i);
        await tx.send(loan, { timeout: 120_000 }).catch(readerError);
        expect(loan.byteLength).toBe(0); // the writer's view is detached once sent
        bytes += size;
      }
      const r = await done;
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe(`ok ${COUNT + 1} ${bytes}`);
      const s = tx.poolStats;
      expect(s.loansSent).toBe(COUNT + 1);
      // Reused: slabs per size class, not one per loan. Idle runs create 100-170
      // (the writer runs ahead of the reader up to the 1.5 GiB limit, so several
      // loans of one class are in flight at once); a loaded machine lets the
      // reader lag more, and at the limit free slabs of other sizes are retired
      // and made again later.
      expect(s.slabsCreated).toBeLessThan(COUNT / 2);
      console.log(`loans: ${s.loansSent} sent, ${s.slabsCreated} slabs created, ${(bytes / 1e9).toFixed(2)} GB`);
    } finally {
      tx.close();
    }
  }, 300_000);

  it("send() of an ordinary 300 MB buffer on a 1 MiB ring arrives intact (copied once into a loan)", async () => {
    const SIZE = 300e6;
    const child = spawnFixture("loan-peer", ["copy-writer", String(SIZE)]);
    const done = collect(child, 120_000);
    const name = (await waitForLine(child, /^name /, 20_000)).slice(5);
    const rx = Channel.attach(name);
    try {
      const m = await rx.recv({ timeout: 60_000 });
      expect(m.byteLength).toBe(SIZE);
      expect(checkPattern(m, 7)).toBe(true);
      rx.release();
      expect(m.byteLength).toBe(0);
      await expect(rx.recv({ timeout: 30_000 })).rejects.toMatchObject({ code: "ECLOSED" });
      const r = await done;
      expect(r.stdout).toContain("sent 1");
      expect(r.code).toBe(0);
    } finally {
      rx.close();
    }
  }, 150_000);

  it("a reader killed holding loans gives them back: the writer loans the full pool again; a new reader skips what the dead one was sent", async () => {
    const SLOT = MiB;
    const tx = Channel.create({ capacity: 1 << 16, pool: { maxBytes: 8 * MiB } });
    const child = spawnFixture("loan-peer", ["holder", tx.name, "8"]);
    try {
      for (let i = 0; i < 8; i++) {
        const loan = await tx.loan(SLOT, { timeout: 20_000 });
        fillPattern(loan, i);
        await tx.send(loan);
      }
      await waitForLine(child, /^held 8/, 30_000);
      expect(tx.tryLoan(SLOT)).toBeNull(); // all 8 slots are held by the live reader
      expect(tx.poolStats.inFlight).toBe(8 * SLOT);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const again: Uint8Array[] = [];
      for (let i = 0; i < 8; i++) again.push(await tx.loan(SLOT, { timeout: 10_000 }));
      expect(again.every((l) => l.byteLength === SLOT)).toBe(true);
      expect(tx.poolStats).toMatchObject({ inFlight: 0, loaned: 8 * SLOT, slots: 8 });
      // A new reader: what the dead one was sent (and never released) is not delivered again.
      const rx = Channel.attach(tx.name);
      try {
        fillPattern(again[0]!, 100);
        expect(tx.trySend(again[0]!)).toBe(true);
        const m = rx.tryRecv()!;
        expect(m.byteLength).toBe(SLOT);
        expect(checkPattern(m, 100)).toBe(true);
        expect(rx.tryRecv()).toBeNull();
      } finally {
        rx.close();
      }
      for (const l of again.slice(1)) tx.cancelLoan(l);
    } finally {
      tx.close();
    }
  }, 60_000);

  // Windows: nothing to sweep (the dead writer's slabs go with their handles); EPEERDEAD after a kill: test/win/peer-death.test.ts
  it.skipIf(LINUX_ONLY)("a writer killed: the reader's held view still reads correctly, then EPEERDEAD; sweep removes the dead writer's pool", async () => {
    const child = spawnFixture("loan-peer", ["loaner", String(2 * MiB), "2"]);
    const name = (await waitForLine(child, /^name /, 20_000)).slice(5);
    const rx = Channel.attach(name);
    try {
      await waitForLine(child, /^sent/, 30_000);
      const first = await rx.recv({ timeout: 10_000 });
      const kept = rx.keep();
      const token = channelSlabKey(rx.segment);
      expect(slabsOnDisk(token).length).toBe(2);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      expect(first.byteLength).toBe(2 * MiB);
      expect(checkPattern(first, 0)).toBe(true); // the mapping lives on in the reader
      const second = await rx.recv({ timeout: 10_000 }); // published before the death
      expect(checkPattern(second, 1)).toBe(true);
      await expect(rx.recv({ timeout: 10_000 })).rejects.toMatchObject({ code: "EPEERDEAD" });
      expect(checkPattern(first, 0)).toBe(true);
      const removed = sweep({ names: [name, ...slabsOnDisk(token)] });
      expect(removed.map((s) => s.name).sort()).toEqual([name, slabName(token, 0), slabName(token, 1)].sort());
      expect(slabsOnDisk(token)).toEqual([]);
      expect(checkPattern(first, 0)).toBe(true); // unlinked, still mapped here
      kept.release();
      expect(first.byteLength).toBe(0);
    } finally {
      rx.close();
    }
  }, 60_000);

  // Readers killed at random moments while the writer keeps lending: 6 readers
  // in turn, each SIGKILLed 100-600 ms after it attached (while it holds
  // loans, keeps some, maps slabs), then a last one that reads to the end.
  // Whatever a reader receives must be intact, and the writer must never
  // stall or fail: a dead reader's loans come back to it. Timeouts are
  // generous for a loaded 2-core machine; nothing here is timed.
  it("kill -9 of readers at random moments: every message a reader gets is intact, the writer keeps lending, the pool comes back", async () => {
    const tx = Channel.create({ capacity: 1 << 16, pool: { maxBytes: 64 * MiB } });
    let stop = false;
    let sent = 0;
    let peerDeaths = 0;
    const writer = (async () => {
      for (let i = 1; !stop; i++) {
        const size = 4 + ((Math.imul(i, 0x9e3779b1) >>> 0) % (4 * MiB));
        const loan = await tx.loan(size, { timeout: 60_000 });
        fillPattern(loan, i);
        try {
          await tx.send(loan, { timeout: 60_000 });
          sent++;
        } catch (e) {
          // The ring filled while no live reader drained it: a writer learns its reader
          // died (EPEERDEAD, the loan back in the pool) and waits for the next one.
          if ((e as { code?: string }).code !== "EPEERDEAD") throw e;
          peerDeaths++;
          while (!stop && tx.readerState !== "open") await new Promise((res) => setTimeout(res, 10));
        }
      }
    })();
    let writerError: unknown = null;
    writer.catch((e: unknown) => (writerError = e));
    const readers: { out: string }[] = [];
    try {
      for (let round = 0; round < 6; round++) {
        const child = spawnFixture("loan-peer", ["soak-reader", tx.name]);
        const r = { out: "" };
        readers.push(r);
        child.stdout!.on("data", (d: Buffer) => (r.out += d.toString()));
        await waitForLine(child, /^n 20$/, 90_000); // it attached and got going (20 loans of up to 4 MiB checked byte by byte: slow on a loaded machine)
        await new Promise((res) => setTimeout(res, 100 + Math.random() * 500));
        child.kill("SIGKILL");
        await new Promise((res) => child.once("exit", res));
      }
      const last = spawnFixture("loan-peer", ["soak-reader", tx.name]);
      const done = collect(last, 120_000);
      await waitForLine(last, /^n 20$/, 90_000);
      stop = true;
      await writer.catch(() => {});
      expect(writerError).toBe(null);
      await tx.send(new Uint8Array(3), { timeout: 60_000 }); // "end"
      const r = await done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^end \d+$/m);
      for (const x of [...readers.map((x) => x.out), r.stdout]) expect(x).not.toMatch(/^bad /m);
      expect(sent).toBeGreaterThan(6 * 20);
      console.log(`soak: ${sent} loans sent to 7 readers, 6 killed; the writer saw EPEERDEAD ${peerDeaths} times`);
      // Everything came back: what the dead readers held, and what the last one released.
      const deadline = Date.now() + 30_000;
      while (tx.poolStats.inFlight !== 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(tx.poolStats).toMatchObject({ inFlight: 0, loaned: 0 });
    } finally {
      stop = true;
      await writer.catch(() => {});
      const token = tx.segment.token;
      tx.close();
      // A reader killed while asleep leaves its doorbell socket file (docs/ARCHITECTURE.md);
      // remove this ring's, not the other tests' (a full sweep would race with theirs).
      const { dir, files } = native().WaiterHandle.sweepDoorbells(true);
      for (const f of files) if (f.name.startsWith(token) && !f.live) rmSync(path.join(dir, f.name), { force: true });
    }
  }, 240_000);
});
