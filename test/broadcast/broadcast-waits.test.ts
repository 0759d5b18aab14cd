// Every wait of the broadcast ring has a way out (timeout, abort, close,
// the other side's death), and bad arguments are clear errors.
import { afterEach, describe, expect, it } from "vitest";

import { Broadcast, type BroadcastReader } from "../../dist/lib/index.js";
import { bodyOf, topicOf } from "../../dist/test/fixtures/broadcast-pattern.js";
import { killStrays, spawnFixture, waitForLine } from "../helpers.js";

afterEach(() => killStrays());

const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(7);

describe("broadcast waits", () => {
  it("recv: timeout, abort, close while waiting, recvSync timeout", async () => {
    const w = Broadcast.create({ capacity: 4096 });
    const r = Broadcast.attach(w.name);
    try {
      await expect(r.recv({ timeout: 30 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
      const ac = new AbortController();
      const p = r.recv({ signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      await expect(p).rejects.toMatchObject({ name: "AbortError", code: "ABORT_ERR" });
      await expect(r.recv({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "ABORT_ERR" });
      expect(() => r.recvSync(20)).toThrow(expect.objectContaining({ code: "ETIMEDOUT" }));
      expect(r.tryRecv()).toBeNull();
      const pending = r.recv();
      setTimeout(() => r.close(), 20);
      await expect(pending).rejects.toMatchObject({ code: "ECLOSED" });
      await expect(r.recv()).rejects.toMatchObject({ code: "ECLOSED" });
    } finally {
      r.close();
      w.close();
    }
  });

  it("the iterator: return() ends a pending step at once without taking a message; an abort rejects it, then it is done", async () => {
    const w = Broadcast.create({ capacity: 4096 });
    const r = Broadcast.attach(w.name);
    try {
      const it = r.messages();
      const step = it.next();
      await new Promise((res) => setTimeout(res, 20));
      await it.return!();
      await expect(step).resolves.toEqual({ done: true, value: undefined });
      await w.send("t", bytes(5));
      expect((await r.recv({ timeout: 5000 })).data.length).toBe(5); // not taken by the ended iterator
      const ac = new AbortController();
      const it2 = r.messages({ signal: ac.signal });
      const step2 = it2.next();
      ac.abort();
      await expect(step2).rejects.toMatchObject({ code: "ABORT_ERR" }); // as a channel's iterator
      await expect(it2.next()).resolves.toEqual({ done: true, value: undefined });
      await expect(r.messages({ timeout: 20 }).next()).rejects.toMatchObject({ code: "ETIMEDOUT" });
    } finally {
      r.close();
      w.close();
    }
  });

  it("a subscriber that takes the slot another just left is woken by the next publish, not by its 100 ms re-check", async () => {
    const w = Broadcast.create({ capacity: 1 << 16 });
    try {
      const a = Broadcast.attach(w.name);
      w.trySend("t", bytes(8));
      w.flushHeld(); // the writer maps a's cursor segment (slot 0)
      a.tryRecv();
      a.close();
      let fastest = Infinity;
      for (let i = 0; i < 3; i++) {
        const b = Broadcast.attach(w.name);
        expect(b.slot).toBe(0); // the departed one's slot
        try {
          const p = b.recv({ timeout: 10_000 });
          await new Promise((r) => setImmediate(r)); // b sleeps on its own line
          const t0 = performance.now();
          w.trySend("t", bytes(8));
          w.flushHeld();
          await p;
          fastest = Math.min(fastest, performance.now() - t0);
        } finally {
          b.close();
        }
      }
      // Woken by its re-check only, each wait lasts ~100 ms; a wake takes well under 50 ms
      // even on a loaded machine (the fastest of three is taken: not a timing race).
      expect(fastest).toBeLessThan(50);
    } finally {
      w.close();
    }
  });

  it("several receives pending at once each get their own message, in order", async () => {
    const w = Broadcast.create({ capacity: 4096 });
    const r = Broadcast.attach(w.name);
    try {
      const pending = [r.recv({ timeout: 5000 }), r.recv({ timeout: 5000 }), r.recv({ timeout: 5000 })];
      await new Promise((res) => setTimeout(res, 20));
      for (let k = 0; k < 3; k++) await w.send("t", bytes(k + 1));
      expect((await Promise.all(pending)).map((m) => m.data.length)).toEqual([1, 2, 3]);
    } finally {
      r.close();
      w.close();
    }
  });

  it("send()s not awaited keep call order: a later one (send, trySend, sendSync) never overtakes one waiting for room", async () => {
    const w = Broadcast.create({ capacity: 4096, policy: "block" });
    const r = Broadcast.attach(w.name);
    const msg = (k: number): Uint8Array => new Uint8Array(200).fill(k);
    try {
      let k = 0;
      while (w.trySend("t", msg(k))) k++;
      w.flushHeld();
      const ac = new AbortController();
      const aborted = w.send("t", msg(250), { signal: ac.signal }); // first in line, then gone
      const pA = w.send("t", msg(k++)); // waits: the ring is full
      ac.abort(); // the head leaves the line while there is no room: pA is next
      await expect(aborted).rejects.toMatchObject({ code: "ABORT_ERR" });
      const got: number[] = [];
      for (let i = 0; i < 6; i++) got.push(r.tryRecv()!.data[0]!); // one batch: room for small frames, not yet a quarter
      expect(w.trySend("t", msg(251))).toBe(false); // there is room, but send()s wait
      expect(() => w.sendSync("t", msg(252), 10)).toThrow(expect.objectContaining({ code: "EBUSY" }));
      const pB = w.send("t", msg(k++));
      const drain = (): void => {
        for (let m; (m = r.tryRecv()) !== null; ) got.push(m.data[0]!);
      };
      const t = setInterval(drain, 5);
      await Promise.all([pA, pB]);
      clearInterval(t);
      w.flushHeld();
      drain();
      expect(got).toEqual([...Array(k).keys()]); // every message once, in call order; none of 250..252
    } finally {
      r.close();
      w.close();
    }
  });

  it("a send() that waits for room never aliases the caller's buffer (bytes or topic): the caller may reuse them at once", async () => {
    const w = Broadcast.create({ capacity: 4096, policy: "block" });
    const r = Broadcast.attach(w.name);
    try {
      let k = 0;
      while (w.trySend("t", new Uint8Array(200).fill(k))) k++;
      w.flushHeld();
      const buf = new Uint8Array(200).fill(77);
      const topic = new TextEncoder().encode("keep");
      const waiting = w.send(topic, buf); // no room: it waits
      buf.fill(0); // the caller reuses both at once, as after a socket's write()
      topic.fill(0x78);
      const got: { topic: string; first: number; last: number }[] = [];
      const drain = (): void => {
        for (let m; (m = r.tryRecv()) !== null; ) got.push({ topic: m.topic, first: m.data[0]!, last: m.data[199]! });
      };
      const t = setInterval(drain, 5);
      await waiting;
      clearInterval(t);
      w.flushHeld();
      drain();
      expect(got).toHaveLength(k + 1);
      expect(got[k]).toEqual({ topic: "keep", first: 77, last: 77 });
    } finally {
      r.close();
      w.close();
    }
  });

  it("send()s waiting together for room each count their PAD where they are written (block: nothing overwritten unread)", async () => {
    // 40 layouts of large frames queued behind a reader that frees one batch per ms: a
    // send that counted the room its frame needed at call time (no PAD then, one now)
    // overwrote unread frames in some of them (the reader saw a lap under block).
    for (let trial = 0; trial < 40; trial++) {
      const w = Broadcast.create({ capacity: 4096, policy: "block", blockTimeout: 60_000 });
      const r = Broadcast.attach(w.name);
      const size = (k: number): number => 1007 - ((k * 40 + trial * 8) % 700);
      try {
        w.trySend("t", new Uint8Array(8 * (trial % 50)));
        let k = 0;
        while (w.trySend("t", new Uint8Array(size(k)).fill(k))) k++;
        w.flushHeld();
        const pending: Promise<void>[] = [];
        for (let i = 0; i < 8; i++, k++) pending.push(w.send("t", new Uint8Array(size(k)).fill(k), { timeout: 20_000 }));
        let done = false;
        void Promise.all(pending).then(() => (done = true));
        while (!done) {
          r.tryRecv();
          await new Promise((res) => setTimeout(res, 1));
        }
        w.flushHeld();
        while (r.tryRecv() !== null);
        expect([trial, r.stats.laps, r.missed]).toEqual([trial, 0, 0]);
      } finally {
        r.close();
        w.close();
      }
    }
  });

  it("block: a paused subscriber is evicted only while a send waits on it, not after a send timed out or a trySend gave up", async () => {
    for (const how of ["trySend", "send timeout", "trySend polling"]) {
      const w = Broadcast.create({ capacity: 4096, policy: "block", blockTimeout: 200 });
      const r = Broadcast.attach(w.name);
      try {
        while (w.trySend("t", bytes(100)));
        w.flushHeld();
        if (how === "trySend") expect(w.trySend("t", bytes(100))).toBe(false);
        else if (how === "send timeout") await expect(w.send("t", bytes(100), { timeout: 20 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
        else {
          // A writer that polls trySend() does wait: the subscriber is evicted after blockTimeout.
          const t0 = performance.now();
          while (!w.trySend("t", bytes(100))) {
            expect(performance.now() - t0).toBeLessThan(20_000);
            await new Promise((res) => setTimeout(res, 20));
          }
          expect(w.subscribers[0]!.state).toBe("evicted");
          continue;
        }
        // Nothing waits now: the writer's 100 ms scans (several run in 600 ms) must not evict.
        await new Promise((res) => setTimeout(res, 600));
        expect([how, w.subscribers[0]!.state]).toEqual([how, "active"]);
        expect(r.tryRecv()).not.toBeNull();
      } finally {
        r.close();
        w.close();
      }
    }
  });

  it("send under block: timeout, abort, writer close while held; sendSync timeout", async () => {
    const w = Broadcast.create({ capacity: 4096, blockTimeout: 60_000 });
    const r = Broadcast.attach(w.name); // never reads: holds the writer
    try {
      while (w.trySend("t", bytes(200)));
      await expect(w.send("t", bytes(200), { timeout: 30 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
      const ac = new AbortController();
      const p = w.send("t", bytes(200), { signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      await expect(p).rejects.toMatchObject({ code: "ABORT_ERR" });
      expect(() => w.sendSync("t", bytes(200), 20)).toThrow(expect.objectContaining({ code: "ETIMEDOUT" }));
      const held = w.send("t", bytes(200));
      setTimeout(() => w.close(), 20);
      await expect(held).rejects.toMatchObject({ code: "ECLOSED" });
      await expect(w.send("t", bytes(1))).rejects.toMatchObject({ code: "ECLOSED" });
    } finally {
      r.close();
      w.close();
    }
  });

  it("a reader drains what was sent before the writer closed, then its iteration ends", async () => {
    const w = Broadcast.create({ capacity: 1 << 16 });
    const r = Broadcast.attach(w.name, { topics: ["tot.a"] });
    try {
      for (let k = 0; k < 100; k++) await w.send(topicOf(k), bodyOf(k));
      w.close();
      const seen: number[] = [];
      for await (const m of r) seen.push(m.seq);
      expect(seen).toEqual([...Array(100).keys()].filter((k) => topicOf(k).startsWith("tot.a")));
      await expect(r.recv()).rejects.toMatchObject({ code: "ECLOSED" });
      expect(() => Broadcast.attach(w.name)).toThrow(expect.objectContaining({ code: "ENOENT" }));
    } finally {
      r.close();
    }
  });

  it("a reader whose writer was killed gets what it sent, then EPEERDEAD", async () => {
    const child = spawnFixture("broadcast-writer", ["50", "1"]);
    const name = (await waitForLine(child, /^ring (\S+)$/m, 20_000)).trim().split(" ")[1]!;
    let r: BroadcastReader | null = null;
    try {
      r = Broadcast.attach(name);
      await waitForLine(child, /^sent$/m, 20_000);
      child.kill("SIGKILL");
      let got = 0;
      const err = await (async () => {
        try {
          for (;;) {
            await r!.recv({ timeout: 10_000 });
            got++;
          }
        } catch (e) {
          return e as { code: string };
        }
      })();
      expect(got).toBe(50);
      expect(err.code).toBe("EPEERDEAD");
    } finally {
      r?.close();
    }
  });

  it("bad arguments are clear errors", () => {
    expect(() => Broadcast.create({ capacity: 5000 })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" }));
    expect(() => Broadcast.create({ capacity: 1024 })).toThrow(expect.objectContaining({ code: "ERR_OUT_OF_RANGE" }));
    expect(() => Broadcast.create({ policy: "later" as "drop" })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" }));
    expect(() => Broadcast.create({ maxSubscribers: 0 })).toThrow(expect.objectContaining({ code: "ERR_OUT_OF_RANGE" }));
    const w = Broadcast.create({ capacity: 4096, maxSubscribers: 1 });
    try {
      expect(() => w.trySend("t", "text" as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_TYPE" }));
      expect(() => w.trySend(5 as unknown as string, bytes(1))).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_TYPE" }));
      expect(() => w.trySend("t", bytes(1024))).toThrow(expect.objectContaining({ code: "ERR_OUT_OF_RANGE" }));
      expect(() => Broadcast.attach(w.name, { topics: "tot" as unknown as string[] })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_TYPE" }));
      for (const spin of [-5, NaN, "x"]) expect(() => Broadcast.attach(w.name, { spin: spin as number }), String(spin)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_/) }));
      const r = Broadcast.attach(w.name);
      try {
        expect(() => Broadcast.attach(w.name)).toThrow(expect.objectContaining({ code: "EBUSY" }));
      } finally {
        r.close();
      }
      // The slot is free again once its subscriber closed.
      Broadcast.attach(w.name).close();
    } finally {
      w.close();
    }
  });
});
