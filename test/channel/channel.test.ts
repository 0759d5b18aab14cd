import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";

import { Channel, Segment, layout } from "../../dist/lib/index.js";
import { expectCode } from "../helpers.js";

function pair(capacity = 4096): { tx: ReturnType<typeof Channel.create>; rx: ReturnType<typeof Channel.attach> } {
  const tx = Channel.create({ capacity });
  return { tx, rx: Channel.attach(tx.name) };
}

describe("Channel framing", () => {
  it("delivers messages in order with their exact bytes, across many wraps of the ring", () => {
    const { tx, rx } = pair(4096);
    try {
      for (let i = 0; i < 5000; i++) {
        const n = (i * 37) % (tx.maxMessageSize + 1);
        expect(tx.trySend(Buffer.alloc(n, i & 255))).toBe(true);
        const m = rx.tryRecv()!;
        expect(m.length).toBe(n);
        if (n > 0) expect(m[0] === (i & 255) && m[n - 1] === (i & 255)).toBe(true);
      }
      expect(rx.tryRecv()).toBe(null);
      expect(tx.stats.messages).toBe(5000);
      expect(rx.stats.messages).toBe(5000);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("applies back-pressure: trySend returns false when full and true again after the reader catches up", () => {
    const { tx, rx } = pair(4096);
    try {
      let sent = 0;
      while (tx.trySend(Buffer.alloc(100, sent))) sent++;
      expect(sent).toBeGreaterThan(20);
      expect(sent).toBeLessThan(4096 / 100);
      for (let i = 0; i < sent; i++) expect(rx.tryRecv()![0]).toBe(i);
      expect(rx.tryRecv()).toBe(null); // publishes the freed space
      expect(tx.trySend(Buffer.alloc(100))).toBe(true);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("sends a message larger than maxMessageSize as a loan (copied once), and reserve() refuses one with a RangeError", () => {
    const { tx, rx } = pair(4096);
    try {
      expect(tx.maxMessageSize).toBe(4096 / 4 - 8);
      expect(() => tx.reserve(tx.maxMessageSize + 1)).toThrow(RangeError);
      const big = new Uint8Array(tx.maxMessageSize + 1).fill(7);
      expect(tx.trySend(big)).toBe(true);
      expect(big.length).toBe(tx.maxMessageSize + 1); // copied: the caller's buffer is untouched
      expect(tx.trySend(new Uint8Array(tx.maxMessageSize))).toBe(true);
      const m = rx.tryRecv()!;
      expect(m.length).toBe(tx.maxMessageSize + 1);
      expect(m.every((b) => b === 7)).toBe(true);
      expect(m.buffer).not.toBe(rx.segment.buffer); // pool memory, not the ring
      expect(tx.poolStats.loansSent).toBe(1);
      expect(rx.tryRecv()!.length).toBe(tx.maxMessageSize);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("reserve/commit writes in place and the reader sees the bytes with no copy", () => {
    const { tx, rx } = pair(4096);
    try {
      for (let round = 0; round < 100; round++) {
        const v = tx.reserve(200)!;
        expect(v.buffer).toBe(tx.segment.buffer); // a view straight into the ring
        v.fill(round);
        tx.commit(v, 150);
        const m = rx.tryRecv()!;
        expect(m.length).toBe(150);
        expect(m.buffer).toBe(rx.segment.buffer);
        expect(m.every((b) => b === round)).toBe(true);
      }
      const v = tx.reserve(10)!;
      expect(() => tx.trySend(Buffer.from("x"))).toThrow(TypeError); // reservation pending
      expect(() => tx.commit(new Uint8Array(10))).toThrow(TypeError); // not the reservation
      tx.commit(v);
      expect(rx.tryRecv()!.length).toBe(10);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("keeps a view valid until the next receive, and a view after release or close does not crash", () => {
    const { tx, rx } = pair(4096);
    try {
      tx.trySend(Buffer.from("first"));
      tx.trySend(Buffer.from("second"));
      const a = rx.tryRecv()!;
      expect(Buffer.from(a).toString()).toBe("first");
      rx.release();
      const b = rx.tryRecv()!;
      expect(Buffer.from(b).toString()).toBe("second");
      rx.close();
      expect(b.length).toBe(0);
      expect(b[0]).toBeUndefined();
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("validates options and arguments", () => {
    expect(() => Channel.create({ capacity: 3000 })).toThrow(TypeError);
    expect(() => Channel.create({ capacity: 512 })).toThrow(RangeError);
    expect(() => Channel.create({ capacity: 4096, notify: "smoke" as "futex" })).toThrow(TypeError);
    expect(() => Channel.create({ capacity: 4096, spin: -1 })).toThrow(TypeError);
    const { tx, rx } = pair();
    try {
      expect(() => tx.trySend("text" as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => rx.recvSync(-1)).toThrow(TypeError);
      expectCode(() => Channel.attach(tx.name), "EBUSY");
    } finally {
      tx.close();
      rx.close();
    }
    const plain = Segment.create({ size: 4096 });
    try {
      expectCode(() => Channel.attach(plain.name), "ECORRUPT");
    } finally {
      plain.close();
    }
  });
});

describe("Channel cork/uncork", () => {
  it("holds messages back until uncork, then the reader sees them all in order", () => {
    const { tx, rx } = pair();
    try {
      tx.cork();
      for (let i = 0; i < 5; i++) expect(tx.trySend(Buffer.from([i]))).toBe(true);
      expect(rx.tryRecv()).toBe(null); // not published yet
      tx.uncork();
      for (let i = 0; i < 5; i++) expect(rx.tryRecv()![0]).toBe(i);
      expect(tx.stats.messages).toBe(5);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("publishes by itself at the end of the tick, and when the ring fills up", async () => {
    const { tx, rx } = pair(4096);
    try {
      tx.cork();
      tx.trySend(Buffer.from("late"));
      await new Promise((r) => process.nextTick(r));
      expect(Buffer.from(rx.tryRecv()!).toString()).toBe("late");
      tx.cork();
      let sent = 0;
      while (tx.trySend(Buffer.alloc(200, 1))) sent++; // full: must publish, or the reader could never drain
      let got = 0;
      while (rx.tryRecv()) got++;
      expect(got).toBe(sent);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("close() publishes what was corked", async () => {
    const { tx, rx } = pair();
    tx.cork();
    tx.trySend(Buffer.from("bye"));
    tx.close();
    expect(Buffer.from(rx.tryRecv()!).toString()).toBe("bye");
    await expect(rx.recv()).rejects.toMatchObject({ code: "ECLOSED" });
    rx.close();
  });
});

describe("Channel end of stream and close", () => {
  it("the reader receives what is left after the writer closes, then ECLOSED, and iteration ends", async () => {
    const { tx, rx } = pair();
    for (let i = 0; i < 5; i++) tx.trySend(Buffer.from([i]));
    tx.close();
    const got: number[] = [];
    for await (const m of rx) got.push(m[0]!);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    await expect(rx.recv()).rejects.toMatchObject({ code: "ECLOSED" });
    expectCode(() => rx.recvSync(10), "ECLOSED");
    rx.close();
  });

  it("a reader sleeping in recv() is woken by the writer's close", async () => {
    const { tx, rx } = pair();
    const p = rx.recv();
    setTimeout(() => tx.close(), 50);
    await expect(p).rejects.toMatchObject({ code: "ECLOSED" });
    rx.close();
  });

  it("a writer waiting for space rejects with ECLOSED when the reader closes", async () => {
    const { tx, rx } = pair(4096);
    while (tx.trySend(Buffer.alloc(500)));
    const p = tx.send(Buffer.alloc(500));
    setTimeout(() => rx.close(), 50);
    await expect(p).rejects.toMatchObject({ code: "ECLOSED" });
    expect(tx.stats.writerWaits).toBe(1);
    expectCode(() => tx.trySend(Buffer.alloc(1)), "ECLOSED");
    tx.close();
  });

  it("queued sends complete in call order once the reader makes room", async () => {
    const { tx, rx } = pair(4096);
    try {
      let i = 0;
      while (tx.trySend(Buffer.from([i & 255, 0]))) i++;
      const first = i;
      const sends = [0, 1, 2, 3].map((k) => tx.send(Buffer.from([(first + k) & 255, 1])));
      expect(tx.trySend(Buffer.from([0]))).toBe(false); // may not overtake the queue
      const got: number[] = [];
      while (got.length < first + 4) {
        const m = rx.tryRecv();
        if (m) got.push(m[0]!);
        else await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(sends);
      expect(got).toEqual(Array.from({ length: first + 4 }, (_, k) => k & 255));
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("publishes its counters in the segment header", () => {
    const { tx, rx } = pair();
    try {
      tx.trySend(Buffer.alloc(10));
      tx.trySend(Buffer.alloc(20));
      rx.tryRecv();
      rx.tryRecv();
      rx.release();
      const v = new DataView(rx.segment.buffer);
      expect(v.getBigUint64(layout.OFFSETS.messages_written, true)).toBe(2n);
      expect(v.getBigUint64(layout.OFFSETS.bytes_written, true)).toBe(30n);
      expect(v.getBigUint64(layout.OFFSETS.messages_read, true)).toBe(2n);
      expect(v.getBigUint64(layout.OFFSETS.bytes_read, true)).toBe(30n);
    } finally {
      tx.close();
      rx.close();
    }
  });
});

describe("Channel in a worker thread", () => {
  it("recvSync in a worker receives messages and times out when there are none", async () => {
    const tx = Channel.create({ capacity: 4096 });
    const src = `
      const { workerData, parentPort } = require("node:worker_threads");
      const { Channel } = require(workerData.lib);
      const rx = Channel.attach(workerData.name);
      const got = [];
      for (let i = 0; i < 3; i++) got.push(Buffer.from(rx.recvSync(5000)).toString());
      const t0 = performance.now();
      const none = rx.recvSync(200);
      parentPort.postMessage({ got, none, waited: performance.now() - t0 });
      rx.close();`;
    const { resolve: r } = await import("node:path");
    const w = new Worker(src, { eval: true, workerData: { name: tx.name, lib: r(__dirname, "../../dist/lib/index.js") } });
    setTimeout(() => ["a", "b", "c"].forEach((s) => tx.trySend(Buffer.from(s))), 50);
    const msg = await new Promise<{ got: string[]; none: null; waited: number }>((res, rej) => {
      w.once("message", res);
      w.once("error", rej);
    });
    tx.close();
    expect(msg.got).toEqual(["a", "b", "c"]);
    expect(msg.none).toBe(null);
    expect(msg.waited).toBeGreaterThanOrEqual(190);
    expect(msg.waited).toBeLessThan(3000);
  });
});
