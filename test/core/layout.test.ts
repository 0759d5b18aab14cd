import { describe, expect, it } from "vitest";

import { layout } from "../../dist/lib/index.js";
import { native } from "../../dist/lib/core/native.js";

const binding = native();

describe("layout v1", () => {
  it("has the same field offsets in TypeScript as in the native header", () => {
    expect(layout.OFFSETS).toEqual(binding.layout.offsets);
  });

  it("has the same constants in TypeScript as in the native header", () => {
    const n = binding.layout;
    expect(layout.MAGIC).toBe(n.magic);
    expect(layout.LAYOUT_VERSION).toBe(n.version);
    expect(layout.HEADER_SIZE).toBe(n.headerSize);
    expect(layout.HEADER_SIZE).toBe(n.sizeofHeader);
    expect(layout.LINE_SIZE).toBe(n.lineSize);
    expect(layout.FIRST_WAIT_LINE).toBe(n.firstWaitLine);
    expect(layout.LAST_WAIT_LINE).toBe(n.lastWaitLine);
    expect(layout.KIND_POOL).toBe(n.kindPool);
    expect(layout.MAX_SLOTS).toBe(n.maxSlots);
    expect(layout.LOAN_DESCRIPTOR_SIZE).toBe(n.frameLoanSize);
    expect(layout.TOKEN_SIZE).toBe(n.tokenSize);
    expect(layout.WAIT_LINE).toEqual({ seq: n.waitLineSeq, waiting: n.waitLineWaiting });
    expect([layout.WAIT_FUTEX, layout.WAIT_DOORBELL]).toEqual([n.waitFutex, n.waitDoorbell]);
    expect([layout.KIND_PLAIN, layout.KIND_RING]).toEqual([n.kindPlain, n.kindRing]);
    expect([layout.SIDE_ABSENT, layout.SIDE_OPEN, layout.SIDE_CLOSED]).toEqual([n.sideAbsent, n.sideOpen, n.sideClosed]);
    expect(layout.MAX_CAPACITY).toBe(n.maxCapacity);
    expect(layout.MAX_SEGMENT_SIZE).toBe(n.maxSegmentSize);
    expect(layout.MAX_NAME_LENGTH).toBe(n.maxNameLength);
    expect([layout.FLAG_LOCKS, layout.OWNER_LOCK_BYTE, layout.READER_LOCK_BYTE]).toEqual([n.flagLocks, n.ownerLockByte, n.readerLockByte]);
  });

  it("puts the indices and wait lines on their own 128-byte lines", () => {
    const o = layout.OFFSETS;
    const lines = [o.write_index, o.read_index, o.reader_wait, o.writer_wait].map((x) => x / layout.LINE_SIZE);
    expect(lines.every(Number.isInteger)).toBe(true);
    expect(new Set(lines).size).toBe(4);
  });
});
