// The writer's view of one subscriber slot: the subscriber's cursor segment
// (mapped once per claimant), where it reads the cursor, and the wait line
// it wakes. Everything read here was written by the subscriber: untrusted.
import { validateName } from "../core/segment.js";
import { Segment } from "../core/segment.js";
import { WaitLine } from "../core/notify.js";
import { native, type PeerWatchHandle } from "../core/native.js";
import { OFFSETS } from "../core/layout.js";
import { CURSOR, CURSOR_DATA_SIZE, CURSOR_NAME_SIZE, CURSOR_TOPICS_MAX, HELD_ENTRIES, SLOT, SLOT_SIZE, CONTROL_SIZE } from "./layout.js";

const ascii = new TextDecoder("latin1");
const utf8 = new TextDecoder();

/** A claimant of a slot, as the writer tracks it. */
export class SlotView {
  readonly index: number;
  readonly epoch: number;
  readonly pid: number;
  readonly startTime: number;
  readonly cursor: Segment;
  readonly line: WaitLine;
  readonly #pos: BigInt64Array;
  readonly #words: Int32Array;
  /** Last cursor the writer saw, and since when the writer has been held by it (performance.now(); 0: not holding). */
  lastPos = -1;
  heldSince = 0;
  watch: PeerWatchHandle | null = null;
  announced = false; // "join" emitted

  private constructor(index: number, epoch: number, pid: number, startTime: number, cursor: Segment) {
    this.index = index;
    this.epoch = epoch;
    this.pid = pid;
    this.startTime = startTime;
    this.cursor = cursor;
    this.line = new WaitLine(cursor, OFFSETS.reader_wait);
    this.#pos = new BigInt64Array(cursor.buffer, cursor.dataOffset, 1);
    this.#words = new Int32Array(cursor.buffer, cursor.dataOffset, CURSOR_DATA_SIZE / 4);
  }

  /**
   * Maps the cursor segment a slot names. Throws (ECORRUPT and the like)
   * when the name is not a segment of the right size: the caller evicts.
   */
  static open(ring: Uint8Array, slotWords: Int32Array, slotByte: number, index: number, epoch: number): SlotView {
    const w = slotByte >> 2;
    const pid = slotWords[w + (SLOT.pid >> 2)]! >>> 0;
    const startTime = (slotWords[w + (SLOT.start_time >> 2)]! >>> 0) + (slotWords[w + (SLOT.start_time >> 2) + 1]! >>> 0) * 2 ** 32;
    const raw = ring.subarray(slotByte + SLOT.cursor_name, slotByte + SLOT.cursor_name + CURSOR_NAME_SIZE);
    const end = raw.indexOf(0);
    const name = validateName(ascii.decode(raw.subarray(0, end < 0 ? CURSOR_NAME_SIZE : end)), "cursor_name");
    const seg = Segment.attach(name);
    if (seg.size < CURSOR_DATA_SIZE) {
      seg.close();
      throw new Error(`cursor segment ${name} is too small`);
    }
    return new SlotView(index, epoch, pid, startTime, seg);
  }

  /** The subscriber's cursor: one 64-bit atomic load (its own value; the caller clamps it). */
  position(): number {
    return Number(Atomics.load(this.#pos, 0));
  }

  /** Statistics the subscriber keeps (display only). */
  counters(): { messages: number; missed: number; topics: string[] } {
    const m = this.#words;
    const u64 = (i: number): number => (m[i]! >>> 0) + (m[i + 1]! >>> 0) * 2 ** 32;
    const len = Math.min(m[CURSOR.topics_len >> 2]! >>> 0, CURSOR_TOPICS_MAX);
    const bytes = new Uint8Array(this.cursor.buffer, this.cursor.dataOffset + CURSOR.topics, len).slice();
    return { messages: u64(CURSOR.messages >> 2), missed: u64(CURSOR.missed >> 2), topics: len === 0 ? [""] : utf8.decode(bytes).split("\0") };
  }

  /** Whether the subscriber's held-loan table names `key` ((slab + 1) | gen << 32, §6.8). */
  holds(key: bigint): boolean {
    const t = (this.#held ??= new BigUint64Array(this.cursor.buffer, this.cursor.dataOffset + CURSOR.held, HELD_ENTRIES));
    for (let i = 0; i < HELD_ENTRIES; i++) if (Atomics.load(t, i) === key) return true;
    return false;
  }

  #held: BigUint64Array | null = null;

  /** Stops watching and unmaps (the writer's mapping only; the subscriber owns the name). */
  close(): void {
    this.watch?.close();
    this.watch = null;
    this.cursor.close();
  }

  /** Starts a pidfd watch of the claimant (its exit calls `onExit`), once. */
  watchExit(onExit: () => void): void {
    if (this.watch !== null || this.pid === 0) return;
    try {
      this.watch = new (native().PeerWatchHandle)(this.pid, this.startTime, onExit);
    } catch {
      this.watch = null; // no pidfd here: the periodic probe still finds the death
    }
  }
}

/** Byte offset of slot i in the data region. */
export function slotOffset(i: number): number {
  return CONTROL_SIZE + i * SLOT_SIZE;
}
