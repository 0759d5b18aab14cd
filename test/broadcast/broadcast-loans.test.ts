// Loans to many subscribers (docs/PROTOCOL.md §6.8): written once, viewed
// by every subscriber in place, freed only when none holds it.
import { existsSync } from "node:fs";

import { afterEach, describe, expect, it } from "vitest";

import { Broadcast, type BroadcastWriter } from "../../dist/lib/index.js";
import { slabName } from "../../dist/lib/loan/slab.js";
import { loanByte } from "../../dist/test/fixtures/broadcast-pattern.js";
import { broadcastSlabKey, killStrays, spawnFixture, waitForLine } from "../helpers.js";
import { sharedBytesOf } from "./broadcast-helpers.js";

afterEach(() => killStrays());

function startLoanSub(name: string, how: "hold" | "release"): { child: ReturnType<typeof spawnFixture>; ready: Promise<string> } {
  const child = spawnFixture("broadcast-loan-sub", [name, how]);
  return { child, ready: waitForLine(child, /^ready \d+$/m, 20_000) };
}

function fillLoan(data: Uint8Array, k: number): void {
  for (let page = 0; page * 4096 < data.length; page++) data.fill(loanByte(k, page * 4096), page * 4096, Math.min(data.length, (page + 1) * 4096));
}


async function sendLoan(w: BroadcastWriter, k: number, size: number): Promise<void> {
  const l = await w.loan(size, { timeout: 20_000 });
  fillLoan(l.data, k);
  await w.send(`cloud.${k}`, l);
  w.flushHeld();
}

describe.skipIf(process.platform !== "linux")("broadcast loans", () => {
  it("a 100 MB loan to 4 subscriber processes is not copied: shared memory used stays about one payload", async () => {
    const w = Broadcast.create({ capacity: 1 << 16 });
    try {
      const subs = [0, 1, 2, 3].map(() => startLoanSub(w.name, "hold"));
      await Promise.all(subs.map((s) => s.ready));
      const size = 100_000_000;
      const gots = subs.map((s) => waitForLine(s.child, /^got 0 /m, 30_000));
      await sendLoan(w, 0, size);
      await Promise.all(gots); // each holds its view now, every page checked
      const used = sharedBytesOf([process.pid, ...subs.map((s) => s.child.pid!)]);
      // One slot of the 100,663,296-byte class, plus the ring and 4 cursor
      // segments (a few hundred KiB); a copy per subscriber would be 5x.
      expect(used).toBeGreaterThanOrEqual(size);
      expect(used).toBeLessThan(size * 1.1);
      expect(w.loanBytes).toBeLessThan(size * 1.01);
      const summaries = subs.map((s) => waitForLine(s.child, /^\{.*\}$/m, 20_000));
      w.close();
      for (const line of await Promise.all(summaries)) expect(JSON.parse(line)).toEqual({ code: "ECLOSED", errors: [], held: 1 });
    } finally {
      w.close();
    }
  });

  it("a slab is not reused before every subscriber has passed its frame", async () => {
    const w = Broadcast.create({ capacity: 1 << 16 });
    const a = Broadcast.attach(w.name); // takes loans, but has not read yet
    try {
      const size = 1 << 20;
      await sendLoan(w, 1, size);
      await sendLoan(w, 2, size); // a has not passed the first frame: a second slab
      expect(w.loanBytes).toBe(2 * size);
      for (const k of [1, 2]) {
        const m = await a.recv({ timeout: 5000 });
        expect(m.data[4096 * 9]).toBe(loanByte(k, 4096 * 9));
        m.release();
      }
    } finally {
      a.close();
      w.close();
    }
  });

  it("a held loan's slab is not reused; released (or passed) ones are", async () => {
    const w = Broadcast.create({ capacity: 1 << 16 });
    const a = Broadcast.attach(w.name);
    const b = Broadcast.attach(w.name, { topics: ["other"] }); // passes loan frames without taking them
    try {
      const size = 1 << 20;
      await sendLoan(w, 1, size);
      const m1 = await a.recv({ timeout: 5000 });
      expect(m1.loan).toBe(true);
      expect(b.tryRecv()).toBeNull();
      await sendLoan(w, 2, size); // a holds the first: a second slab
      expect(w.loanBytes).toBe(2 * size);
      const m2 = await a.recv({ timeout: 5000 });
      expect(m1.data[0]).toBe(loanByte(1, 0)); // untouched
      expect(m2.data[size - 1]).toBe(loanByte(2, size - 1));
      m1.release();
      m1.release(); // safe twice
      expect(m1.data.length).toBe(0); // a stale view reads as empty
      expect(b.tryRecv()).toBeNull();
      await new Promise((r) => setTimeout(r, 10));
      await sendLoan(w, 3, size); // the first slab again
      expect(w.loanBytes).toBe(2 * size);
      const m3 = await a.recv({ timeout: 5000 });
      expect(m3.data[4096 * 7]).toBe(loanByte(3, 4096 * 7));
      expect(m2.data[0]).toBe(loanByte(2, 0)); // still held, still intact
      // Under a small maxLoanBytes, a loan waits for a release.
      m2.release();
      m3.release();
    } finally {
      a.close();
      b.close();
      w.close();
    }
  });

  it("loan() waits while every slab is held, until a release; a subscriber killed while holding frees its loans", async () => {
    const size = 1 << 20;
    const w = Broadcast.create({ capacity: 1 << 16, maxLoanBytes: size });
    try {
      const sub = startLoanSub(w.name, "hold");
      await sub.ready;
      const got = waitForLine(sub.child, /^got 0 /m, 20_000);
      await sendLoan(w, 0, size);
      await got;
      expect(w.tryLoan(size)).toBeNull(); // the only slab is held
      await expect(w.loan(size, { timeout: 50 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
      const waiting = w.loan(size, { timeout: 10_000 });
      sub.child.kill("SIGKILL");
      const l = await waiting; // the dead subscriber's hold no longer counts
      expect(l.size).toBe(size);
      expect(w.loanBytes).toBe(size);
      await w.send("cloud.1", l);
    } finally {
      w.close();
    }
  });

  it("close() keeps a sent loan's slab until its subscribers took it, then removes it", async () => {
    const w = Broadcast.create({ capacity: 1 << 16 });
    const a = Broadcast.attach(w.name);
    const slab = `/dev/shm/${slabName(broadcastSlabKey(w.segment), 0)}`;
    try {
      await sendLoan(w, 5, 1 << 20);
      w.close(); // before the subscriber has even looked
      expect(existsSync(`/dev/shm/${w.name}`)).toBe(false); // nobody new attaches
      expect(existsSync(slab)).toBe(true); // lingering for a
      const m = await a.recv({ timeout: 5000 });
      expect(m.loan).toBe(true);
      expect(m.data[4096 * 3]).toBe(loanByte(5, 4096 * 3));
      await expect(a.recv({ timeout: 5000 })).rejects.toMatchObject({ code: "ECLOSED" });
      m.release();
      const t0 = performance.now();
      while (existsSync(slab) && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(slab)).toBe(false); // released: the writer let go at once, not after lingerMs
    } finally {
      a.close();
      w.close();
    }
  });

  it("a loan whose slab is gone before the subscriber maps it is ENOENT, not a corruption", async () => {
    const w = Broadcast.create({ capacity: 1 << 16, lingerMs: 0 });
    const a = Broadcast.attach(w.name);
    try {
      await sendLoan(w, 6, 1 << 20);
      w.close();
      await expect(a.recv({ timeout: 5000 })).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      a.close();
    }
  });

  for (const policy of ["block", "drop"] as const) {
    it(`${policy}: a subscriber that does not pass a loan's frame is evicted after blockTimeout while loan() waits (it was not: loan() waited forever)`, async () => {
      const w = Broadcast.create({ capacity: 1 << 16, policy, blockTimeout: 200, maxLoanBytes: 4 * 4096 });
      const idle = Broadcast.attach(w.name); // never reads: as a SIGSTOPped one, for the writer
      const reader = Broadcast.attach(w.name);
      try {
        for (let k = 0; k < 12; k++) {
          // 4 slabs: the 5th loan needs one the idle subscriber holds (it has not passed its frame).
          const l = await w.loan(4096, { timeout: 20_000 });
          l.data.fill(k);
          await w.send("t", l);
          w.flushHeld();
          const m = await reader.recv({ timeout: 20_000 });
          expect(m.data[0]).toBe(k);
          m.release();
        }
        expect(w.subscribers.find((s) => s.slot === idle.slot)!.state).toBe("evicted");
        expect(w.stats.evictions).toBe(1);
        await expect(idle.recv({ timeout: 1000 })).rejects.toMatchObject({ code: "ESLOW" });
      } finally {
        idle.close();
        reader.close();
        w.close();
      }
    });
  }

  it("a subscriber receives loans from more slabs than it keeps mapped (it unmapped the slab it had just mapped: TypeError)", () => {
    const w = Broadcast.create({ capacity: 1 << 16 });
    const r = Broadcast.attach(w.name);
    try {
      const n = 12; // more than the 8 mappings a subscriber keeps: 12 slabs, as none is free before r passes its frame
      for (let k = 0; k < n; k++) {
        const l = w.tryLoan(4096)!;
        l.data.fill(k);
        expect(w.trySend(`L.${k}`, l)).toBe(true);
      }
      w.flushHeld();
      expect(w.loanBytes).toBe(n * 4096);
      const kept = [];
      for (let k = 0; k < n; k++) {
        const m = r.tryRecv()!;
        expect(m.topic).toBe(`L.${k}`);
        expect(m.data.length).toBe(4096);
        expect(m.data[0]).toBe(k);
        if (k % 2 === 0) m.release(); // released mappings may be unmapped, held ones not
        else kept.push({ m, k });
      }
      for (const { m, k } of kept) expect(m.data[4095]).toBe(k);
    } finally {
      r.close();
      w.close();
    }
  });

  it("loan() takes one loan however often its wait re-checks (a slab taken by a re-check was leaked, 'loaned' forever)", async () => {
    const w = Broadcast.create({ capacity: 1 << 16, maxLoanBytes: 4 * 4096 });
    try {
      // The first check finds no slab (as when all are held), so loan() sleeps; the
      // sleep's own re-check then finds one, as when a release lands at that moment.
      const real = w.tryLoan.bind(w);
      const results: unknown[] = [];
      let calls = 0;
      w.tryLoan = (size: number) => {
        const l = ++calls <= 2 ? null : real(size); // loan()'s own try, then the wait's first check
        results.push(l);
        return l;
      };
      const l = await w.loan(4096, { timeout: 5000 });
      expect(results.filter((x) => x !== null)).toEqual([l]);
      w.tryLoan = real;
      await w.send("t", l);
      w.flushHeld();
      // Every slab can be loaned again (none leaked as "loaned").
      const all = [real(4096), real(4096), real(4096), real(4096)];
      expect(all.every((x) => x !== null)).toBe(true);
    } finally {
      w.close();
    }
  });

  it("a loan whose send() waits for room cannot be sent again meanwhile (it went out twice)", async () => {
    const w = Broadcast.create({ capacity: 4096, policy: "block" });
    const r = Broadcast.attach(w.name);
    try {
      while (w.trySend("t", new Uint8Array(200)));
      while (w.trySend("t", new Uint8Array(0))); // no room left even for a LOAN frame
      const l = w.tryLoan(100)!;
      const p = w.send("L", l, { timeout: 20_000 }); // waits: the ring is full
      await expect(w.send("L", l)).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
      const t = setInterval(() => {
        for (let m; (m = r.tryRecv()) !== null; ) if (m.loan) m.release();
      }, 2);
      await p;
      clearInterval(t);
      expect(() => w.trySend("L", l)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" }));
    } finally {
      r.close();
      w.close();
    }
  });

  it("bad loan use is a clear error", async () => {
    const w = Broadcast.create({ capacity: 1 << 16, maxLoanBytes: 1 << 20 });
    const other = Broadcast.create({ capacity: 4096 });
    try {
      expect(() => w.tryLoan(0)).toThrow(expect.objectContaining({ code: "ERR_OUT_OF_RANGE" }));
      expect(() => w.tryLoan(2 << 20)).toThrow(expect.objectContaining({ code: "ERR_OUT_OF_RANGE" }));
      const l = w.tryLoan(100)!;
      expect(() => other.trySend("t", l)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" }));
      expect(w.trySend("t", l)).toBe(true);
      expect(l.data.length).toBe(0); // the writer's view is detached at send
      expect(() => w.trySend("t", l)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" }));
    } finally {
      other.close();
      w.close();
    }
  });
});
