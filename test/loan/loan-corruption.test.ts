// Loan descriptors come from another process and are untrusted: a forged or
// stale one (wrong generation, slot, offset, size, slab or epoch), written
// into the ring through a mapping of its own, is ECORRUPT and closes the
// reader; it never yields a view of other memory.
import { describe, expect, it } from "vitest";

import { Channel, Segment, layout, type ChannelReader, type ChannelWriter } from "../../dist/lib/index.js";
import { slabName } from "../../dist/lib/loan/slab.js";
import { channelSlabKey } from "../helpers.js";

const SLOT = 1 << 20; // one 1 MiB slot per slab

interface Forge {
  slab?: number;
  slot?: number;
  gen?: number;
  epoch?: number;
  offset?: number;
  size?: number;
  offsetHi?: number;
  length?: number;
}

/** Writes a LOAN frame after everything the writer published, through a mapping of the test's own, and publishes it. */
function forge(tx: ChannelWriter, f: Forge): void {
  tx.flush(); // what the writer sent this tick goes before the forged frame
  const seg = Segment.attach(tx.name);
  try {
    const hdr = new Int32Array(seg.buffer, 0, layout.HEADER_SIZE / 4);
    const w = Atomics.load(hdr, layout.OFFSETS.write_index >> 2) >>> 0;
    const pos = w & (tx.capacity - 1);
    expect(pos + 40).toBeLessThanOrEqual(tx.capacity); // the tests stay far from the wrap
    const words = new Int32Array(seg.buffer, layout.HEADER_SIZE + pos, 10);
    words[0] = f.length ?? 32;
    words[1] = 3; // LOAN
    words[2] = f.slab ?? 0;
    words[3] = f.slot ?? 0;
    words[4] = f.gen ?? 1;
    words[5] = f.epoch ?? 0;
    words[6] = f.offset ?? 0;
    words[7] = f.offsetHi ?? 0;
    words[8] = f.size ?? 100;
    words[9] = 0;
    Atomics.store(hdr, layout.OFFSETS.write_index >> 2, (w + 40) | 0);
  } finally {
    seg.close();
  }
}

/** A channel whose writer sent one 1 MiB loan (slab 0, slot 0, gen 1), received and released by the reader. */
function setup(): { tx: ChannelWriter; rx: ChannelReader } {
  const tx = Channel.create({ capacity: 1 << 16 });
  const rx = Channel.attach(tx.name);
  const l = tx.tryLoan(SLOT)!;
  tx.trySend(l);
  rx.tryRecv();
  rx.release();
  return { tx, rx };
}

function expectCorrupt(rx: ChannelReader): void {
  let got: unknown;
  try {
    got = rx.tryRecv();
  } catch (e) {
    expect((e as { code: string }).code).toBe("ECORRUPT");
    expect(rx.closed).toBe(true);
    return;
  }
  throw new Error(`forged descriptor delivered ${got === null ? "nothing" : `a view of ${(got as Uint8Array).byteLength} bytes`}`);
}

describe("forged and stale loan descriptors", () => {
  const cases: [string, (tx: ChannelWriter, rx: ChannelReader) => Forge][] = [
    ["a generation that was never sent", () => ({ gen: 7 })],
    ["a stale generation (received and released already)", () => ({ gen: 1 })],
    ["generation 0", () => ({ gen: 0 })],
    ["a slot beyond the slab", () => ({ slot: 1 })],
    ["an offset before the slot", (tx) => (tx.tryLoan(SLOT), tx.trySend(tx.tryLoan(SLOT)!), { slab: 2, slot: 0, gen: 1, offset: 0, size: 100 })],
    ["bytes running past the end of the slot", () => ({ offset: SLOT - 50, size: 100, gen: 1 })],
    ["a size larger than the slot", () => ({ size: SLOT + 1 })],
    ["an offset beyond 2^52", () => ({ offsetHi: 0x0100_0000 })],
    ["a slab that does not exist", () => ({ slab: 57 })],
    ["a slab index beyond the name space", () => ({ slab: 0xffff_ffff })],
    ["an epoch ahead of the ring's", () => ({ epoch: 5 })],
    ["a frame length other than 32", () => ({ length: 24 })],
  ];
  for (const [what, make] of cases) {
    it(`${what} is ECORRUPT`, () => {
      const { tx, rx } = setup();
      try {
        forge(tx, make(tx, rx));
        // The offset case sent a real loan first: receive it, then meet the forgery.
        if (what.startsWith("an offset before")) {
          expect(rx.tryRecv()!.byteLength).toBe(SLOT);
          rx.release();
        }
        expectCorrupt(rx);
      } finally {
        tx.close();
        rx.close();
      }
    });
  }

  it("a descriptor naming the slot the reader holds now is ECORRUPT (two views of one slot)", () => {
    const { tx, rx } = setup();
    try {
      const l = tx.tryLoan(SLOT)!; // slot 0 again, generation 2
      tx.trySend(l);
      expect(rx.tryRecv()!.byteLength).toBe(SLOT);
      forge(tx, { gen: 2 });
      expectCorrupt(rx);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("a segment squatting a slab's name with the wrong kind or another ring's token is ECORRUPT", () => {
    const { tx, rx } = setup();
    const fake = Segment.create({ size: SLOT, name: slabName(channelSlabKey(tx.segment), 9) });
    try {
      forge(tx, { slab: 9 });
      expectCorrupt(rx);
    } finally {
      fake.close();
      tx.close();
      rx.close();
    }
  });

  it("a scribbled slab geometry is ECORRUPT when the reader attaches it", () => {
    const tx = Channel.create({ capacity: 1 << 16 });
    const rx = Channel.attach(tx.name);
    try {
      tx.trySend(tx.tryLoan(SLOT)!);
      const raw = Segment.attach(slabName(channelSlabKey(tx.segment), 0));
      new Int32Array(raw.buffer, layout.OFFSETS.slot_count, 1)[0] = 64; // 64 slots of 1 MiB claimed in a 1 MiB slab
      raw.close();
      expectCorrupt(rx);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it("descriptors of an older epoch (sent to a reader that died) are skipped, not delivered", () => {
    const { tx, rx } = setup();
    try {
      const seg = Segment.attach(tx.name);
      Atomics.store(new Int32Array(seg.buffer, layout.OFFSETS.loan_epoch, 1), 0, 0);
      seg.close();
      // The reader attached at epoch 0: a forged epoch of 0xffffffff is "behind" it.
      forge(tx, { epoch: 0xffff_ffff, gen: 1 });
      expect(rx.tryRecv()).toBeNull();
      expect(rx.closed).toBe(false);
    } finally {
      tx.close();
      rx.close();
    }
  });
});
