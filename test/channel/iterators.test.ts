// Every layer's async iterator (one receiveIterator, lib/channel/iterate.ts) hands out data that stays valid (issue 8's
// receive rule): collected into an array, pulled ahead by Readable.from,
// awaited between messages. Loans included: a writer's send() turns any
// buffer over maxMessageSize into a loan, so a reader cannot tell, and a
// loan handed out in place would read as empty once the iterator moved on.
// `{ copy: false }` is the zero-copy path: in place, valid until the next
// step. And the subscriber's iterator has the way out every wait has.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { Broadcast, Channel, connect, hub, join, listen, publish, subscribe } from "../../dist/lib/index.js";
import { checkPattern } from "../../dist/test/fixtures/loan-pattern.js";
import { channelPair, collect, firstPeer, killStrays, spawnFixture, waitForLine } from "../helpers.js";

const dir = mkdtempSync(path.join(tmpdir(), "smsh-iter-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killStrays);

let n = 0;
const endpoint = (): string => (process.platform === "win32" ? "tcp://127.0.0.1:0" : `ipc://${path.join(dir, `i${n++}.sock`)}`);

/** `count` buffers of `size` bytes, buffer i filled with i + 1. */
const big = (count: number, size: number): Buffer[] => Array.from({ length: count }, (_, i) => Buffer.alloc(size, i + 1));

/** Each collected message still has its size and its fill byte. */
function expectIntact(got: Uint8Array[], sent: Buffer[]): void {
  expect(got.map((m) => m.byteLength)).toEqual(sent.map((b) => b.byteLength));
  got.forEach((m, i) => expect(Buffer.compare(Buffer.from(m), sent[i]!)).toBe(0));
}

describe("channel: large plain sends (loans underneath)", () => {
  it("collected from for await into an array are all intact afterwards", async () => {
    const { tx, rx, close } = channelPair(4096); // maxMessageSize 1016: 3,000 bytes go as loans
    try {
      const sent = big(20, 3000);
      const sending = (async () => {
        for (const b of sent) await tx.send(b, { timeout: 10_000 });
        expect(tx.poolStats.loansSent).toBe(20); // they did go as loans
        tx.close();
      })();
      const got: Uint8Array[] = [];
      for await (const m of rx) got.push(m);
      await sending;
      expectIntact(got, sent);
    } finally {
      close();
    }
  });

  it("{ copy: false } hands a loan out in place, valid until the next step, which gives it back", async () => {
    const { tx, rx, close } = channelPair(4096);
    try {
      await tx.send(Buffer.alloc(3000, 7));
      await tx.send(Buffer.alloc(3000, 8));
      tx.close();
      const seen: Uint8Array[] = [];
      for await (const m of rx.messages({ copy: false })) {
        expect(m.byteLength).toBe(3000); // valid during its step
        expect(m[0]).toBe(7 + seen.length);
        seen.push(m);
      }
      expect(seen[0]!.byteLength).toBe(0); // given back: reads as empty, never as other data
    } finally {
      close();
    }
  });
});

describe("channel: loans from another process through Readable.from", () => {
  it("piped into a slow Writable, every loan arrives intact and in order (no crash on a detached buffer)", async () => {
    const COUNT = 200;
    const SIZE = 40_000;
    const child = spawnFixture("loan-peer", ["loaner", String(SIZE), String(COUNT)]);
    const done = collect(child, 60_000);
    const name = (await waitForLine(child, /^name /)).slice(5);
    const rx = Channel.attach(name);
    let i = 0;
    const bad: string[] = [];
    // Slow: Readable.from pulls ahead of the writable (each chunk waits a tick,
    // every 8th 2 ms) while the other process keeps sending.
    const slow = new Writable({
      objectMode: true,
      highWaterMark: 4,
      write(chunk: Uint8Array, _enc, cb) {
        if (chunk.byteLength !== SIZE || !checkPattern(chunk, i)) if (bad.length < 5) bad.push(`message ${i}: ${chunk.byteLength} bytes`);
        if (++i === COUNT) rx.close(); // the loaner never closes: end the stream here
        if (i % 8 === 0) setTimeout(cb, 2);
        else setImmediate(cb);
      },
    });
    try {
      await pipeline(Readable.from(rx), slow);
      expect(bad).toEqual([]);
      expect(i).toBe(COUNT);
    } finally {
      rx.close();
      child.kill();
      await done;
    }
  }, 90_000);
});

describe("peer over shared memory", () => {
  it("large plain sends collected from for await are intact", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "server", capacity: 16 * 1024 });
    const [cp, sp] = await Promise.all([connect(server.endpoint, { name: "client" }), firstPeer(server)]);
    try {
      expect(cp.transport).toBe("shm");
      const sent = big(10, 40_000); // over maxMessageSize of a 16 KiB ring: loans
      // Both ways: the connecting side reads its ring itself, the listening side through the server.
      for (const [from, to] of [[sp, cp], [cp, sp]] as const) {
        for (const b of sent) await from.send(b, { timeout: 10_000 });
        const got: Uint8Array[] = [];
        const it = to.messages({ timeout: 10_000 });
        for (let i = 0; i < sent.length; i++) got.push((await it.next()).value as Uint8Array);
        await it.return?.();
        expectIntact(got, sent);
      }
    } finally {
      await cp.close();
      await sp.close();
      await server.close();
    }
  }, 30_000);
});

describe("agents on a direct shared-memory pair", () => {
  it("large plain sends collected from for await are intact", async () => {
    const h = await hub(endpoint(), { statsIntervalMs: 600_000 });
    const a = await join(h.endpoint, { name: "a" });
    const b = await join(h.endpoint, { name: "b" });
    try {
      await a.waitFor("b", { timeout: 10_000 });
      const sent = big(5, 1 << 20);
      for (const m of sent) await a.send("b", m);
      expect(a.transport("b")).toBe("shm");
      const got: Uint8Array[] = [];
      for await (const { data } of b.messages({ timeout: 10_000 })) {
        got.push(data);
        if (got.length === sent.length) break;
      }
      expectIntact(got, sent);
    } finally {
      await a.close();
      await b.close();
      await h.close();
    }
  }, 30_000);
});

describe("broadcast ring: loans through the iterator", () => {
  it("100 loans collected without release() are intact, and the writer gets its slabs back at once", async () => {
    const w = Broadcast.create({ capacity: 1 << 16 });
    const r = Broadcast.attach(w.name);
    try {
      for (let i = 0; i < 100; i++) {
        const loan = await w.loan(5000, { timeout: 10_000 });
        loan.data.fill(i + 1);
        await w.send("t", loan, { timeout: 10_000 });
        if (i % 10 === 9) {
          // Read as we go: held loans would keep the writer's slabs.
          const got: Uint8Array[] = [];
          for await (const m of r.messages({ timeout: 10_000 })) {
            expect(m.loan).toBe(false); // a copy: safe to keep
            got.push(m.data);
            if (got.length === 10) break;
          }
          got.forEach((d, k) => expect(d.every((x) => x === i - 8 + k)).toBe(true));
        }
      }
      // Before the fix the 65th unreleased loan was EMAXKEPT.
      expect(r.stats.messages).toBe(100);
    } finally {
      r.close();
      w.close();
    }
  }, 30_000);

  it("{ copy: false } hands loans out in place and releases each at the next step", async () => {
    const w = Broadcast.create({ capacity: 1 << 16 });
    const r = Broadcast.attach(w.name);
    try {
      for (let i = 0; i < 100; i++) {
        const loan = await w.loan(5000, { timeout: 10_000 });
        loan.data.fill(9);
        await w.send("t", loan, { timeout: 10_000 });
        const it = r.messages({ copy: false, timeout: 10_000 });
        const m = (await it.next()).value!;
        expect(m.loan).toBe(true);
        expect(m.data.byteLength).toBe(5000);
        await it.return?.(); // the end of the step: released
        expect(m.data.byteLength).toBe(0);
      }
    } finally {
      r.close();
      w.close();
    }
  }, 30_000);
});

describe("one step at a time", () => {
  it("two next() in flight (copy: false, broadcast loans) get consecutive messages, and each loan is given back (200 rounds: no EMAXKEPT)", async () => {
    const w = Broadcast.create({ capacity: 1 << 20 });
    const r = Broadcast.attach(w.name);
    try {
      for (let i = 0; i < 200; i++) {
        const it = r.messages({ copy: false, timeout: 10_000 });
        const first = it.next();
        const second = it.next(); // before the first has settled: it waits for it
        for (const v of [2 * i, 2 * i + 1]) {
          const loan = await w.loan(1000, { timeout: 10_000 });
          loan.data.fill(v & 0xff);
          await w.send("t", loan, { timeout: 10_000 });
        }
        const [a, b] = [(await first).value!, (await second).value!];
        // The first's step ended when the second began (copy: false: valid until the next step): given back.
        expect([a.seq + 1, a.data.byteLength, b.data[0]]).toEqual([b.seq, 0, (2 * i + 1) & 0xff]);
        await it.return?.();
        expect([a.data.byteLength, b.data.byteLength]).toEqual([0, 0]); // both released
      }
    } finally {
      r.close();
      w.close();
    }
  }, 60_000);
});

describe("publish/subscribe: the subscriber's iterator", () => {
  it("takes { timeout } and { signal }, and return() ends a pending wait at once, taking no message", async () => {
    const ep = endpoint();
    const pub = await publish(ep);
    const sub = await subscribe(pub.endpoint, { topics: ["t"] });
    try {
      await expect(sub[Symbol.asyncIterator]({ timeout: 50 }).next()).rejects.toMatchObject({ code: "ETIMEDOUT" });
      const ac = new AbortController();
      const aborted = sub[Symbol.asyncIterator]({ signal: ac.signal }).next();
      setTimeout(() => ac.abort(), 20);
      await expect(aborted).rejects.toMatchObject({ name: "AbortError", code: "ABORT_ERR" });
      // A quiet publisher: return() while next() is pending ends it now (a generator's would wait for a message).
      const it = sub[Symbol.asyncIterator]();
      const pending = it.next();
      const t0 = performance.now();
      await it.return?.();
      expect(await pending).toEqual({ done: true, value: undefined });
      expect(performance.now() - t0).toBeLessThan(5_000); // generous for a loaded machine; the defect never returns
      // Nothing was taken by the abandoned waits: the next message goes to the next receive.
      await pub.send("t", Buffer.from("after"));
      expect(Buffer.from((await sub.recv({ timeout: 10_000 })).data).toString()).toBe("after");
    } finally {
      await sub.close();
      await pub.close();
    }
  }, 30_000);

  it("loans published to a local subscriber and collected from for await are intact", async () => {
    const pub = await publish(endpoint());
    const sub = await subscribe(pub.endpoint, { topics: ["t"] });
    try {
      expect(sub.transport).toBe("shm");
      for (let i = 0; i < 10; i++) {
        const loan = await pub.loan(100_000);
        loan.data.fill(i + 1);
        await pub.send("t", loan);
      }
      const got: Uint8Array[] = [];
      for await (const m of sub[Symbol.asyncIterator]({ timeout: 10_000 })) {
        got.push(m.data);
        if (got.length === 10) break;
      }
      got.forEach((d, i) => expect(d.byteLength === 100_000 && d.every((x) => x === i + 1)).toBe(true));
    } finally {
      await sub.close();
      await pub.close();
    }
  }, 30_000);
});
