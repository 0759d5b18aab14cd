// `using` and `await using`: Segment, both channel ends, Waiter and
// KeptMessage close (or release) at scope exit, also when the scope throws;
// a writer's asyncDispose lets queued sends reach the ring, for a bounded time.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { Channel, Segment, WaitLine, Waiter, layout } from "../../dist/lib/index.js";
import type { ChannelReader, ChannelWriter } from "../../dist/lib/index.js";
import { fillRing, sleep, LINUX_ONLY } from "../helpers.js";

const shm = (name: string): boolean => existsSync(`/dev/shm/${name}`);

describe("using", () => {
  // Windows: reads /dev/shm; test/win/windows.test.ts checks a name's lifetime there
  it.skipIf(LINUX_ONLY)("a created segment closes at scope exit and its name is gone; an attached one closes and leaves the name", () => {
    let owner: Segment;
    let attached: Segment;
    {
      using seg = Segment.create({ size: 4096 });
      owner = seg;
      {
        using other = Segment.attach(seg.name);
        attached = other;
        other.data[0] = 7;
      }
      expect(attached.closed).toBe(true);
      expect(shm(seg.name)).toBe(true);
      expect(seg.data[0]).toBe(7);
    }
    expect(owner.closed).toBe(true);
    expect(shm(owner.name)).toBe(false);
  });

  it("both channel ends close at scope exit, also when the scope throws", () => {
    let ends: [ChannelWriter, ChannelReader] | undefined;
    expect(() => {
      using tx = Channel.create({ capacity: 1024 });
      using rx = Channel.attach(tx.name);
      ends = [tx, rx];
      tx.trySend(Buffer.from("x"));
      expect(rx.tryRecv()).toEqual(new Uint8Array([120]));
      throw new Error("boom");
    }).toThrow("boom");
    const [tx, rx] = ends!;
    expect(tx.closed && rx.closed).toBe(true);
    expect(shm(tx.name)).toBe(false);
  });

  it("a writer disposed with `using` closes at once: its queued sends reject with ECLOSED", async () => {
    let queued: Promise<void>;
    let name: string;
    {
      using tx = Channel.create({ capacity: 1024 });
      name = tx.name;
      fillRing(tx);
      queued = tx.send(Buffer.alloc(8));
    }
    await expect(queued).rejects.toMatchObject({ code: "ECLOSED" });
    expect(shm(name)).toBe(false);
  });

  it("a kept message is released and a waiter closed at scope exit", async () => {
    using tx = Channel.create({ capacity: 1024 });
    using rx = Channel.attach(tx.name);
    tx.trySend(Buffer.from("keep me"));
    rx.tryRecv();
    let held: { released: boolean } | undefined;
    {
      using kept = rx.keep();
      held = kept;
      expect(kept.released).toBe(false);
    }
    expect(held.released).toBe(true);
    using seg = Segment.create({ size: 4096 });
    const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
    let pending: Promise<unknown> | undefined;
    {
      using waiter = new Waiter(line, "futex");
      pending = waiter.wait(line.prepare(waiter.mode), 10_000);
    }
    await expect(pending).rejects.toMatchObject({ code: "ECLOSED" });
  });
});

describe("await using a writer", () => {
  /** A full ring with two send()s queued behind it. */
  function queuedPair(): { tx: ChannelWriter; rx: ChannelReader; queued: Promise<void>[] } {
    const tx = Channel.create({ capacity: 1024 });
    const rx = Channel.attach(tx.name);
    fillRing(tx);
    return { tx, rx, queued: [tx.send(Buffer.from("q1")), tx.send(Buffer.from("q2"))] };
  }

  it("lets queued sends reach the ring before it closes; the reader receives them, then the end of stream", async () => {
    const { tx, rx, queued } = queuedPair();
    try {
      const received: string[] = [];
      // The reader drains the ring a little later, while the scope is being left.
      const reading = (async () => {
        await sleep(50);
        for await (const m of rx) received.push(Buffer.from(m).toString());
      })();
      {
        await using writer = tx;
        void writer;
      }
      expect(tx.closed).toBe(true);
      await Promise.all(queued); // both were sent, none rejected
      await reading;
      expect(received.slice(-2)).toEqual(["q1", "q2"]);
    } finally {
      rx.close();
      tx.close();
    }
  });

  it("waits at most about a second for a reader that does not read, then closes: the sends still queued reject with ECLOSED", async () => {
    const { tx, rx, queued } = queuedPair();
    try {
      const t0 = performance.now();
      {
        await using writer = tx;
        void writer;
      }
      const waited = performance.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(900);
      expect(waited).toBeLessThan(3000);
      expect(tx.closed).toBe(true);
      for (const q of queued) await expect(q).rejects.toMatchObject({ code: "ECLOSED" });
    } finally {
      rx.close();
      tx.close();
    }
  });

  it("stops waiting as soon as the reader closes", async () => {
    const { tx, rx, queued } = queuedPair();
    try {
      const t0 = performance.now();
      setTimeout(() => rx.close(), 50);
      {
        await using writer = tx;
        void writer;
      }
      expect(performance.now() - t0).toBeLessThan(800);
      for (const q of queued) await expect(q).rejects.toMatchObject({ code: "ECLOSED" });
      expect(shm(tx.name)).toBe(false);
    } finally {
      rx.close();
      tx.close();
    }
  });

  it("with nothing queued, closes at once", async () => {
    const tx = Channel.create({ capacity: 1024 });
    const t0 = performance.now();
    {
      await using writer = tx;
      writer.trySend(Buffer.from("x"));
    }
    expect(performance.now() - t0).toBeLessThan(100);
    expect(tx.closed).toBe(true);
    expect(shm(tx.name)).toBe(false);
  });
});
