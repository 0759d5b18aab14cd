// The receive model: views valid until the next receive or release(),
// keep() for longer (bounded by maxKept, memory not reused meanwhile), an
// async iterator whose messages stay valid whatever pulls ahead of the
// user, and send() that never aliases the caller's buffer.
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, describe, expect, it } from "vitest";

import { Channel, randomName } from "../../dist/lib/index.js";
import { check, makePool } from "../../dist/test/fixtures/pattern.js";
import { channelPair, collect, expectCode, killStrays, spawnFixture, waitForLine } from "../helpers.js";

afterEach(killStrays);

const pair = (capacity = 4096, maxKept?: number): ReturnType<typeof channelPair> =>
  channelPair(capacity, maxKept === undefined ? undefined : { maxKept });

const text = (m: Uint8Array): string => Buffer.from(m).toString();

describe("keep()", () => {
  it("keeps a message valid across later receives, and the writer cannot reuse its memory until release()", () => {
    const { tx, rx, close } = pair(1024);
    try {
      expect(tx.trySend(Buffer.from("kept-message"))).toBe(true);
      const m = rx.tryRecv()!;
      const k = rx.keep();
      expect(text(k.data)).toBe("kept-message");
      // Stream far more than the ring holds past the kept message.
      let sent = 0;
      let received = 0;
      for (let round = 0; round < 100; round++) {
        while (tx.trySend(Buffer.alloc(40, round & 0xff))) sent++;
        while (rx.tryRecv() !== null) received++;
      }
      // The writer filled what the kept message left free, then stopped:
      // the kept frame's bytes were never overwritten.
      expect(text(m)).toBe("kept-message");
      expect(text(k.data)).toBe("kept-message");
      expect(received).toBe(sent);
      expect(tx.trySend(Buffer.alloc(40))).toBe(false); // the ring is full behind the kept message
      expect(rx.stats.kept).toBe(1);
      k.release();
      expect(k.released).toBe(true);
      expect(rx.stats.kept).toBe(0);
      expect(tx.trySend(Buffer.alloc(40))).toBe(true); // space came back
      k.release(); // safe twice
    } finally {
      close();
    }
  });

  it("keeps up to maxKept messages, released in any order; one more is EMAXKEPT", () => {
    const { tx, rx, close } = pair(4096, 3);
    try {
      for (let i = 0; i < 5; i++) tx.trySend(Buffer.from(`m${i}`));
      const kept = [];
      for (let i = 0; i < 3; i++) {
        rx.tryRecv();
        kept.push(rx.keep());
      }
      rx.tryRecv();
      expectCode(() => rx.keep(), "EMAXKEPT");
      expect(kept.map((k) => text(k.data))).toEqual(["m0", "m1", "m2"]);
      kept[1]!.release(); // out of order: the oldest still holds the ring
      expect(text(kept[0]!.data)).toBe("m0");
      kept[0]!.release();
      kept[2]!.release();
      expect(rx.stats.kept).toBe(0);
      expect(text(rx.tryRecv()!)).toBe("m4");
    } finally {
      close();
    }
  });

  it("is ERR_INVALID_STATE with no received message, after release(), or twice for one message", () => {
    const { tx, rx, close } = pair();
    try {
      expectCode(() => rx.keep(), "ERR_INVALID_STATE");
      tx.trySend(Buffer.from("a"));
      rx.tryRecv();
      rx.release();
      expectCode(() => rx.keep(), "ERR_INVALID_STATE");
      tx.trySend(Buffer.from("b"));
      rx.tryRecv();
      rx.keep();
      expectCode(() => rx.keep(), "ERR_INVALID_STATE");
    } finally {
      close();
    }
  });

  it("maxKept 0 disables keep(); a bad maxKept is a RangeError", () => {
    const tx = Channel.create({ capacity: 1024 });
    try {
      expectCode(() => Channel.attach(tx.name, { maxKept: -1 }), "ERR_OUT_OF_RANGE");
      const rx = Channel.attach(tx.name, { maxKept: 0 });
      tx.trySend(Buffer.from("x"));
      rx.tryRecv();
      expectCode(() => rx.keep(), "EMAXKEPT");
      rx.close();
    } finally {
      tx.close();
    }
  });

  it("kept messages read as empty after the reader closes, and releasing them then is harmless", () => {
    const { tx, rx, close } = pair();
    tx.trySend(Buffer.from("x"));
    rx.tryRecv();
    const k = rx.keep();
    close();
    expect(k.data.length).toBe(0);
    k.release();
  });
});

describe("the async iterator hands out data that stays valid", () => {
  it("1,000 messages collected from for await into an array are all intact afterwards", async () => {
    const { tx, rx, close } = pair(4096);
    try {
      const sending = (async () => {
        for (let i = 0; i < 1000; i++) await tx.send(Buffer.from(`message-${i}-${"x".repeat(i % 50)}`));
        tx.close();
      })();
      const all: Uint8Array[] = [];
      for await (const m of rx) all.push(m);
      await sending;
      expect(all.length).toBe(1000);
      all.forEach((m, i) => expect(text(m)).toBe(`message-${i}-${"x".repeat(i % 50)}`));
    } finally {
      close();
    }
  });

  it("{ copy: false } yields zero-copy views into the ring", async () => {
    const { tx, rx, close } = pair(4096);
    try {
      tx.trySend(Buffer.from("view"));
      tx.close();
      for await (const m of rx.messages({ copy: false })) {
        expect(text(m)).toBe("view");
        expect(m.buffer).toBe(rx.segment.buffer);
      }
    } finally {
      close();
    }
  });

  it("Readable.from(rx) piped into a slow Writable delivers 20,000 messages from another process intact and in order", async () => {
    const name = randomName();
    const COUNT = 20_000;
    const child = spawnFixture("channel-peer", ["pattern-write", name, "16384", String(COUNT)]);
    const done = collect(child, 120_000);
    await waitForLine(child, /^ready/);
    const rx = Channel.attach(name);
    const pool = makePool();
    let i = 0;
    const errors: string[] = [];
    // Slow: every 16th chunk takes 3 ms, so Readable.from pulls well ahead of
    // the writable (its buffer fills up) while the writer keeps the ring busy.
    const slow = new Writable({
      objectMode: true,
      highWaterMark: 4,
      write(chunk: Uint8Array, _enc, cb) {
        const err = check(chunk, i, rx.maxMessageSize, pool);
        if (err !== null && errors.length < 5) errors.push(err);
        i++;
        if (i % 16 === 0) setTimeout(cb, 3);
        else setImmediate(cb);
      },
    });
    try {
      await pipeline(Readable.from(rx), slow);
      const r = await done;
      expect(r.stderr).toBe("");
      expect(errors).toEqual([]);
      expect(i).toBe(COUNT);
    } finally {
      rx.close();
    }
  }, 150_000);
});

describe("send() never aliases the caller's buffer", () => {
  it("a buffer refilled after each queued send() arrives with the bytes it had at each call", async () => {
    const { tx, rx, close } = pair(1024);
    try {
      while (tx.trySend(Buffer.alloc(100, 0xee))); // full
      const buf = Buffer.alloc(100);
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 8; i++) {
        buf.fill(i);
        sends.push(tx.send(buf));
      }
      buf.fill(0xff);
      const got: number[] = [];
      while (got.length < 8) {
        const m = rx.tryRecv() ?? (await rx.recv());
        if (m[0] !== 0xee) {
          expect(m.every((b) => b === m[0])).toBe(true);
          got.push(m[0]!);
        }
      }
      await Promise.all(sends);
      expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      close();
    }
  });

  it("every message of a process that reuses one scratch buffer arrives intact (seq-read in another process)", async () => {
    const name = randomName();
    const child = spawnFixture("channel-peer", ["seq-read", name]);
    const done = collect(child, 60_000);
    const tx = Channel.create({ name, capacity: 4096 });
    try {
      await waitForLine(child, /^ready/);
      const { fill, lengthOf } = await import("../../dist/test/fixtures/pattern.js");
      const pool = makePool();
      const scratch = new Uint8Array(tx.maxMessageSize);
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 5000; i++) {
        const m = scratch.subarray(0, lengthOf(i, tx.maxMessageSize));
        fill(m, i, pool);
        sends.push(tx.send(m)); // not awaited: most of these queue
      }
      await Promise.all(sends);
      tx.close();
      const r = await done;
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout.trim().split("\n").pop()!)).toEqual({ messages: 5000 });
    } finally {
      tx.close();
    }
  }, 90_000);
});
