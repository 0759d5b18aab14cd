// Loans in one process: the lifetime of the writer's and the reader's
// views, the pool's limits, waits and reuse, and the argument errors.
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { Channel, Segment, detachLoan, type ChannelReader, type ChannelWriter } from "../../dist/lib/index.js";
import { slabName } from "../../dist/lib/loan/slab.js";
import { channelSlabKey, LINUX_ONLY } from "../helpers.js";

const KiB = 1024;
const MiB = 1 << 20;

function pair(maxBytes?: number, capacity = 1 << 16): { tx: ChannelWriter; rx: ChannelReader } {
  const tx = Channel.create({ capacity, ...(maxBytes === undefined ? {} : { pool: { maxBytes } }) });
  return { tx, rx: Channel.attach(tx.name) };
}

function errorOf(f: () => unknown): Error & { code?: string } {
  try {
    f();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("did not throw");
}

describe("loan lifetimes", () => {
  it("the writer fills a loan in place; once sent, its view reads as length 0; the reader's view reads the bytes until release, then length 0", async () => {
    const { tx, rx } = pair();
    try {
      const loan = await tx.loan(100_000);
      expect(loan.byteOffset).toBe(0);
      expect(loan.buffer.byteLength).toBe(100_000); // an ArrayBuffer of its own
      const f = new Float32Array(loan.buffer, loan.byteOffset, 25_000);
      f.fill(1.5);
      f[24_999] = -2;
      expect(tx.trySend(loan)).toBe(true);
      expect(loan.byteLength).toBe(0);
      expect(f.length).toBe(0);
      const m = rx.tryRecv()!;
      expect(m.byteLength).toBe(100_000);
      const g = new Float32Array(m.buffer, m.byteOffset, 25_000);
      expect(g[0]).toBe(1.5);
      expect(g[24_999]).toBe(-2);
      rx.release();
      expect(m.byteLength).toBe(0);
      expect(g.length).toBe(0);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("the next receive releases a loan too; keep() holds it across receives until its release()", async () => {
    const { tx, rx } = pair();
    try {
      for (let i = 0; i < 3; i++) {
        const l = tx.tryLoan(10_000)!;
        l.fill(i + 1);
        tx.trySend(l);
      }
      const a = rx.tryRecv()!;
      const kept = rx.keep();
      const b = rx.tryRecv()!;
      expect(a.every((x) => x === 1)).toBe(true);
      expect(b.every((x) => x === 2)).toBe(true);
      const c = rx.tryRecv()!; // releases b
      expect(b.byteLength).toBe(0);
      expect(a.every((x) => x === 1) && a.byteLength === 10_000).toBe(true);
      expect(c[0]).toBe(3);
      expect(rx.stats.kept).toBe(1);
      kept.release();
      expect(a.byteLength).toBe(0);
      expect(rx.stats.kept).toBe(0);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("a part of a loan (a subarray, or any typed view over part of it) is sent as just that part", () => {
    const { tx, rx } = pair();
    try {
      const l = tx.tryLoan(8192)!;
      for (let i = 0; i < l.length; i++) l[i] = i & 255;
      expect(tx.trySend(new Uint16Array(l.buffer, 1000, 500))).toBe(true);
      expect(l.byteLength).toBe(0);
      const m = rx.tryRecv()!;
      expect(m.byteLength).toBe(1000);
      expect(m[0]).toBe(1000 & 255);
      expect(m[999]).toBe(1999 & 255);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("a sent loan cannot be sent again, and a loan of another writer is copied like any buffer", () => {
    const { tx, rx } = pair();
    const other = Channel.create({ capacity: 4096 });
    try {
      const l = tx.tryLoan(100)!;
      tx.trySend(l);
      expect(errorOf(() => tx.trySend(l)).code).toBe("ERR_INVALID_ARG_VALUE"); // detached
      const foreign = other.tryLoan(100)!.fill(9);
      expect(tx.trySend(foreign)).toBe(true);
      expect(foreign.byteLength).toBe(100); // not detached: it was copied
      rx.tryRecv();
      const m = rx.tryRecv()!;
      expect(m.buffer).toBe(rx.segment.buffer); // a ring message
      expect(m.every((x) => x === 9)).toBe(true);
    } finally {
      tx.close();
      rx.close();
      other.close();
    }
  });

  it("closing the reader detaches its views and gives the loans back; closing the writer detaches unsent loans", () => {
    const { tx, rx } = pair();
    const l = tx.tryLoan(5000)!;
    tx.trySend(l);
    const m = rx.tryRecv()!;
    const k = rx.keep();
    tx.trySend(tx.tryLoan(5000)!);
    rx.tryRecv();
    const unsent = tx.tryLoan(100)!;
    rx.close();
    expect(m.byteLength).toBe(0);
    expect(k.data.byteLength).toBe(0);
    expect(tx.poolStats.inFlight).toBe(0);
    tx.close();
    expect(unsent.byteLength).toBe(0);
  });

  it("the writer's close leaves the reader's held view readable (its own mapping), and removes the pool's names", async () => {
    const { tx, rx } = pair();
    const l = tx.tryLoan(MiB)!;
    l.fill(42);
    tx.trySend(l);
    const m = rx.tryRecv()!;
    const token = channelSlabKey(tx.segment);
    tx.close();
    expect(m.byteLength).toBe(MiB);
    expect(m.every((x) => x === 42)).toBe(true);
    expect(require("node:fs").readdirSync("/dev/shm").filter((n: string) => n.includes(token))).toEqual([]);
    await expect(rx.recv()).rejects.toMatchObject({ code: "ECLOSED" }); // end of stream releases it
    expect(m.byteLength).toBe(0);
    rx.close();
  });

  it("loans sent before the writer's close are all received, from slabs the reader had mapped or not", async () => {
    const { tx, rx } = pair();
    for (let i = 0; i < 3; i++) tx.trySend(tx.tryLoan(4 * KiB)!.fill(i + 1)); // one slab of 64 small slots
    tx.trySend(tx.tryLoan(2 * MiB)!.fill(9)); // a slab of its own, not mapped by the reader yet
    expect(rx.tryRecv()![0]).toBe(1); // maps the small slab
    tx.close();
    expect(rx.tryRecv()![0]).toBe(2); // releases the first: the slab must stay mapped for the third
    expect(rx.tryRecv()![0]).toBe(3);
    const big = rx.tryRecv()!;
    expect(big.byteLength).toBe(2 * MiB);
    expect(big[2 * MiB - 1]).toBe(9);
    await expect(rx.recv()).rejects.toMatchObject({ code: "ECLOSED" });
    rx.close();
  });

  it("a loan whose memory the closed writer removed before the reader mapped it is ENOENT; what follows it still arrives", async () => {
    const tx = Channel.create({ capacity: 1 << 16, pool: { lingerMs: 0 } });
    const rx = Channel.attach(tx.name);
    tx.trySend(tx.tryLoan(100)!);
    tx.trySend(Buffer.from("after"));
    tx.close(); // lingerMs 0: the slab goes now, unmapped by the reader
    expect(errorOf(() => rx.tryRecv()).code).toBe("ENOENT");
    expect(rx.closed).toBe(false);
    expect(Buffer.from(rx.tryRecv()!).toString()).toBe("after");
    await expect(rx.recv()).rejects.toMatchObject({ code: "ECLOSED" });
    rx.close();
  });

  it("detachLoan() takes only a loan's own view: a ring message or a segment's memory is a TypeError and nothing breaks", async () => {
    const { tx, rx } = pair();
    const seg = Segment.create({ size: 4096 });
    try {
      tx.trySend(Buffer.from("ring"));
      const m = rx.tryRecv()!;
      expect(errorOf(() => detachLoan(m)).code).toBe("ERR_INVALID_ARG_TYPE");
      expect(errorOf(() => detachLoan(m.buffer)).code).toBe("ERR_INVALID_ARG_TYPE");
      expect(errorOf(() => detachLoan(seg.data)).code).toBe("ERR_INVALID_ARG_TYPE");
      expect(errorOf(() => detachLoan(new Uint8Array(8))).code).toBe("ERR_INVALID_ARG_TYPE");
      expect(Buffer.from(m).toString()).toBe("ring");
      tx.trySend(Buffer.from("next"));
      expect(Buffer.from(rx.tryRecv()!).toString()).toBe("next");
      // A loan, detached by its owner before sending: it cannot be sent, and cancelLoan() gives the slot back once.
      const loan = tx.tryLoan(MiB)!;
      detachLoan(loan.subarray(10, 20)); // any view of the loan's buffer names the loan
      expect(loan.byteLength).toBe(0);
      expect(errorOf(() => tx.trySend(loan)).code).toBe("ERR_INVALID_ARG_VALUE"); // detached: nothing to send
      expect(tx.poolStats.loaned).toBe(MiB);
      tx.cancelLoan(loan);
      tx.cancelLoan(loan);
      expect(tx.poolStats.loaned).toBe(0);
      const again = tx.tryLoan(MiB)!;
      tx.trySend(again.fill(5));
      expect(rx.tryRecv()![MiB - 1]).toBe(5);
      rx.release();
      expect(tx.poolStats).toMatchObject({ loaned: 0, inFlight: 0 });
    } finally {
      seg.close();
      tx.close();
      rx.close();
    }
  });

  // Windows: reads /dev/shm; a slab goes with its last handle there
  it.skipIf(LINUX_ONLY)("no linger when the reader already closed: the writer's close removes the unmapped slab at once", () => {
    const tx = Channel.create({ capacity: 1 << 16 }); // default lingerMs (10 s)
    const rx = Channel.attach(tx.name);
    tx.trySend(tx.tryLoan(100)!); // in flight, in a slab the reader never mapped
    const slab = `/dev/shm/${slabName(channelSlabKey(tx.segment), 0)}`;
    expect(existsSync(slab)).toBe(true);
    rx.close();
    tx.close();
    expect(existsSync(slab)).toBe(false); // nobody will map it: no reason to keep its name (or the process alive)
  });

  it("a slab name taken by another segment is skipped: the pool uses the next index", () => {
    const { tx, rx } = pair();
    const squat = Segment.create({ size: 4096, name: slabName(channelSlabKey(tx.segment), 0) });
    try {
      const l = tx.tryLoan(100)!;
      expect(l.byteLength).toBe(100);
      tx.trySend(l.fill(3));
      expect(rx.tryRecv()![99]).toBe(3);
    } finally {
      squat.close();
      tx.close();
      rx.close();
    }
  });

  it("for await copies loans (they stay valid after later steps); { copy: false } hands them over in place until the next step", async () => {
    const { tx, rx } = pair();
    try {
      for (let i = 0; i < 3; i++) tx.trySend(tx.tryLoan(64 * KiB)!.fill(i));
      const copies: Uint8Array[] = [];
      const it = rx.messages();
      for (let i = 0; i < 3; i++) copies.push((await it.next()).value!);
      copies.forEach((m, i) => expect(m.byteLength === 64 * KiB && m.every((x) => x === i)).toBe(true));
      for (let i = 0; i < 3; i++) tx.trySend(tx.tryLoan(64 * KiB)!.fill(i));
      tx.close();
      const seen: Uint8Array[] = [];
      for await (const m of rx.messages({ copy: false })) {
        expect(m.byteLength).toBe(64 * KiB);
        expect(m[100]).toBe(seen.length);
        seen.push(m);
        if (seen.length > 1) expect(seen[seen.length - 2]!.byteLength).toBe(0);
      }
      expect(seen.length).toBe(3);
      expect(seen.every((m) => m.byteLength === 0)).toBe(true);
    } finally {
      rx.close();
    }
  });
});

describe("the pool", () => {
  it("reuses its memory: 200 loans of one size make one slab", () => {
    const { tx, rx } = pair();
    try {
      for (let i = 0; i < 200; i++) {
        tx.trySend(tx.tryLoan(3 * MiB)!);
        rx.tryRecv();
        rx.release();
      }
      expect(tx.poolStats).toMatchObject({ loansSent: 200, slabsCreated: 1, slabs: 1, inFlight: 0 });
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("a loan takes a free slot of a larger class (up to twice its own; any at the limit) before it makes a slab", () => {
    const { tx, rx } = pair(15.5 * MiB);
    try {
      const cycle = (size: number): void => {
        const loan = tx.tryLoan(size)!;
        expect(loan.byteLength).toBe(size);
        tx.trySend(loan);
        expect(rx.tryRecv()!.byteLength).toBe(size);
        rx.release();
      };
      cycle(6 * MiB); // class 6 MiB: the first slab
      cycle(5 * MiB); // class 5 MiB: the 6 MiB slot is free and < 2x
      cycle(3.5 * MiB); // class 3.5 MiB: 6 MiB is < 2x too
      expect(tx.poolStats).toMatchObject({ slabsCreated: 1, slabs: 1 });
      cycle(2 * MiB); // class 2 MiB: 6 MiB is more than twice, and the pool is far from its limit: a slab of its own
      expect(tx.poolStats).toMatchObject({ slabsCreated: 2, slabs: 2 });
      // 6 + 2 + 7 = 15 of 15.5 MiB in use: a 1 MiB loan takes the free 2 MiB slot (twice its class)...
      const big = tx.tryLoan(7 * MiB)!;
      cycle(MiB);
      expect(tx.poolStats).toMatchObject({ slabsCreated: 3, slabs: 3 });
      // ...and with that one held, a 0.6 MiB loan (class 640 KiB, one slot a slab: 15.625 MiB would
      // pass the limit) the free 6 MiB slot, ten times its size, rather than retiring a slab.
      const held = tx.tryLoan(2 * MiB)!;
      cycle(600 * 1024);
      expect(tx.poolStats).toMatchObject({ slabsCreated: 3, slabs: 3 });
      tx.cancelLoan(big);
      tx.cancelLoan(held);
    } finally {
      tx.close();
      rx.close();
    }
  });

  // Windows: reads /dev/shm to see which slabs were removed
  it.skipIf(LINUX_ONLY)("trimPool() gives back free slabs (least recently used first, down to keepBytes), never one with a loan out or in flight", () => {
    const { tx, rx } = pair();
    try {
      expect(tx.trimPool()).toBe(0); // no pool yet
      for (const size of [MiB, 2 * MiB, 4 * MiB]) {
        tx.trySend(tx.tryLoan(size)!);
        rx.tryRecv();
        rx.release();
      }
      const held = tx.tryLoan(8 * MiB)!; // loaned, not sent
      tx.trySend(tx.tryLoan(16 * MiB)!); // in flight
      expect(tx.poolStats.bytes).toBe(31 * MiB);
      expect(tx.trimPool(28 * MiB)).toBe(MiB + 2 * MiB); // the oldest first, until 28 MiB remain
      expect(tx.poolStats).toMatchObject({ bytes: 28 * MiB, slabs: 3 });
      expect(tx.trimPool()).toBe(4 * MiB);
      expect(tx.poolStats).toMatchObject({ bytes: 24 * MiB, slabs: 2, loaned: 8 * MiB, inFlight: 16 * MiB });
      expect(held.byteLength).toBe(8 * MiB); // still the user's
      expect(rx.tryRecv()!.byteLength).toBe(16 * MiB); // still readable
      rx.release();
      tx.cancelLoan(held);
      expect(tx.trimPool()).toBe(24 * MiB);
      expect(tx.poolStats).toMatchObject({ bytes: 0, slabs: 0 });
      // It grows again on demand; the reader unmaps the retired slabs at its next release.
      tx.trySend(tx.tryLoan(MiB)!);
      expect(rx.tryRecv()!.byteLength).toBe(MiB);
      rx.release();
      const key = channelSlabKey(tx.segment);
      const names = Array.from({ length: 8 }, (_, i) => `/dev/shm/${slabName(key, i)}`);
      const mapped = new Set(readFileSync("/proc/self/maps", "utf8").split("\n").flatMap((l) => names.filter((n) => l.endsWith(n))));
      expect([...mapped]).toEqual([names[5]]);
      expect(errorOf(() => tx.trimPool(-1)).code).toBe("ERR_OUT_OF_RANGE");
    } finally {
      tx.close();
      rx.close();
    }
    expect(errorOf(() => tx.trimPool()).code).toBe("ECLOSED");
  });

  it("at its limit tryLoan() returns null, cancelLoan() gives a slot back, and loan() waits for the reader's release", async () => {
    const { tx, rx } = pair(4 * MiB);
    try {
      const loans = [tx.tryLoan(MiB)!, tx.tryLoan(MiB)!, tx.tryLoan(MiB)!, tx.tryLoan(MiB)!];
      expect(tx.tryLoan(MiB)).toBeNull();
      expect(tx.poolStats.loaned).toBe(4 * MiB);
      tx.cancelLoan(loans[0]!);
      expect(loans[0]!.byteLength).toBe(0);
      loans[0] = tx.tryLoan(MiB)!;
      expect(loans[0]).not.toBeNull();
      for (const l of loans) tx.trySend(l);
      let resolved = false;
      const waiting = tx.loan(MiB, { timeout: 10_000 }).then((l) => ((resolved = true), l));
      await new Promise((r) => setTimeout(r, 50));
      expect(resolved).toBe(false);
      rx.tryRecv();
      rx.release();
      const l = await waiting;
      expect(l.byteLength).toBe(MiB);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("a loan() that waits has ways out: timeout (ETIMEDOUT), signal (ABORT_ERR), close (ECLOSED)", async () => {
    const { tx, rx } = pair(MiB);
    try {
      const held = tx.tryLoan(MiB)!;
      await expect(tx.loan(MiB, { timeout: 30 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
      const ac = new AbortController();
      const p = tx.loan(MiB, { signal: ac.signal });
      ac.abort();
      await expect(p).rejects.toMatchObject({ code: "ABORT_ERR" });
      const q = tx.loan(MiB);
      tx.close();
      await expect(q).rejects.toMatchObject({ code: "ECLOSED" });
      expect(held.byteLength).toBe(0);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("gives back free slabs of other sizes to make room under maxBytes", () => {
    const { tx, rx } = pair(8 * MiB);
    try {
      for (const size of [3 * MiB, 5 * MiB, 7 * MiB, 2 * MiB, 7 * MiB]) {
        const l = tx.tryLoan(size);
        expect(l?.byteLength).toBe(size);
        tx.trySend(l!);
        rx.tryRecv();
        rx.release();
        expect(tx.poolStats.bytes).toBeLessThanOrEqual(8 * MiB);
      }
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("a queued send(loan) owns the loan: the caller's view is detached at once, and a send that times out gives it back to the pool", async () => {
    const { tx, rx } = pair(undefined, 1024);
    try {
      while (tx.trySend(new Uint8Array(0))); // 8-byte frames: full to the last byte
      const l = tx.tryLoan(10_000)!;
      const p = tx.send(l, { timeout: 50 });
      expect(l.byteLength).toBe(0);
      expect(tx.poolStats.loaned).toBe(10_000);
      await expect(p).rejects.toMatchObject({ code: "ETIMEDOUT" });
      expect(tx.poolStats.loaned).toBe(0);
      const l2 = tx.tryLoan(10_000)!.fill(5);
      const sent = tx.send(l2, { timeout: 10_000 });
      for (let i = 0; i < 10; i++) rx.tryRecv();
      rx.release(); // publishes the room for the descriptor
      await sent;
      let m: Uint8Array | null;
      while ((m = rx.tryRecv()) !== null && m.byteLength !== 10_000);
      expect(m!.every((x) => x === 5)).toBe(true);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("refuses bad sizes and options clearly", () => {
    const { tx, rx } = pair(MiB);
    try {
      for (const bad of [0, -1, 1.5, NaN]) expect(errorOf(() => tx.tryLoan(bad)).code).toBe("ERR_OUT_OF_RANGE");
      expect(errorOf(() => tx.tryLoan("1" as unknown as number)).code).toBe("ERR_INVALID_ARG_TYPE");
      expect(errorOf(() => tx.tryLoan(MiB + 1))).toBeInstanceOf(RangeError);
      expect(errorOf(() => tx.trySend(new Uint8Array(MiB + 1)))).toBeInstanceOf(RangeError);
      expect(errorOf(() => tx.cancelLoan(42 as unknown as Uint8Array)).code).toBe("ERR_INVALID_ARG_TYPE");
      tx.cancelLoan(new Uint8Array(4)); // not a loan: ignored
      expect(errorOf(() => Channel.create({ capacity: 4096, pool: { maxBytes: 100 } })).code).toBe("ERR_OUT_OF_RANGE");
      expect(errorOf(() => Channel.create({ capacity: 4096, pool: 5 as never })).code).toBe("ERR_INVALID_ARG_TYPE");
      rx.close();
      expect(errorOf(() => tx.tryLoan(100)).code).toBe("ECLOSED"); // the reader closed
    } finally {
      tx.close();
      rx.close();
    }
  });
});

describe("slab names", () => {
  it("are PROTOCOL §3's: SHA-256 over the slab key and the index (its example), and differ per index beyond the suffix", () => {
    expect(slabName("0001020304050607", 0)).toBe("smsh-2487142bfa75db10.0");
    const a = slabName("0001020304050607", 1);
    expect(a).toMatch(/^smsh-[0-9a-f]{16}\.1$/);
    expect(a.slice(0, 21)).not.toBe("smsh-2487142bfa75db10"); // the next name cannot be guessed from one seen
  });
});
