// The batch API (trySendMany/sendMany, drain, recvMany/tryRecvMany,
// readable) and publication held to the end of the tick. Batches of random
// counts and sizes wrap a small ring and exceed its free space; a batch
// interrupted by a close, a timeout or an abort says how much of it went,
// and exactly that arrives; a corrupted frame inside a batch is ECORRUPT
// and never a view outside the ring.
import { afterEach, describe, expect, it } from "vitest";

import { Channel, Segment, layout, type ChannelReader, type ChannelWriter } from "../../dist/lib/index.js";
import { check, fill, lengthOf, makePool } from "../fixtures/pattern.js";
import { channelPair, collect, expectCode, fillRing, killStrays, spawnFixture, waitForLine } from "../helpers.js";

afterEach(killStrays);

const pool = makePool();

/** Pattern messages from..from+k-1 with lengths up to max. */
function batchOf(from: number, k: number, max: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let j = 0; j < k; j++) {
    const m = new Uint8Array(lengthOf(from + j, max));
    fill(m, from + j, pool);
    out.push(m);
  }
  return out;
}

/** The header's write index, as the other process sees it. */
function publishedWriteIndex(tx: ChannelWriter): number {
  const seg = Segment.attach(tx.name);
  try {
    return Atomics.load(new Int32Array(seg.buffer, 0, layout.HEADER_SIZE / 4), layout.OFFSETS.write_index >> 2) >>> 0;
  } finally {
    seg.close();
  }
}

interface ReadReport {
  messages: number;
  calls: Record<string, number>;
  eos: string;
}

function report(stdout: string): ReadReport {
  return JSON.parse(stdout.split("\n").find((l) => l.startsWith("{"))!) as ReadReport;
}

describe("batches across processes", () => {
  it("batches of random counts and sizes, wrapping a 4 KiB ring and larger than its free space, arrive intact and in order through every receive API", async () => {
    const COUNT = 40_000;
    const tx = Channel.create({ capacity: 4096, spin: 0 });
    try {
      const max = tx.maxMessageSize;
      const child = spawnFixture("batch-peer", ["read", tx.name, String(max)]);
      const done = collect(child, 120_000);
      await waitForLine(child, /^ready$/m, 30_000);
      let seed = 7;
      let trySent = 0;
      for (let i = 0; i < COUNT; ) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const k = Math.min(COUNT - i, 1 + (seed % 300)); // up to ~150 KiB: many times the ring
        const batch = batchOf(i, k, max);
        // Half the time what fits now first (trySendMany), the rest waiting (sendMany).
        const n = seed & 1 ? tx.trySendMany(batch) : 0;
        trySent += n;
        if (n < k) await tx.sendMany(n === 0 ? batch : batch.slice(n));
        i += k;
      }
      tx.close();
      const r = await done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const rep = report(r.stdout);
      expect(rep.messages).toBe(COUNT);
      expect(rep.eos).toBe("ECLOSED");
      for (const api of ["drain", "recvMany", "tryRecvMany", "recv"]) expect(rep.calls[api], api).toBeGreaterThan(10);
      expect(trySent).toBeGreaterThan(0);
      expect(tx.stats.writerWaits).toBeGreaterThan(0); // the batches did not fit: sendMany waited for room
    } finally {
      tx.close();
    }
  }, 150_000);

  it("a writer in another process sends with sendMany; a reader here drains every message intact and in order", async () => {
    const COUNT = 20_000;
    const { randomName } = await import("../../dist/lib/index.js");
    const name = randomName();
    const child = spawnFixture("batch-peer", ["write", name, String(COUNT), "1016"]);
    const done = collect(child, 120_000);
    await waitForLine(child, new RegExp(`^${name}$`, "m"), 30_000);
    const rx = Channel.attach(name);
    try {
      let i = 0;
      const onMessage = (data: Uint8Array, offset: number, length: number): void => {
        expect(offset + length).toBeLessThanOrEqual(data.length);
        const err = check(data.subarray(offset, offset + length), i, 1016, pool);
        if (err) throw new Error(err);
        i++;
      };
      let eos = "";
      for (;;) {
        if (rx.drain(onMessage) > 0) continue;
        try {
          await rx.readable({ timeout: 60_000 });
        } catch (e) {
          eos = (e as { code: string }).code;
          break;
        }
      }
      expect(i).toBe(COUNT);
      expect(eos).toBe("ECLOSED");
      const r = await done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    } finally {
      rx.close();
    }
  }, 150_000);

  it("a batch interrupted by the writer's close: the rejection says how many were sent, and exactly those arrive, then end of stream", async () => {
    const tx = Channel.create({ capacity: 4096, spin: 0 });
    try {
      const max = 200;
      const child = spawnFixture("batch-peer", ["slow-read", tx.name, String(max), "50"]);
      const done = collect(child, 120_000);
      await waitForLine(child, /^ready$/m, 30_000);
      const batch = batchOf(0, 20_000, max); // 50 us per message at the reader: a second at least
      const p = tx.sendMany(batch);
      await new Promise((r) => setTimeout(r, 200)); // generous: the reader has taken some, not all (it needs >= 1 s)
      tx.close();
      const e = (await p.then(
        () => null,
        (x: unknown) => x,
      )) as (Error & { code: string; sent: number }) | null;
      expect(e).not.toBeNull();
      expect(e!.code).toBe("ECLOSED");
      expect(e!.sent).toBeGreaterThan(0);
      expect(e!.sent).toBeLessThan(batch.length);
      const r = await done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const rep = report(r.stdout);
      expect(rep.eos).toBe("ECLOSED");
      expect(rep.messages).toBe(e!.sent);
    } finally {
      tx.close();
    }
  }, 150_000);
});

describe("batches and loans revoked from a dead reader", () => {
  it("drain() over a revoked loan goes on from where the skip left off and never past the write index (no stale frames, no read index ahead of the writer)", async () => {
    const CAP = 4096;
    const tx = Channel.create({ capacity: CAP, spin: 0, pool: { maxBytes: 4096 } });
    const child = spawnFixture("batch-peer", ["read-n", tx.name, "512"]);
    let rx: ChannelReader | null = null;
    try {
      await waitForLine(child, /^attached$/m, 30_000);
      // Lap 1: 512 empty messages (8-byte frames) fill the ring exactly once; the child reads them.
      const lap = waitForLine(child, /^read 512$/m, 30_000);
      for (let i = 0; i < 512; i++) await tx.send(new Uint8Array(0));
      await lap;
      await new Promise((r) => setTimeout(r, 20)); // a new tick; everything below in one
      tx.trySend(new Uint8Array([0x58])); // the tick's first: published at once
      tx.trySend(new Uint8Array(220).fill(0x42)); // held by the tick
      const loan = tx.tryLoan(4096)!;
      tx.trySend(loan); // 1/16 of the ring held: published, the loan descriptor last
      tx.trySend(new Uint8Array([0x59])); // held
      child.kill("SIGKILL");
      while (tx.readerState !== "dead"); // the same tick: the kernel drops the lock at once
      expect(tx.tryLoan(4096)).not.toBeNull(); // the pool is full: the dead reader's loan is taken back
      rx = Channel.attach(tx.name, { spin: 0 });
      const got: string[] = [];
      rx.drain((d, o, n) => got.push(n === 1 ? String.fromCharCode(d[o]!) : `len${n}`), 200);
      expect(got).toEqual(["X", "len220", "Y"]); // the revoked loan skipped; "Y" flushed from the tick
      expect(rx.tryRecv()).toBeNull();
      expect(tx.trySend(new Uint8Array([7]))).toBe(true); // the writer's view of the read index is sane
      expect(Array.from(rx.tryRecv()!)).toEqual([7]);
    } finally {
      rx?.close();
      tx.close();
    }
  });
});

describe("batches in one process", () => {
  it("sendSync publishes at once, whatever the tick holds (a synchronous loop's tick may never end)", () => {
    const { tx, close } = channelPair(1 << 16);
    try {
      const w0 = publishedWriteIndex(tx);
      tx.trySend(new Uint8Array(8)); // published: the tick's first
      tx.trySend(new Uint8Array(8)); // held
      expect(publishedWriteIndex(tx)).toBe(w0 + 16);
      expect(tx.sendSync(new Uint8Array(8), 1000)).toBe(true);
      expect(publishedWriteIndex(tx)).toBe(w0 + 48); // its own and the held one
      expect(tx.sendSync(new Uint8Array(8), 1000)).toBe(true);
      expect(publishedWriteIndex(tx)).toBe(w0 + 64);
    } finally {
      close();
    }
  });

  it("one loan listed twice (two views of it) is refused before anything is sent: trySendMany throws, sendMany rejects, both with a code", async () => {
    const { tx, rx, close } = channelPair(1024);
    try {
      const loan = tx.tryLoan(64)!;
      expectCode(() => tx.trySendMany([new Uint8Array([1]), loan.subarray(0, 32), loan.subarray(32)]), "ERR_INVALID_ARG_VALUE");
      expect(loan.length).toBe(64); // still the caller's
      while (tx.trySend(new Uint8Array(100))); // full: sendMany would queue
      const p = tx.sendMany([loan, loan], { timeout: 1000 });
      expect(p).toBeInstanceOf(Promise);
      await expect(p).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
      expect(loan.length).toBe(64);
      let n = 0;
      while (rx.tryRecv() !== null) n++;
      expect(tx.stats.loans).toBe(0);
      expect(n).toBe(tx.stats.messages); // only the fillers
    } finally {
      close();
    }
  });

  it("a sendMany whose loan waits and times out rejects with ETIMEDOUT and sent 0; the loan goes back to the pool, nothing after it is sent", async () => {
    const { tx, rx, close } = channelPair(1024);
    try {
      while (tx.trySend(new Uint8Array(100))); // full
      const before = tx.stats.messages;
      const loan = tx.tryLoan(64)!;
      const e = (await tx.sendMany([loan, new Uint8Array([1])], { timeout: 50 }).catch((x: unknown) => x)) as Error & { code: string; sent: number };
      expect(e).toBeInstanceOf(Error);
      expect(e.code).toBe("ETIMEDOUT");
      expect(e.sent).toBe(0);
      expect(tx.stats.messages).toBe(before);
      expect(tx.poolStats.loaned).toBe(0);
      let n = 0;
      while (rx.tryRecv() !== null) n++;
      expect(n).toBe(before);
    } finally {
      close();
    }
  });

  it("sendMany(iterator) copies each message as it is yielded (an iterator may refill one buffer)", async () => {
    const { tx, rx, close } = channelPair(1024);
    try {
      const buf = new Uint8Array(1);
      await tx.sendMany((function* () {
        for (let i = 1; i <= 5; i++) {
          buf[0] = i;
          yield buf;
        }
      })());
      expect(rx.tryRecvMany().map((m) => m[0])).toEqual([1, 2, 3, 4, 5]);
    } finally {
      close();
    }
  });

  it("release() and keep() inside a drain() handler are EBUSY: the handler's message is not freed under it", () => {
    const { tx, rx, close } = channelPair(1024);
    try {
      tx.trySend(new Uint8Array([0x11]));
      const codes: string[] = [];
      rx.drain(() => {
        for (const f of [() => rx.release(), () => rx.keep()]) {
          try {
            f();
          } catch (e) {
            codes.push((e as { code: string }).code);
          }
        }
      });
      expect(codes).toEqual(["EBUSY", "EBUSY"]);
    } finally {
      close();
    }
  });

  it("a batch interrupted by the reader's close rejects ECLOSED with at least what the reader took", async () => {
    const { tx, rx, close } = channelPair(4096);
    try {
      const batch = batchOf(0, 2000, 100);
      const p = tx.sendMany(batch);
      let got = 0;
      while (got < 100) {
        const n = rx.drain(() => {}, 100 - got);
        got += n;
        if (n === 0) await rx.readable();
      }
      rx.close();
      const e = (await p.catch((x: unknown) => x)) as Error & { code: string; sent: number };
      expect(e.code).toBe("ECLOSED");
      expect(e.sent).toBeGreaterThanOrEqual(100);
      expect(e.sent).toBeLessThan(batch.length);
    } finally {
      close();
    }
  });

  for (const how of ["timeout", "abort"] as const) {
    it(`a batch that ${how === "timeout" ? "times out" : "is aborted"} waiting for room: exactly the first \`sent\` arrive, and a later message follows with no gap`, async () => {
      const { tx, rx, close } = channelPair(4096);
      try {
        const batch = batchOf(0, 400, 100); // ~40 KiB: ten times the ring
        const ac = new AbortController();
        const p = tx.sendMany(batch, how === "timeout" ? { timeout: 50 } : { signal: ac.signal });
        if (how === "abort") setTimeout(() => ac.abort(), 50);
        const e = (await p.catch((x: unknown) => x)) as Error & { code: string; sent: number };
        expect(e.code).toBe(how === "timeout" ? "ETIMEDOUT" : "ABORT_ERR");
        expect(e.sent).toBeGreaterThan(0);
        expect(e.sent).toBeLessThan(batch.length);
        await tx.send(new Uint8Array([0xee, 0xee, 0xee, 0xee, 0xee])); // after the failed batch
        let i = 0;
        let marker = false;
        while (!marker) {
          for (const m of await rx.recvMany(64, { timeout: 10_000 })) {
            if (i === e.sent) {
              expect(Array.from(m)).toEqual([0xee, 0xee, 0xee, 0xee, 0xee]);
              marker = true;
            } else {
              expect(check(m, i, 100, pool)).toBeNull();
              i++;
            }
          }
        }
        expect(i).toBe(e.sent);
        expect(rx.tryRecv()).toBeNull();
      } finally {
        close();
      }
    });
  }

  it("every message is checked before any is sent: a bad one sends nothing", async () => {
    const { tx, rx, close } = channelPair(4096);
    try {
      const ok = new Uint8Array([1, 2, 3]);
      expectCode(() => tx.trySendMany([ok, 123 as unknown as Uint8Array, ok]), "ERR_INVALID_ARG_TYPE");
      expectCode(() => tx.trySendMany(ok as unknown as Uint8Array[]), "ERR_INVALID_ARG_TYPE");
      const detached = new Uint8Array(8);
      structuredClone(detached.buffer, { transfer: [detached.buffer] });
      expectCode(() => tx.trySendMany([ok, detached]), "ERR_INVALID_ARG_VALUE");
      await expect(tx.sendMany([ok, "x" as unknown as Uint8Array])).rejects.toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
      await expect(tx.sendMany(42 as unknown as Uint8Array[])).rejects.toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
      await expect(tx.sendMany([ok], { timeout: -1 })).rejects.toMatchObject({ code: "ERR_OUT_OF_RANGE" });
      expect(rx.tryRecv()).toBeNull();
      // Any iterable, in order; an empty one sends nothing.
      await tx.sendMany((function* () {
        yield new Uint8Array([1]);
        yield new Uint16Array([0x0302]);
        yield new Uint8Array([4]).buffer;
      })());
      await tx.sendMany([]);
      expect(tx.trySendMany([])).toBe(0);
      expect(rx.tryRecvMany().map((m) => Array.from(m))).toEqual([[1], [2, 3], [4]]);
      expectCode(() => rx.drain(null as unknown as () => void), "ERR_INVALID_ARG_TYPE");
      expectCode(() => rx.drain(() => {}, -1), "ERR_OUT_OF_RANGE");
      await expect(rx.recvMany(0)).rejects.toMatchObject({ code: "ERR_OUT_OF_RANGE" });
      expectCode(() => rx.tryRecvMany(1.5), "ERR_OUT_OF_RANGE");
    } finally {
      close();
    }
  });

  it("trySendMany sends the prefix that fits and says how long it is; nothing is published twice or skipped", () => {
    const { tx, rx, close } = channelPair(1024); // 1 KiB: 8 messages of 100 B (112-byte frames) at most
    try {
      const batch = batchOf(0, 30, 100).map((m) => m.subarray(0, 100));
      const n = tx.trySendMany(batch);
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(30);
      expect(tx.trySendMany(batch.slice(n))).toBe(0); // full
      const got = rx.tryRecvMany(100);
      expect(got).toHaveLength(n);
      got.forEach((m, i) => expect(m).toEqual(batch[i]));
    } finally {
      close();
    }
  });

  it("drain: a handler that throws has consumed its message, the rest stays; receiving from a handler is EBUSY", () => {
    const { tx, rx, close } = channelPair(4096);
    try {
      tx.trySendMany([new Uint8Array([0]), new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])]);
      const seen: number[] = [];
      expect(() =>
        rx.drain((d, o) => {
          seen.push(d[o]!);
          if (d[o] === 1) throw new Error("handler failed");
        }),
      ).toThrow("handler failed");
      expect(seen).toEqual([0, 1]);
      let inner: unknown;
      expect(
        rx.drain((d, o) => {
          seen.push(d[o]!);
          try {
            rx.tryRecv();
          } catch (e) {
            inner = e;
          }
          expectCode(() => rx.drain(() => {}), "EBUSY");
        }, 1),
      ).toBe(1);
      expect((inner as { code: string }).code).toBe("EBUSY");
      expect(rx.tryRecvMany().map((m) => m[0])).toEqual([3]);
      expect(seen).toEqual([0, 1, 2]);
      expect(rx.stats.messages).toBe(4);
    } finally {
      close();
    }
  });

  it("loans and buffers above maxMessageSize go in a batch too: a loan alone per recvMany, drain hands it at offset 0", () => {
    const { tx, rx, close } = channelPair(4096);
    try {
      const loan = tx.tryLoan(10_000)!;
      loan.fill(7);
      const big = new Uint8Array(5000).fill(9); // > maxMessageSize (1016): copied into a loan
      expect(tx.trySendMany([new Uint8Array([1]), loan, new Uint8Array([2]), big, new Uint8Array([3])])).toBe(5);
      expect(loan.length).toBe(0); // handed over
      expect(tx.stats.loans).toBe(2);
      expect(rx.tryRecvMany().map((m) => m.length)).toEqual([1]); // stops before the loan
      const l = rx.tryRecvMany();
      expect(l.map((m) => m.length)).toEqual([10_000]); // a loan comes alone
      expect(l[0]![0]).toBe(7);
      const seen: [number, number, number][] = [];
      expect(rx.drain((d, o, n) => seen.push([o, n, d[o]!]))).toBe(3);
      expect(seen).toEqual([
        [expect.any(Number), 1, 2],
        [0, 5000, 9],
        [expect.any(Number), 1, 3],
      ]);
    } finally {
      close();
    }
  });
});

describe("a corrupted frame inside a batch", () => {
  /**
   * Publishes 6 messages of 16 B that end exactly at the end of the data
   * region, and a seventh that wraps to its start, then scribbles word
   * `word` (0: length, 1: type) of frame `k` through a mapping of its own.
   * Everything from a frame to the end of the region is published, so a
   * PAD frame there fails only for its length.
   */
  function corrupted(k: number, word: 0 | 1, value: number): { tx: ChannelWriter; rx: ChannelReader; close(): void } {
    const CAP = 4096;
    const pair = channelPair(CAP);
    const start = CAP - 6 * 24; // 24-byte frames
    for (let i = 0; i < start / 8; i++) pair.tx.trySend(new Uint8Array(0)); // 8-byte frames, read and released below
    pair.tx.flush();
    expect(pair.rx.drain(() => {})).toBe(start / 8);
    pair.tx.trySendMany(batchOf(0, 7, 16).map((m) => (m.length < 16 ? new Uint8Array(16).fill(m[0]!) : m.subarray(0, 16))));
    pair.tx.flush();
    const seg = Segment.attach(pair.tx.name);
    try {
      new Int32Array(seg.buffer, layout.HEADER_SIZE + start)[k * 6 + word] = value; // 6 words a frame
    } finally {
      seg.close();
    }
    return pair;
  }
  const cases: [string, 0 | 1, number][] = [
    ["a length beyond maxMessageSize", 0, 0x7fff_fff0],
    ["a length running past what was published", 0, 500],
    ["an unknown type", 1, 0],
    ["a padding frame that does not run to the end", 1, 2],
  ];
  for (const [what, word, value] of cases) {
    it(`${what}: recvMany/tryRecvMany give ECORRUPT and no view`, async () => {
      const { rx, close } = corrupted(3, word, value);
      try {
        expectCode(() => rx.tryRecvMany(), "ECORRUPT");
        expect(rx.closed).toBe(true);
      } finally {
        close();
      }
      const b = corrupted(3, word, value);
      try {
        await expect(b.rx.recvMany()).rejects.toMatchObject({ code: "ECORRUPT" });
      } finally {
        b.close();
      }
    });

    it(`${what}: drain hands only the valid messages before it, each inside the ring, then ECORRUPT`, () => {
      const { rx, close } = corrupted(3, word, value);
      try {
        const seen: number[] = [];
        expectCode(
          () =>
            rx.drain((d, o, n) => {
              expect(d.buffer).toBe(rx.segment.buffer);
              expect(o).toBeGreaterThanOrEqual(0);
              expect(o + n).toBeLessThanOrEqual(d.length);
              seen.push(n);
            }),
          "ECORRUPT",
        );
        expect(seen).toEqual([16, 16, 16]);
        expect(rx.closed).toBe(true);
      } finally {
        close();
      }
    });
  }
});

describe("publication held to the end of the tick", () => {
  it("the first message of a tick is published at once, the others at the end of the tick", async () => {
    const { tx, close } = channelPair(4096);
    try {
      const w0 = publishedWriteIndex(tx);
      tx.trySend(new Uint8Array(8));
      const w1 = publishedWriteIndex(tx);
      expect(w1).toBe(w0 + 16); // a lone message waits for nothing
      tx.trySend(new Uint8Array(8));
      tx.trySend(new Uint8Array(8));
      expect(publishedWriteIndex(tx)).toBe(w1); // held: one store for the rest of the tick
      await Promise.resolve();
      expect(publishedWriteIndex(tx)).toBe(w1 + 32);
    } finally {
      close();
    }
  });

  it("a wait on any channel of this process publishes what is held first (a sync loop never waits on its own held message)", () => {
    const a = channelPair(4096);
    const b = channelPair(4096);
    try {
      a.tx.trySend(new Uint8Array(8));
      a.tx.trySend(new Uint8Array(8)); // held
      const w = publishedWriteIndex(a.tx);
      expect(b.rx.tryRecv()).toBeNull(); // polling another, empty channel
      expect(publishedWriteIndex(a.tx)).toBe(w + 16);
      a.tx.trySend(new Uint8Array(8));
      a.tx.trySend(new Uint8Array(8)); // held again (the tick goes on)
      expect(b.rx.recvSync(0)).toBeNull(); // a sync wait
      expect(publishedWriteIndex(a.tx)).toBe(w + 48);
      // A blocking wait for room that never polls a ring first (another writer, full).
      a.tx.trySend(new Uint8Array(8));
      a.tx.trySend(new Uint8Array(8)); // held
      fillRing(b.tx);
      expect(b.tx.sendSync(new Uint8Array(8), 0)).toBe(false);
      expect(publishedWriteIndex(a.tx)).toBe(w + 80);
    } finally {
      a.close();
      b.close();
    }
  });

  it("an event-loop wait that starts synchronously (readable) publishes what is held before it spins or sleeps", async () => {
    const a = channelPair(4096);
    const b = channelPair(4096);
    try {
      a.tx.trySend(new Uint8Array(8));
      a.tx.trySend(new Uint8Array(8)); // held
      const w = publishedWriteIndex(a.tx);
      const p = b.rx.readable({ timeout: 20 });
      expect(publishedWriteIndex(a.tx)).toBe(w + 16); // before any microtask ran
      await expect(p).rejects.toMatchObject({ code: "ETIMEDOUT" });
    } finally {
      a.close();
      b.close();
    }
  });

  it("process.exit() in the tick that sent publishes what the tick held (the reader gets all three, then EPEERDEAD)", async () => {
    const { randomName } = await import("../../dist/lib/index.js");
    const name = randomName();
    const child = spawnFixture("batch-peer", ["exit", name]);
    const done = collect(child, 60_000);
    await waitForLine(child, new RegExp(`^${name}$`, "m"), 30_000);
    const rx = Channel.attach(name);
    try {
      const got: number[] = [];
      let end = "";
      for (;;) {
        try {
          got.push((await rx.recv({ timeout: 30_000 }))[0]!);
        } catch (e) {
          end = (e as { code: string }).code;
          break;
        }
      }
      expect(got).toEqual([1, 2, 3]);
      expect(end).toBe("EPEERDEAD"); // it exited without closing
      expect((await done).code).toBe(0);
    } finally {
      rx.close();
    }
  });

  it('publish: "immediate" publishes every message at once; other values are refused', () => {
    const tx = Channel.create({ capacity: 4096, publish: "immediate" });
    try {
      expect(tx.publishMode).toBe("immediate");
      const w0 = publishedWriteIndex(tx);
      tx.trySend(new Uint8Array(8));
      tx.trySend(new Uint8Array(8));
      expect(publishedWriteIndex(tx)).toBe(w0 + 32);
    } finally {
      tx.close();
    }
    expectCode(() => Channel.create({ capacity: 4096, publish: "later" as "tick" }), "ERR_INVALID_ARG_VALUE");
  });
});
