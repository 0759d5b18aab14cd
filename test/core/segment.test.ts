import { execFileSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, truncateSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import { Segment, layout, randomName } from "../../dist/lib/index.js";
import { ROOT, expectCode, LINUX_ONLY } from "../helpers.js";

const shmPath = (name: string): string => `/dev/shm/${name}`;

describe("Segment.create and attach", () => {
  it("shares bytes between a creator and an attacher, with no copy", () => {
    const a = Segment.create({ size: 8192 });
    const b = Segment.attach(a.name);
    try {
      expect(a.owner).toBe(true);
      expect(b.owner).toBe(false);
      expect(b.size).toBe(8192);
      expect(a.buffer.byteLength).toBe(8192 + layout.HEADER_SIZE);
      a.data[0] = 7;
      a.data[8191] = 9;
      expect(b.data[0]).toBe(7);
      expect(b.data[8191]).toBe(9);
      b.data[100] = 42; // writes through the other mapping are visible too
      expect(a.data[100]).toBe(42);
    } finally {
      b.close();
      a.close();
    }
  });

  // Windows: the owner-only DACL cannot be observed under Wine (docs/ARCHITECTURE.md)
  it.skipIf(LINUX_ONLY)("names generated segments with the smsh- prefix and creates them with mode 0600", () => {
    const a = Segment.create({ size: 4096 });
    try {
      expect(a.name).toMatch(/^smsh-[a-z2-7]{16}$/);
      expect(statSync(shmPath(a.name)).mode & 0o777).toBe(0o600);
    } finally {
      a.close();
    }
  });

  it("writes a valid layout-v1 header", () => {
    const a = Segment.create({ size: 4096 });
    try {
      const v = new DataView(a.buffer);
      expect(v.getUint32(layout.OFFSETS.magic, true)).toBe(layout.MAGIC);
      expect(v.getUint32(layout.OFFSETS.version, true)).toBe(1);
      expect(v.getBigUint64(layout.OFFSETS.data_size, true)).toBe(4096n);
      expect(v.getUint32(layout.OFFSETS.owner_pid, true)).toBe(process.pid);
      expect(v.getBigUint64(layout.OFFSETS.owner_start_time, true)).toBeGreaterThan(0n);
      const created = Number(v.getBigUint64(layout.OFFSETS.created_ns, true) / 1_000_000n);
      expect(Math.abs(created - Date.now())).toBeLessThan(60_000);
    } finally {
      a.close();
    }
  });

  it("fails with EEXIST on a duplicate name and ENOENT on a missing one", () => {
    const a = Segment.create({ size: 4096 });
    try {
      const e = expectCode(() => Segment.create({ name: a.name, size: 4096 }), "EEXIST");
      if (process.platform === "linux") {
        expect((e as unknown as { errno: number }).errno).toBe(-17);
        expect((e as unknown as { syscall: string }).syscall).toBe("shm_open");
      } else {
        expect((e as unknown as { syscall: string }).syscall).toBe("CreateFileMappingW");
      }
      expectCode(() => Segment.attach(randomName()), "ENOENT");
    } finally {
      a.close();
    }
  });

  // Windows: truncates the /dev/shm file; test/win/foreign-mapping.test.ts refuses a short mapping
  it.skipIf(LINUX_ONLY)("refuses a truncated segment with ECORRUPT", () => {
    const a = Segment.create({ size: 65536 });
    try {
      truncateSync(shmPath(a.name), layout.HEADER_SIZE + 100);
      expect(expectCode(() => Segment.attach(a.name), "ECORRUPT").message).toMatch(/truncated/);
      truncateSync(shmPath(a.name), 100);
      expectCode(() => Segment.attach(a.name), "ECORRUPT");
    } finally {
      a.close();
    }
  });

  // Windows: writes /dev/shm files; test/win/foreign-mapping.test.ts does the same with raw mappings
  it.skipIf(LINUX_ONLY)("refuses garbage bytes, an empty object and another layout version", () => {
    const name = randomName();
    const fd = openSync(shmPath(name), "wx", 0o600);
    try {
      expectCode(() => Segment.attach(name), "EAGAIN"); // empty: creator not done yet
      writeSync(fd, randomBytes(3 * 4096));
      expect(expectCode(() => Segment.attach(name), "ECORRUPT").message).toMatch(/magic/);
      const header = Buffer.alloc(4096);
      header.writeUInt32LE(layout.MAGIC, layout.OFFSETS.magic);
      header.writeUInt32LE(2, layout.OFFSETS.version);
      writeSync(fd, header, 0, header.length, 0);
      expectCode(() => Segment.attach(name), "EVERSION");
      header.writeUInt32LE(1, layout.OFFSETS.version);
      header.writeUInt32LE(4096, layout.OFFSETS.header_size);
      header.writeBigUInt64LE(1n << 50n, layout.OFFSETS.data_size); // absurd size
      header.writeBigUInt64LE((1n << 50n) + 4096n, layout.OFFSETS.segment_size);
      writeSync(fd, header, 0, header.length, 0);
      expectCode(() => Segment.attach(name), "ECORRUPT");
    } finally {
      closeSync(fd);
      require("node:fs").unlinkSync(shmPath(name));
    }
  });

  it("rejects bad arguments with TypeError/RangeError before any syscall", () => {
    // Other test files create and remove segments in parallel: compare what appeared, not counts.
    const before = new Set(readdirSync("/dev/shm"));
    expect(() => Segment.create({ size: -1 })).toThrow(RangeError);
    expect(() => Segment.create({ size: 0 })).toThrow(RangeError);
    expect(() => Segment.create({ size: 1.5 })).toThrow(RangeError);
    expect(() => Segment.create({ size: 2 ** 60 })).toThrow(RangeError);
    expect(() => Segment.create({ size: "10" as unknown as number })).toThrow(TypeError);
    expect(() => Segment.create(null as unknown as { size: number })).toThrow(TypeError);
    expect(() => Segment.create({ size: 10, name: "a/b" })).toThrow(TypeError);
    expect(() => Segment.create({ size: 10, name: ".hidden" })).toThrow(TypeError);
    expect(() => Segment.create({ size: 10, name: "x".repeat(31) })).toThrow(RangeError);
    expect(() => Segment.create({ size: 10, name: "" })).toThrow(RangeError);
    expect(() => Segment.attach(42 as unknown as string)).toThrow(TypeError);
    expect(() => Segment.attach("../etc/passwd")).toThrow(TypeError);
    try {
      Segment.create({ size: -1 });
    } catch (e) {
      expect((e as { code: string }).code).toBe("ERR_OUT_OF_RANGE");
    }
    expect(readdirSync("/dev/shm").filter((n) => !before.has(n) && !n.startsWith("smsh-"))).toEqual([]);
  });
});

describe("an owner nobody references", () => {
  // Windows: reads /dev/shm
  it.skipIf(LINUX_ONLY)("keeps its name through garbage collection (segment and channel writer) until close() or exit", () => {
    // A child with --expose-gc drops its only references and collects; the
    // names must still be there for a peer to attach, and go at exit.
    const lib = path.join(ROOT, "dist", "lib", "index.js");
    const script = `
      const { Segment, Channel } = require(${JSON.stringify(lib)});
      const names = (() => [Segment.create({ size: 4096 }).name, Channel.create({ capacity: 1024 }).name])();
      const fs = require("node:fs");
      (async () => {
        const seen = [];
        for (let i = 0; i < 5; i++) {
          globalThis.gc();
          await new Promise((r) => setTimeout(r, 20)); // finalizers run after the GC, from the loop
          seen.push(names.map((n) => fs.existsSync("/dev/shm/" + n)));
        }
        console.log(JSON.stringify({ names, seen }));
      })();`;
    const out = execFileSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8", timeout: 30_000 });
    const r = JSON.parse(out) as { names: string[]; seen: boolean[][] };
    for (const s of r.seen) expect(s).toEqual([true, true]);
    for (const n of r.names) expect(existsSync(shmPath(n))).toBe(false); // removed at exit
  });
});

describe("Segment.close and unlink", () => {
  it("detaches views on close: they read as length 0 and touching them does not crash", () => {
    const a = Segment.create({ size: 4096 });
    const buf = a.buffer;
    const view = a.data;
    const words = new Int32Array(a.buffer, 0, 4);
    a.close();
    expect(buf.byteLength).toBe(0);
    expect(view.length).toBe(0);
    expect(words.length).toBe(0);
    expect(view[0]).toBeUndefined(); // out of range on a detached view: no memory touched
    view[10] = 1;
    expect(view[10]).toBeUndefined();
    expect(() => Atomics.load(words, 0)).toThrow();
    expectCode(() => a.buffer, "ECLOSED");
    expect(a.closed).toBe(true);
  });

  it("is safe to close twice, and the owner's close removes the name", () => {
    const a = Segment.create({ size: 4096 });
    const b = Segment.attach(a.name);
    a.close();
    a.close();
    expectCode(() => Segment.attach(a.name), "ENOENT");
    // An attacher keeps its mapping after the owner is gone.
    b.data[0] = 5;
    expect(b.data[0]).toBe(5);
    b.close();
    b.close();
  });

  it("unlink() removes the name while the mapping stays usable", () => {
    const a = Segment.create({ size: 4096 });
    a.unlink();
    a.unlink();
    expectCode(() => Segment.attach(a.name), "ENOENT");
    a.data[1] = 3;
    expect(a.data[1]).toBe(3);
    a.close();
  });

  // Windows: a name cannot be reused while the old segment lives (EEXIST): test/win/windows.test.ts
  it.skipIf(LINUX_ONLY)("does not unlink a new segment that reuses a removed name", () => {
    const a = Segment.create({ size: 4096 });
    require("node:fs").unlinkSync(shmPath(a.name));
    const b = Segment.create({ name: a.name, size: 4096 });
    a.close(); // must not remove b's object
    const c = Segment.attach(b.name);
    c.close();
    b.close();
  });

  it("survives 10,000 create/close cycles without leaking mappings or descriptors", () => {
    const count = (): { maps: number; fds: number } => ({
      maps: readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("/dev/shm/smsh-")).length,
      fds: readdirSync("/proc/self/fd").length,
    });
    const before = count();
    const keep: ArrayBuffer[] = [];
    for (let i = 0; i < 10_000; i++) {
      const s = Segment.create({ size: 4096 });
      const u = new Uint8Array(s.buffer);
      u[layout.HEADER_SIZE] = i & 255;
      if (i % 100 === 0) keep.push(s.buffer); // detached buffers kept alive across re-used addresses
      s.close();
    }
    const after = count();
    expect(after.maps).toBe(before.maps);
    expect(after.fds).toBeLessThanOrEqual(before.fds + 2);
    expect(keep.every((b) => b.byteLength === 0)).toBe(true);
  });
});
