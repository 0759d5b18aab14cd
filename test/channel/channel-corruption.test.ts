// Everything a reader or writer reads from shared memory is untrusted: a
// peer may be buggy, malicious or dead mid-write. Scribbling over the ring's
// indices and frame headers must only ever produce valid messages or
// ECORRUPT: never an out-of-bounds view, a crash or a hang.
import { randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";

import { Channel, Segment, layout } from "../../dist/lib/index.js";
import type { ChannelReader, ChannelWriter } from "../../dist/lib/index.js";
import { collect, spawnFixture, waitForLine } from "../helpers.js";

const CAP = 4096;

function randomValue(): number {
  switch (randomInt(0, 4)) {
    case 0:
      return randomInt(-16, 17); // small, near-valid lengths and types
    case 1:
      return randomInt(0, 2 * CAP); // plausible indices and lengths
    default:
      return randomInt(-(2 ** 31), 2 ** 31);
  }
}

/** A received view must lie inside the ring's data region and respect maxMessageSize. */
function checkView(rx: ChannelReader, m: Uint8Array): void {
  expect(m.buffer).toBe(rx.segment.buffer);
  expect(m.byteOffset).toBeGreaterThanOrEqual(layout.HEADER_SIZE);
  expect(m.byteOffset + m.length).toBeLessThanOrEqual(layout.HEADER_SIZE + CAP);
  expect(m.length).toBeLessThanOrEqual(rx.maxMessageSize);
}

/** Reads until empty or ECORRUPT; a bounded loop, so a hang shows as a failure. */
function drain(rx: ChannelReader): "empty" | "ECORRUPT" {
  for (let k = 0; k < CAP; k++) {
    let m: Uint8Array | null;
    try {
      m = rx.tryRecv();
    } catch (e) {
      expect((e as { code: string }).code).toBe("ECORRUPT");
      expect(rx.closed).toBe(true);
      return "ECORRUPT";
    }
    if (m === null) return "empty";
    checkView(rx, m);
  }
  throw new Error("reader returned more messages than a ring can hold: it is looping");
}

function write(tx: ChannelWriter, count: number): void {
  for (let i = 0; i < count; i++) {
    try {
      if (!tx.trySend(new Uint8Array(randomInt(0, 300)).fill(i))) return;
    } catch (e) {
      expect((e as { code: string }).code).toBe("ECORRUPT");
      return;
    }
  }
}

describe("Channel under corruption", () => {
  it("10,000 scribbles into indices and frame headers give only valid messages or ECORRUPT", () => {
    const outcomes = { empty: 0, ECORRUPT: 0 };
    for (let round = 0; round < 10_000; round++) {
      const tx = Channel.create({ capacity: CAP });
      const rx = Channel.attach(tx.name);
      const raw = Segment.attach(tx.name);
      try {
        write(tx, randomInt(0, 40));
        for (let k = randomInt(0, 5); k > 0; k--) rx.tryRecv(); // move the read position too
        write(tx, randomInt(0, 10));
        const hdr = new Int32Array(raw.buffer, 0, layout.HEADER_SIZE / 4);
        const frames = new Int32Array(raw.buffer, layout.HEADER_SIZE, CAP / 4);
        switch (randomInt(0, 4)) {
          case 0:
            Atomics.store(hdr, layout.OFFSETS.write_index >> 2, randomValue());
            break;
          case 1:
            Atomics.store(hdr, layout.OFFSETS.read_index >> 2, randomValue());
            break;
          default:
            frames[randomInt(0, CAP / 8) * 2 + randomInt(0, 2)] = randomValue(); // a length or a type
        }
        outcomes[drain(rx)]++;
        if (!rx.closed) {
          write(tx, 20); // the writer validates the reader's index too
          if (!rx.closed) outcomes[drain(rx)]++;
        }
      } finally {
        raw.close();
        rx.close();
        tx.close();
      }
    }
    expect(outcomes.ECORRUPT).toBeGreaterThan(1000); // the scribbles were noticed
    expect(outcomes.empty).toBeGreaterThan(0);
  });

  it("a live ring scribbled by another process for 2 s: no crash, no hang, only valid messages or ECORRUPT", async () => {
    let corrupt = 0;
    let messages = 0;
    const end = performance.now() + 2500;
    while (performance.now() < end) {
      const tx = Channel.create({ capacity: CAP });
      const rx = Channel.attach(tx.name);
      const child = spawnFixture("channel-peer", ["scribble", tx.name, "300"]);
      let scribbling = true;
      const done = collect(child).then((r) => {
        scribbling = false;
        return r;
      });
      await waitForLine(child, /^started/, 10_000);
      try {
        // Writer and reader run while the child scribbles; a sleeping end
        // re-checks every RECHECK_MS and repairs its own index, so even a
        // pair wedged by a scribble wakes and goes on.
        while (scribbling && !rx.closed && !tx.closed) {
          write(tx, 3);
          if (tx.closed) corrupt++; // the writer saw a bad read index
          try {
            const m = await Promise.race([rx.recv(), new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
            if (m) {
              checkView(rx, m);
              messages++;
            }
          } catch (e) {
            expect(["ECORRUPT", "ECLOSED"]).toContain((e as { code: string }).code);
            corrupt++;
            break;
          }
        }
      } finally {
        rx.close();
        tx.close();
      }
      const r = await done;
      expect(r.code).toBe(0);
    }
    expect(messages).toBeGreaterThan(0);
    expect(corrupt).toBeGreaterThan(0);
  }, 60_000);
});
