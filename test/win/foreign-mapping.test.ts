// (e) A named object that is not a segment of ours is refused by
// Segment.attach (and Channel.attach) with a clear code, never mapped as
// one: garbage, an empty (all-zero) object, and a header that claims more
// bytes than the object holds. On Linux the object is /dev/shm/<name>,
// written here; on Windows it is a Local\ file mapping made and held by
// fixtures/rawmap.c (scripts/test-wine.sh builds rawmap.exe), whose name
// prefix must be the port's. On Windows, a name taken by another kind of
// kernel object (an event) is refused too.
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, rmSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

import { Channel, Segment, layout, randomName } from "../../dist/lib/index.js";
import { ROOT, killStrays } from "../helpers.js";
import { codeOf, startProcess } from "./helpers.js";

afterEach(killStrays);

interface RawObject {
  name: string;
  /** Removes it (Linux), or ends the process holding it (Windows: the mapping goes with its last handle). */
  close(): Promise<void>;
}

/** Starts rawmap.exe with `args` after the name; resolves once it holds its object. */
async function rawmap(name: string, args: string[], cleanup = (): void => undefined): Promise<RawObject> {
  const exe = path.join(ROOT, "test", "win", "fixtures", "rawmap.exe");
  if (!existsSync(exe)) throw new Error(`${exe} missing: scripts/test-wine.sh builds it from rawmap.c with x86_64-w64-mingw32-gcc`);
  const holder = startProcess(exe, [name, ...args]);
  await holder.line(/^ready$/).catch(holder.explain);
  return {
    name,
    async close() {
      holder.child.stdin!.end();
      const r = await holder.done;
      cleanup();
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    },
  };
}

/** A named object of `size` bytes starting with `content`, made without this package. */
async function rawObject(size: number, content: Uint8Array): Promise<RawObject> {
  const name = randomName();
  if (process.platform !== "win32") {
    const file = `/dev/shm/${name}`;
    const fd = openSync(file, "wx", 0o600);
    try {
      writeSync(fd, content);
      ftruncateSync(fd, size);
    } finally {
      closeSync(fd);
    }
    // Dated an hour ahead: a full sweep() in a test file running alongside
    // (test/core/lifecycle.test.ts) removes an all-zero object of ours
    // once it is a second old, as an abandoned creation; never this one.
    const ahead = new Date(Date.now() + 3_600_000);
    utimesSync(file, ahead, ahead);
    return { name, close: async () => rmSync(file, { force: true }) };
  }
  const dir = mkdtempSync(path.join(tmpdir(), "smsh-rawmap-"));
  const file = path.join(dir, "content.bin");
  writeFileSync(file, content);
  return rawmap(name, [String(size), file], () => rmSync(dir, { recursive: true, force: true }));
}

/** The code of the error attach() throws, with a hint when the object was not found at all. */
function attachCode(attach: () => { close(): void }): string {
  try {
    attach().close();
    return "none (attached)";
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === "ENOENT" && process.platform === "win32") {
      return "ENOENT: no mapping under this name; is rawmap.c's MAPPING_PREFIX the port's?";
    }
    return String(err.code);
  }
}

/** A valid header, copied from a segment made and closed here. */
function validHeader(): Buffer {
  const seg = Segment.create({ size: 4096 });
  try {
    return Buffer.from(new Uint8Array(seg.buffer, 0, layout.HEADER_SIZE));
  } finally {
    seg.close();
  }
}

/** `header`, claiming `dataSize` bytes of data. */
function claiming(header: Buffer, dataSize: number): Buffer {
  const h = Buffer.from(header);
  h.writeBigUInt64LE(BigInt(dataSize), layout.OFFSETS.data_size);
  h.writeBigUInt64LE(BigInt(dataSize + layout.HEADER_SIZE), layout.OFFSETS.segment_size);
  return h;
}

describe("a named object that is not one of our segments", () => {
  const cases: [string, string, () => { size: number; content: Uint8Array }][] = [
    ["garbage (3 pages of random bytes)", "ECORRUPT", () => ({ size: 3 * 4096, content: randomBytes(3 * 4096) })],
    ["a header claiming 1 MiB of data in an object of 8 KiB", "ECORRUPT", () => ({ size: 8192, content: claiming(validHeader(), 1 << 20) })],
    ["100 bytes, shorter than a header (the first 100 bytes of one)", "ECORRUPT", () => ({ size: 100, content: claiming(validHeader(), 1 << 20).subarray(0, 100) })],
    // magic 0: a creator that has not finished, not garbage (docs/PROTOCOL.md).
    ["all zero (2 pages)", "EAGAIN", () => ({ size: 8192, content: new Uint8Array(0) })],
  ];

  it.each(cases)("%s: Segment.attach and Channel.attach fail with %s", async (_what, code, make) => {
    const { size, content } = make();
    const raw = await rawObject(size, content);
    try {
      expect(attachCode(() => Segment.attach(raw.name))).toBe(code);
      expect(attachCode(() => Channel.attach(raw.name))).toBe(code);
      // Still refused the second time: a refusal changes nothing.
      expect(attachCode(() => Segment.attach(raw.name))).toBe(code);
    } finally {
      await raw.close();
    }
    expect(attachCode(() => Segment.attach(raw.name)).split(":")[0]).toBe("ENOENT");
  });
});

describe("a name held by another kind of object (Windows: one namespace for mappings, events, mutexes...)", () => {
  it.runIf(process.platform === "win32")("a named event under a segment's mapping name: attach is ECORRUPT, create is EEXIST", async () => {
    const raw = await rawmap(randomName(), ["event"]);
    try {
      expect(attachCode(() => Segment.attach(raw.name))).toBe("ECORRUPT");
      expect(attachCode(() => Channel.attach(raw.name))).toBe("ECORRUPT");
      expect(codeOf(() => Segment.create({ name: raw.name, size: 4096 }).close())).toBe("EEXIST");
    } finally {
      await raw.close();
    }
  });

  it.runIf(process.platform === "win32")("a named event under a channel's reader lock name (<token>.lock1): the reader's attach is ECORRUPT", async () => {
    const tx = Channel.create({ capacity: 4096 });
    try {
      const token = Buffer.from(tx.segment.handle.buffer(), layout.OFFSETS.token, layout.TOKEN_SIZE).toString("hex");
      const raw = await rawmap(`${token}.lock1`, ["event"]);
      try {
        expect(attachCode(() => Channel.attach(tx.name))).toBe("ECORRUPT");
      } finally {
        await raw.close();
      }
    } finally {
      tx.close();
    }
  });
});
