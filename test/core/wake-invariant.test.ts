// One wake syscall per sleep (csrc/core/notify.h): across processes, the wakes
// one end sends never exceed the sleeps the other end announced, plus one
// for a close. The writer sends with `await send()` per message (the soak
// that found 12 wake syscalls per sleep). Either the writer works a few
// microseconds per message, less than a wakeup takes, and the reader keeps
// up and sleeps often (several commits land while it is being woken: the
// storm), or the reader works on each message and the writer sleeps on a
// full ring instead. Both wake paths (doorbell, futex on the
// event loop) and the blocking futex wait of recvSync.
import { afterEach, describe, expect, it } from "vitest";

import { Channel, type ChannelWriter } from "../../dist/lib/index.js";
import { makePool, fill, lengthOf } from "../fixtures/pattern.js";
import { collect, killStrays, spawnFixture, waitForLine } from "../helpers.js";

afterEach(killStrays);

interface Stats {
  messages: number;
  sleeps: number;
  wakeups: number;
}

function busy(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

/** Sends `count` pattern messages to a paced-read child; `writerUs`, `readerUs`: each side's work per message. */
async function run(mode: string, writerUs: number, readerUs: number, count: number, capacity: number): Promise<{ tx: ChannelWriter; rx: Stats }> {
  const tx = Channel.create({ capacity, spin: 0 });
  try {
    const child = spawnFixture("channel-peer", ["paced-read", tx.name, mode, String(readerUs), String(count)]);
    const done = collect(child, 120_000);
    await waitForLine(child, /^ready$/m, 30_000);
    const pool = makePool();
    const scratch = new Uint8Array(256);
    for (let i = 0; i < count; i++) {
      const m = scratch.subarray(0, lengthOf(i, 256));
      fill(m, i, pool);
      await tx.send(m);
      if (writerUs > 0) busy(writerUs);
    }
    const r = await done;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rx = JSON.parse(r.stdout.split("\n").find((l) => l.startsWith("{"))!) as Stats;
    expect(rx.messages).toBe(count);
    return { tx, rx };
  } finally {
    tx.close();
  }
}

describe("wakeups: at most one per sleep, across processes", () => {
  for (const mode of ["doorbell", "futex", "sync"]) {
    it(`${mode}: a reader faster than the writer sleeps often, and gets one wake per sleep`, async () => {
      const { tx, rx } = await run(mode, 5, 0, 20_000, 1 << 16);
      const w = tx.stats;
      console.log(`${mode} fast reader: ${rx.sleeps} reader sleeps, ${w.wakeups} wakes sent; ${w.sleeps} writer sleeps, ${rx.wakeups} wakes sent`);
      // The reader catches up and sleeps over and over without spinning (thousands of times on an
      // idle machine; far fewer bound here, as a loaded one deschedules it and it finds more waiting).
      expect(rx.sleeps).toBeGreaterThan(100);
      expect(w.wakeups).toBeGreaterThan(50);
      expect(w.wakeups).toBeLessThanOrEqual(rx.sleeps + 1);
      expect(rx.wakeups).toBeLessThanOrEqual(w.sleeps + 1);
    }, 150_000);

    it(`${mode}: a reader slower than the writer rarely sleeps; the writer sleeps on a full ring and gets one wake per sleep`, async () => {
      const { tx, rx } = await run(mode, 0, 20, 20_000, 4096);
      const w = tx.stats;
      console.log(`${mode} slow reader: ${rx.sleeps} reader sleeps, ${w.wakeups} wakes sent; ${w.sleeps} writer sleeps, ${rx.wakeups} wakes sent`);
      expect(w.sleeps).toBeGreaterThan(10); // 4 KiB of ring, 20 us per message: the writer waits for room
      expect(rx.wakeups).toBeGreaterThan(0);
      expect(rx.wakeups).toBeLessThanOrEqual(w.sleeps + 1);
      expect(w.wakeups).toBeLessThanOrEqual(rx.sleeps + 1);
    }, 150_000);
  }
});
