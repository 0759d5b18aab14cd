// (b) A channel across two processes: checked messages under back-pressure
// with the reader on its event loop, and a blocking recvSync with a timeout.
import { afterEach, describe, expect, it } from "vitest";

import { Channel, Segment } from "../../dist/lib/index.js";
import { makeMessage } from "../../dist/test/win/fixtures/bytes.js";
import { killStrays, sleep } from "../helpers.js";
import { codeOf, spawnPeer } from "./helpers.js";

afterEach(killStrays);

describe("a channel across two processes", () => {
  // 100,000 messages of 8-256 bytes through a 4 KiB ring (about 30 messages):
  // the writer fills it and waits for room hundreds of times, and a lost
  // wake in either direction costs a re-check interval (100 ms - 1 s) each
  // time, so a broken wake path ends in the timeout rather than a pass.
  it("100,000 checked messages arrive complete and in order; the writer waits for room; the reader sleeps in for-await and the writer wakes it", async () => {
    const COUNT = 100_000;
    // The parent pauses at these points until the child has received
    // everything sent so far, so the child's next receive finds the ring
    // empty and goes to sleep (it attached with spin 0), until a send wakes it.
    const EVERY = 20_000;
    const tx = Channel.create({ capacity: 4096 });
    const name = tx.name;
    try {
      const peer = spawnPeer(["read", name, String(COUNT), String(EVERY)], 240_000);
      await peer.line(/^attached$/);
      // Back-pressure for certain: the reader reads nothing before "go", so
      // the ring fills and this send() has to wait for room.
      let i = 0;
      while (tx.trySend(makeMessage(i))) i++;
      const waiting = tx.send(makeMessage(i++), { timeout: 60_000 });
      peer.write("go");
      await waiting.catch(peer.explain);
      expect(tx.stats.writerWaits).toBeGreaterThanOrEqual(1);
      for (; i < COUNT; i++) {
        if (i % EVERY === 0) {
          await peer.line(new RegExp(`^drained ${i}$`));
          // Time for the reader to go to sleep on the empty ring: the
          // assertions below need it to have slept once in these four
          // pauses of 200 ms (it takes microseconds on an idle machine).
          await sleep(200);
        }
        const m = makeMessage(i);
        if (!tx.trySend(m)) await tx.send(m, { timeout: 60_000 }).catch(peer.explain);
      }
      tx.close();
      const r = await peer.done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const stats = JSON.parse(r.stdout.trim().split("\n").pop()!) as { messages: number; sleeps: number; eos: string };
      expect(stats.messages).toBe(COUNT);
      expect(stats.eos).toBe("closed");
      expect(stats.sleeps).toBeGreaterThan(0); // the reader slept on an empty ring...
      expect(tx.stats.wakeups).toBeGreaterThan(0); // ...and the writer woke a sleeping reader
      expect(tx.stats.messages).toBe(COUNT);
      console.log(`channel: ${COUNT} messages; the writer waited for room ${tx.stats.writerWaits} times and woke the reader ${tx.stats.wakeups} times; the reader slept ${stats.sleeps} times`);
    } finally {
      tx.close();
    }
    expect(codeOf(() => Segment.attach(name).close())).toBe("ENOENT");
  }, 300_000);

  it("recvSync in a child: null after its timeout on an empty channel (recv() is ETIMEDOUT), then the message sent while it blocks", async () => {
    const tx = Channel.create({ capacity: 4096 });
    const name = tx.name;
    try {
      const peer = spawnPeer(["recv-sync", name]);
      const [, result, ms] = (await peer.line(/^empty /)).split(" ");
      expect(result).toBe("null");
      // Not early: a 300 ms timeout, less a Windows timer tick (15.6 ms) of slack.
      expect(Number(ms)).toBeGreaterThanOrEqual(280);
      const [, code, asyncMs] = (await peer.line(/^async /)).split(" ");
      expect(code).toBe("ETIMEDOUT");
      expect(Number(asyncMs)).toBeGreaterThanOrEqual(280);
      await peer.line(/^blocking$/);
      await sleep(200); // most likely asleep in recvSync by now; either way the message must arrive
      expect(tx.trySend(Buffer.from("hello from the parent"))).toBe(true);
      tx.flush();
      expect(await peer.line(/^got /)).toBe("got hello from the parent");
      peer.write("close");
      const r = await peer.done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    } finally {
      tx.close();
    }
    expect(codeOf(() => Segment.attach(name).close())).toBe("ENOENT");
  });
});
