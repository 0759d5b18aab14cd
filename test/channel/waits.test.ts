// Every wait has a way out: timeout (ETIMEDOUT), AbortSignal (AbortError,
// code ABORT_ERR), close (ECLOSED); an aborted or timed-out wait takes or
// sends nothing; several waits on one end share wake-ups instead of
// stealing them; spinning never starves the event loop.
import type { ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";

import { Channel, randomName } from "../../dist/lib/index.js";
import { check, fill, lengthOf, makePool } from "../../dist/test/fixtures/pattern.js";
import { channelPair, collect, fillRing, killStrays, sleep, spawnFixture, waitForLine, LINUX_ONLY } from "../helpers.js";

afterEach(killStrays);

const pair = channelPair;

/** The rejection of `p`, as { code, name }; fails if p resolves. */
async function rejection(p: Promise<unknown>): Promise<{ code?: string; name: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { code?: string }).code, name: (e as Error).name };
  }
  throw new Error("expected a rejection");
}


describe("timeouts and AbortSignal in one process", () => {
  it("recv({ timeout }) rejects ETIMEDOUT and takes no message: the next receive gets it", async () => {
    const { tx, rx, close } = pair();
    try {
      expect(await rejection(rx.recv({ timeout: 20 }))).toMatchObject({ code: "ETIMEDOUT" });
      tx.trySend(Buffer.from("after"));
      expect(Buffer.from(await rx.recv({ timeout: 1000 })).toString()).toBe("after");
    } finally {
      close();
    }
  });

  it("recv({ signal }) rejects with an AbortError when aborted, and the next recv() works (no EBUSY)", async () => {
    const { tx, rx, close } = pair();
    try {
      const ac = new AbortController();
      const p = rx.recv({ signal: ac.signal });
      setTimeout(() => ac.abort(), 10);
      expect(await rejection(p)).toEqual({ code: "ABORT_ERR", name: "AbortError" });
      const next = rx.recv();
      tx.trySend(Buffer.from("m"));
      expect(Buffer.from(await next).toString()).toBe("m");
    } finally {
      close();
    }
  });

  it("an already aborted signal rejects at once and leaves the waiting message for the next receive", async () => {
    const { tx, rx, close } = pair();
    try {
      tx.trySend(Buffer.from("stays"));
      const ac = new AbortController();
      ac.abort(new Error("why"));
      const e = await rx.recv({ signal: ac.signal }).catch((err: Error) => err);
      expect((e as { code?: string }).code).toBe("ABORT_ERR");
      expect(((e as Error).cause as Error).message).toBe("why");
      expect(Buffer.from(rx.tryRecv()!).toString()).toBe("stays");
    } finally {
      close();
    }
  });

  it("send({ timeout }) on a full ring rejects ETIMEDOUT and sends nothing; queued sends behind it go on in order", async () => {
    const { tx, rx, close } = pair();
    try {
      fillRing(tx);
      const a = tx.send(Buffer.from("A"), { timeout: 30 });
      const b = tx.send(Buffer.from("B"));
      expect(await rejection(a)).toMatchObject({ code: "ETIMEDOUT" });
      const got: string[] = [];
      while (got.length < 1) {
        const m = await rx.recv({ timeout: 5000 });
        if (m[0] !== 1) got.push(Buffer.from(m).toString());
      }
      await b;
      expect(rx.tryRecv()).toBe(null);
      expect(got).toEqual(["B"]);
    } finally {
      close();
    }
  });

  it("aborting a send() queued behind others removes only it; the rest arrive in order", async () => {
    const { tx, rx, close } = pair();
    try {
      fillRing(tx);
      const ac = new AbortController();
      const sends = [tx.send(Buffer.from("1")), tx.send(Buffer.from("2"), { signal: ac.signal }), tx.send(Buffer.from("3"))];
      ac.abort();
      expect(await rejection(sends[1]!)).toMatchObject({ code: "ABORT_ERR" });
      const got: string[] = [];
      while (got.length < 2) {
        const m = await rx.recv({ timeout: 5000 });
        if (m[0] !== 1) got.push(Buffer.from(m).toString());
      }
      await Promise.all([sends[0], sends[2]]);
      expect(got).toEqual(["1", "3"]);
    } finally {
      close();
    }
  });

  it("writable(n, { timeout, signal }) rejects ETIMEDOUT / AbortError on a full ring", async () => {
    const { tx, close } = pair();
    try {
      fillRing(tx);
      expect(await rejection(tx.writable(64, { timeout: 20 }))).toMatchObject({ code: "ETIMEDOUT" });
      const ac = new AbortController();
      const p = tx.writable(64, { signal: ac.signal });
      setTimeout(() => ac.abort(), 10);
      expect(await rejection(p)).toMatchObject({ code: "ABORT_ERR", name: "AbortError" });
    } finally {
      close();
    }
  });

  it("the iterator ends with an AbortError when its signal aborts, and with ETIMEDOUT after an idle timeout", async () => {
    const { rx, close } = pair();
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 10);
      const iterate = async (opts: object): Promise<unknown> => {
        for await (const m of rx.messages(opts)) void m;
      };
      expect(await rejection(iterate({ signal: ac.signal }))).toMatchObject({ code: "ABORT_ERR" });
      expect(await rejection(iterate({ timeout: 20 }))).toMatchObject({ code: "ETIMEDOUT" });
      const it2 = rx[Symbol.asyncIterator]({ timeout: 5 });
      expect(await rejection(it2.next())).toMatchObject({ code: "ETIMEDOUT" });
    } finally {
      close();
    }
  });

  it("bad wait options are TypeError/RangeError with codes", async () => {
    const { tx, rx, close } = pair();
    try {
      expect(await rejection(rx.recv({ timeout: "50" as unknown as number }))).toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
      expect(await rejection(rx.recv({ timeout: Number.NaN }))).toMatchObject({ code: "ERR_OUT_OF_RANGE" });
      expect(await rejection(rx.recv({ timeout: -1 }))).toMatchObject({ code: "ERR_OUT_OF_RANGE" });
      expect(await rejection(rx.recv({ signal: {} as AbortSignal }))).toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
      expect(await rejection(tx.send(Buffer.from("x"), null as unknown as object))).toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
      expect(await rejection(tx.writable(1, { timeout: "1" as unknown as number }))).toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
    } finally {
      close();
    }
  });

  it("commit(null) and sending a detached buffer are TypeErrors with codes", () => {
    const { tx, close } = pair();
    try {
      expect(() => tx.commit(null as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_TYPE" }));
      const ab = new ArrayBuffer(8);
      const view = new Uint8Array(ab);
      structuredClone(ab, { transfer: [ab] }); // detaches ab
      expect(() => tx.trySend(view)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" }));
      expect(() => tx.sendSync(ab, 0)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" }));
    } finally {
      close();
    }
  });
});

describe("close() and concurrent waits", () => {
  it("close() while send(), writable() and recv() are pending rejects each with ECLOSED", async () => {
    const a = pair();
    fillRing(a.tx);
    const send = a.tx.send(Buffer.alloc(64));
    const writable = a.tx.writable(64);
    await sleep(5);
    a.tx.close();
    expect(await rejection(send)).toMatchObject({ code: "ECLOSED" });
    expect(await rejection(writable)).toMatchObject({ code: "ECLOSED" });
    a.rx.close();

    const b = pair();
    const recv = b.rx.recv();
    await sleep(5);
    b.rx.close();
    expect(await rejection(recv)).toMatchObject({ code: "ECLOSED" });
    b.tx.close();
  });

  it("writable() and send() waiting on one writer both wake when space is freed (no stolen wake-up)", async () => {
    const { tx, rx, close } = pair();
    try {
      fillRing(tx);
      const t: Record<string, number> = {};
      const w = tx.writable(64).then(() => (t.writable = performance.now()));
      const s = tx.send(Buffer.alloc(64, 2)).then(() => (t.send = performance.now()));
      await sleep(20); // both asleep
      const freed = performance.now();
      while (rx.tryRecv() !== null);
      rx.release();
      await Promise.all([w, s]);
      // A stolen wake-up used to leave one waiter until its 1 s re-check
      // timer; 500 ms leaves room for a loaded machine and still tells.
      expect(t.send! - freed).toBeLessThan(500);
      expect(t.writable! - freed).toBeLessThan(500);
    } finally {
      close();
    }
  });

  it("sendSync() while an async wait is pending on the writer is EBUSY at the call; recvSync() while recv() is pending too", async () => {
    const { tx, rx, close } = pair();
    try {
      fillRing(tx);
      const w = tx.writable(64, { timeout: 2000 });
      expect(() => tx.sendSync(Buffer.alloc(1), 0)).toThrow(expect.objectContaining({ code: "EBUSY" }));
      while (rx.tryRecv() !== null);
      rx.release();
      await w;
      const r = rx.recv({ timeout: 2000 });
      expect(() => rx.recvSync(0)).toThrow(expect.objectContaining({ code: "EBUSY" }));
      expect(await rejection(rx.recv())).toMatchObject({ code: "EBUSY" });
      tx.trySend(Buffer.from("z"));
      await r;
    } finally {
      close();
    }
  });
});

/** Spawns the fixture and resolves once it printed its "ready" line. */
async function ready(args: string[]): Promise<{ child: ChildProcess; done: ReturnType<typeof collect> }> {
  const child = spawnFixture("channel-peer", args);
  const done = collect(child, 60_000);
  await waitForLine(child, /^ready/);
  return { child, done };
}

// Windows: no SIGSTOP; the timeouts and aborts themselves are this file's other tests
describe.skipIf(LINUX_ONLY)("a stopped peer (SIGSTOP): waits end by timeout or abort, and after SIGCONT nothing is lost or duplicated", () => {
  it("reader side: recv, the iterator and recvSync time out or abort while the writer is stopped", async () => {
    const name = randomName();
    const COUNT = 3000;
    const { child, done } = await ready(["pattern-write", name, "4096", String(COUNT)]);
    const rx = Channel.attach(name);
    const pool = makePool();
    let i = 0;
    const take = (m: Uint8Array): void => {
      const err = check(m, i, rx.maxMessageSize, pool);
      if (err !== null) throw new Error(err);
      i++;
    };
    try {
      for (let k = 0; k < 500; k++) take(await rx.recv({ timeout: 10_000 }));
      child.kill("SIGSTOP");
      await sleep(50); // a write in flight when stopped gets published or not; either way it is whole
      for (let m = rx.tryRecv(); m !== null; m = rx.tryRecv()) take(m);
      expect(await rejection(rx.recv({ timeout: 30 }))).toMatchObject({ code: "ETIMEDOUT" });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 20);
      expect(await rejection(rx.recv({ signal: ac.signal }))).toMatchObject({ code: "ABORT_ERR" });
      const ac2 = new AbortController();
      setTimeout(() => ac2.abort(), 20);
      const iterate = async (): Promise<void> => {
        for await (const m of rx.messages({ signal: ac2.signal })) take(m);
      };
      expect(await rejection(iterate())).toMatchObject({ code: "ABORT_ERR" });
      expect(rx.recvSync(20)).toBe(null);
      child.kill("SIGCONT");
      for await (const m of rx) take(m);
      expect(i).toBe(COUNT);
      const r = await done;
      expect(r.code).toBe(0);
    } finally {
      child.kill("SIGCONT");
      rx.close();
    }
  }, 60_000);

  it("writer side: send and writable time out or abort while the reader is stopped; the reader then gets exactly what was sent", async () => {
    const name = randomName();
    const tx = Channel.create({ name, capacity: 4096 });
    const { child, done } = await ready(["seq-read", name]);
    const pool = makePool();
    const scratch = new Uint8Array(tx.maxMessageSize);
    let i = 0; // messages accepted; the reader checks them in order
    const next = (): Uint8Array => {
      const m = scratch.subarray(0, lengthOf(i, tx.maxMessageSize));
      fill(m, i, pool);
      return m;
    };
    try {
      for (let k = 0; k < 300; k++) {
        await tx.send(next(), { timeout: 10_000 });
        i++;
      }
      child.kill("SIGSTOP");
      // Fill the ring: the stopped reader frees nothing.
      for (;;) {
        if (tx.trySend(next())) i++;
        else break;
      }
      expect(await rejection(tx.send(next(), { timeout: 30 }))).toMatchObject({ code: "ETIMEDOUT" });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 20);
      expect(await rejection(tx.send(next(), { signal: ac.signal }))).toMatchObject({ code: "ABORT_ERR" });
      expect(await rejection(tx.writable(tx.maxMessageSize, { timeout: 30 }))).toMatchObject({ code: "ETIMEDOUT" });
      expect(tx.sendSync(next(), 20)).toBe(false);
      child.kill("SIGCONT");
      for (let k = 0; k < 300; k++) {
        await tx.send(next(), { timeout: 10_000 });
        i++;
      }
      tx.close();
      const r = await done;
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout.trim().split("\n").pop()!)).toEqual({ messages: i });
    } finally {
      child.kill("SIGCONT");
      tx.close();
    }
  }, 60_000);
});

describe("spinning never starves the event loop", () => {
  it("with spin: Infinity and a recv() pending, timers still fire (median delay under 50 ms) and SIGTERM ends the process", async () => {
    const tx = Channel.create({ capacity: 1024 });
    try {
      const child = spawnFixture("channel-peer", ["spin-timers", tx.name]);
      const done = collect(child, 30_000);
      const line = await waitForLine(child, /^\{"delays"/, 20_000);
      const delays = (JSON.parse(line) as { delays: number[] }).delays.sort((a, b) => a - b);
      expect(delays.length).toBe(20);
      // The spin yields every 1 ms, so idle the median delay is about 1 ms
      // (the issue asked for 10 ms); the defect never lets a timer fire. The
      // median ignores one-off hiccups, and 50 ms leaves room for a machine
      // whose cores other work keeps busy (time slices there are ~10 ms).
      expect(delays[10]).toBeLessThan(50);
      child.kill("SIGTERM");
      const r = await done;
      expect(r.signal).toBe("SIGTERM");
    } finally {
      tx.close();
    }
  }, 40_000);
});
