// What a subscriber writes is untrusted by the writer and the other
// subscribers, and everything in the ring is untrusted by subscribers:
// scribbled bytes give ECORRUPT or harm only their owner, never a crash,
// a hang or torn data.
import { describe, expect, it } from "vitest";

import { Broadcast, Segment, type BroadcastReader } from "../../dist/lib/index.js";
import { CONTROL, ringOffset, SLOT, CONTROL_SIZE, SLOT_SIZE } from "../../dist/lib/broadcast/layout.js";
import { bodyOf, checkBody, numberOf, topicOf } from "../../dist/test/fixtures/broadcast-pattern.js";

/** Receives until `n` messages or an error; returns them and the error's code. */
async function drain(r: BroadcastReader, n: number): Promise<{ got: number[]; code: string | null }> {
  const got: number[] = [];
  try {
    while (got.length < n) {
      const m = await r.recv({ timeout: 10_000 });
      expect(checkBody(m.data, numberOf(m.data))).toBeNull();
      got.push(numberOf(m.data));
    }
    return { got, code: null };
  } catch (e) {
    return { got, code: (e as { code: string }).code };
  }
}

describe("broadcast ring under hostile bytes", () => {
  it("attach refuses a segment that is not a broadcast ring, or whose control block was scribbled", () => {
    const plain = Segment.create({ size: 1 << 16 });
    try {
      expect(() => Broadcast.attach(plain.name)).toThrow(expect.objectContaining({ code: "ECORRUPT" }));
    } finally {
      plain.close();
    }
    for (const [field, value] of [
      ["magic", 1],
      ["capacity", 12345],
      ["max_subscribers", 100000],
      ["ring_offset", 8],
      ["policy", 9],
      ["writer_state", 77],
    ] as const) {
      const w = Broadcast.create({ capacity: 4096 });
      try {
        new Int32Array(w.segment.buffer, w.segment.dataOffset)[CONTROL[field] >> 2] = value;
        expect(() => Broadcast.attach(w.name), field).toThrow(expect.objectContaining({ code: "ECORRUPT" }));
      } finally {
        w.close();
      }
    }
  });

  it("a scribbled frame or write position is ECORRUPT for the reader, after the intact messages before it", async () => {
    for (const scribble of ["length", "type", "seq", "write_pos_back"] as const) {
      const w = Broadcast.create({ capacity: 1 << 16 });
      const r = Broadcast.attach(w.name);
      try {
        for (let k = 0; k < 3; k++) await w.send(topicOf(k), bodyOf(k));
        const ring = new Int32Array(w.segment.buffer, w.segment.dataOffset + ringOffset(w.maxSubscribers));
        // The third frame: after two frames of align8(16 + topic + body) bytes.
        const size = (k: number): number => (16 + topicOf(k).length + bodyOf(k).length + 7) & ~7;
        const third = (size(0) + size(1)) >> 2;
        if (scribble === "length") ring[third] = 0x7fffffff;
        if (scribble === "type") ring[third + 1] = 9;
        if (scribble === "seq") ring[third + 2] = 12345;
        if (scribble === "write_pos_back") {
          // Read the three, then the position goes back under the reader.
          expect((await drain(r, 3)).got).toEqual([0, 1, 2]);
          new BigInt64Array(w.segment.buffer, w.segment.dataOffset, 32)[CONTROL.write_pos >> 3] = 8n;
          await expect(r.recv({ timeout: 5000 })).rejects.toMatchObject({ code: "ECORRUPT" });
          continue;
        }
        const { got, code } = await drain(r, 3);
        expect(code, scribble).toBe("ECORRUPT");
        expect(got).toEqual([0, 1].slice(0, got.length)); // nothing past the bad frame, nothing torn
        await expect(r.recv()).rejects.toMatchObject({ code: "ECORRUPT" }); // and it stays so
      } finally {
        r.close();
        w.close();
      }
    }
  });

  it("a scribbled LOAN frame (slab, generation, size, length) is ECORRUPT, never a view of other memory", async () => {
    for (const scribble of ["slab", "gen", "size", "body_len"] as const) {
      const w = Broadcast.create({ capacity: 1 << 16 });
      const r = Broadcast.attach(w.name);
      try {
        const l = w.tryLoan(8192)!;
        l.data.fill(1);
        await w.send("L", l);
        w.flushHeld();
        // The frame is the first: header at 0, topic "L" at 16, the body at 17.
        const at = w.segment.dataOffset + ringOffset(w.maxSubscribers);
        const dv = new DataView(w.segment.buffer, at);
        if (scribble === "slab") dv.setUint32(17, 12345, true);
        if (scribble === "gen") dv.setUint32(17 + 4, 999, true);
        if (scribble === "size") dv.setBigUint64(17 + 8, 1n << 40n, true);
        if (scribble === "body_len") {
          dv.setUint32(12, 31, true);
          dv.setUint32(0, 32, true);
        }
        await expect(r.recv({ timeout: 5000 }), scribble).rejects.toMatchObject({ code: "ECORRUPT" });
      } finally {
        r.close();
        w.close();
      }
    }
  });

  it("a cursor scribbled far behind holds only until its owner is evicted; the other subscriber gets everything", async () => {
    const w = Broadcast.create({ capacity: 4096, blockTimeout: 200 });
    const victim = Broadcast.attach(w.name);
    const other = Broadcast.attach(w.name);
    const evicted: number[] = [];
    w.on("evict", (s: { slot: number }) => evicted.push(s.slot));
    try {
      new BigInt64Array(victim.cursor.buffer, victim.cursor.dataOffset, 1)[0] = 0n;
      const n = 400; // about 10 rings' worth
      const reading = drain(other, n);
      for (let k = 0; k < n; k++) await w.send(topicOf(k), bodyOf(k), { timeout: 10_000 });
      const o = await reading;
      expect(o.code).toBeNull();
      expect(o.got).toEqual([...Array(n).keys()]);
      expect(evicted).toEqual([victim.slot]);
      await expect(drain(victim, n)).resolves.toMatchObject({ code: "ESLOW" });
    } finally {
      victim.close();
      other.close();
      w.close();
    }
  });

  it("a cursor scribbled far ahead lets the writer lap only its owner (counted as missed, nothing torn)", async () => {
    const w = Broadcast.create({ capacity: 4096, blockTimeout: 60_000 });
    const victim = Broadcast.attach(w.name);
    const other = Broadcast.attach(w.name);
    try {
      new BigInt64Array(victim.cursor.buffer, victim.cursor.dataOffset, 1)[0] = 2n ** 52n;
      const n = 400;
      const reading = drain(other, n);
      for (let k = 0; k < n; k++) await w.send(topicOf(k), bodyOf(k), { timeout: 10_000 });
      w.close();
      expect((await reading).got).toEqual([...Array(n).keys()]);
      const v = await drain(victim, n);
      expect(v.code).toBe("ECLOSED");
      expect(v.got.length + victim.missed).toBe(n);
      expect(victim.missed).toBeGreaterThan(0);
    } finally {
      victim.close();
      other.close();
      w.close();
    }
  });

  it("a slot naming no cursor segment gets its claimant evicted, and a slot state changed under a reader is ECORRUPT", async () => {
    const w = Broadcast.create({ capacity: 4096 });
    const a = Broadcast.attach(w.name);
    const b = Broadcast.attach(w.name);
    try {
      const u8 = new Uint8Array(w.segment.buffer, w.segment.dataOffset);
      const slotA = CONTROL_SIZE + a.slot * SLOT_SIZE;
      // Before the writer maps a's cursor (it does at its next publication or scan, not in this tick).
      u8.set(new TextEncoder().encode("smsh-nosuchsegment\0"), slotA + SLOT.cursor_name);
      await w.send("t", bytes(8));
      await expect(a.recv({ timeout: 5000 })).rejects.toMatchObject({ code: "ESLOW" });
      expect((await b.recv({ timeout: 5000 })).data).toEqual(bytes(8));
      new Int32Array(w.segment.buffer, w.segment.dataOffset)[(CONTROL_SIZE + b.slot * SLOT_SIZE + SLOT.state) >> 2] = 99;
      await expect(b.recv({ timeout: 5000 })).rejects.toMatchObject({ code: "ECORRUPT" });
      await w.send("t", bytes(8)); // the writer is not held by either
    } finally {
      a.close();
      b.close();
      w.close();
    }
  });
});

function bytes(n: number): Uint8Array {
  return new Uint8Array(n).fill(3);
}

describe("bad arguments at run time", () => {
  it("setTopics() of something that is not an array is a TypeError with a code, and the subscriber goes on", async () => {
    const w = Broadcast.create({ capacity: 1 << 12 });
    const r = Broadcast.attach(w.name);
    try {
      for (const bad of [null, undefined, () => {}, "t", 5]) {
        const e = (() => {
          try {
            r.setTopics(bad as unknown as string[]);
          } catch (err) {
            return err as Error & { code?: string };
          }
          return null;
        })();
        expect(e).toBeInstanceOf(TypeError);
        expect(e!.code).toBe("ERR_INVALID_ARG_TYPE");
      }
      expect(w.trySend("t", bytes(8))).toBe(true);
      expect((await r.recv({ timeout: 10_000 })).topic).toBe("t");
    } finally {
      r.close();
      w.close();
    }
  });
});
