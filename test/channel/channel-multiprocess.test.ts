import { describe, expect, it } from "vitest";

import { Channel } from "../../dist/lib/index.js";
import { fill, lengthOf, makePool } from "../../dist/test/fixtures/pattern.js";
import { collect, spawnFixture, waitForLine } from "../helpers.js";

describe("Channel across two processes", () => {
  it("delivers 1,000,000 messages of random sizes complete, in order and uncorrupted, under back-pressure", async () => {
    const COUNT = 1_000_000;
    const tx = Channel.create({ capacity: 16384 });
    const pool = makePool();
    try {
      const child = spawnFixture("channel-peer", ["stress-read", tx.name, String(COUNT)]);
      const done = collect(child, 240_000);
      const max = tx.maxMessageSize;
      for (let i = 0; i < COUNT; i++) {
        const n = lengthOf(i, max);
        if (i % 2 === 0) {
          // zero-copy path
          let v = tx.reserve(n);
          while (v === null) {
            await tx.writable(n);
            v = tx.reserve(n);
          }
          fill(v, i, pool);
          tx.commit(v);
        } else {
          const scratch = new Uint8Array(n);
          fill(scratch, i, pool);
          if (!tx.trySend(scratch)) await tx.send(scratch);
        }
      }
      tx.close();
      const r = await done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const stats = JSON.parse(r.stdout) as { messages: number; sleeps: number; eos: string };
      expect(stats.messages).toBe(COUNT);
      expect(stats.eos).toBe("ECLOSED");
      expect(stats.sleeps).toBeGreaterThan(0); // the reader slept as well as spun
      expect(tx.stats.writerWaits).toBeGreaterThan(0); // the writer filled the ring and waited
    } finally {
      tx.close();
    }
  }, 300_000);
});

describe("Channel end of stream across processes", () => {
  it("a reader in another process receives everything, then its iteration ends when the writer closes", async () => {
    const { randomName } = await import("../../dist/lib/index.js");
    const name = randomName();
    const child = spawnFixture("channel-peer", ["write", name, "4096", "10000"]);
    const done = collect(child);
    await waitForLine(child, /^ready/);
    const rx = Channel.attach(name);
    let n = 0;
    for await (const m of rx) {
      expect(Buffer.from(m).toString()).toBe(`m${n}`);
      n++;
    }
    expect(n).toBe(10_000);
    expect((await done).code).toBe(0);
    rx.close();
  });
});

describe.each(["doorbell", "futex"] as const)("an idle channel (%s)", (mode) => {
  it("a reader waiting 2 s on an empty channel uses under 2% of one core", async () => {
    const tx = Channel.create({ capacity: 4096 });
    try {
      const r = await collect(spawnFixture("channel-peer", ["idle-read", tx.name, "2000", mode]));
      expect(r.stderr).toBe("");
      const { cpuMs, wallMs } = JSON.parse(r.stdout) as { cpuMs: number; wallMs: number };
      expect(wallMs).toBeGreaterThanOrEqual(1990);
      expect(cpuMs / wallMs).toBeLessThan(0.02);
    } finally {
      tx.close();
    }
  });
});
