// A pool slab: one segment (kind POOL) of equal slots that a ring's writer
// lends. Its header page carries the geometry (line 6) and a slot table
// (offset 1024): per slot, the generation last sent (written by the writer)
// and the generation last released (written by the reader). Names derive
// from the ring's slab key, 8 random bytes its creator wrote in the ring
// (mode 0600: secret to other users), and the slab's index, through SHA-256,
// so the reader finds a slab from a descriptor alone and no other user can
// predict (squat) the name of a slab to come, even after seeing those that
// exist in /dev/shm: "smsh-<first 8 bytes of SHA-256(key, index) in hex>.<slab index>". A reader maps a slab only if its
// object has the ring's owner uid and grants nothing to group or other:
// anything else is another user's forgery, treated as no slab (ENOENT).
import { createHash, randomBytes } from "node:crypto";

import { shmError } from "../core/errors.js";
import { HEADER_SIZE, KIND_POOL, MAX_SLOTS, OFFSETS, SLAB_KEY_SIZE } from "../core/layout.js";
import { native } from "../core/native.js";
import { Segment, type SegmentAttachOptions, type SegmentInternalOptions } from "../core/segment.js";
import { loadU64, storeU64 } from "../core/u64.js";
import { PAGE } from "./classes.js";

/** Slab indices stay below this, so that names stay within 30 characters. */
export const MAX_SLAB_INDEX = 99_999_999;

/**
 * Slab `index`'s name: "smsh-" + 16 hex digits + "." + index, the digits the
 * first 8 bytes of SHA-256 over the ring's 8-byte slab key (hex `slabKey`)
 * and the index as a little-endian u32 (PROTOCOL.md §3).
 */
export function slabName(slabKey: string, index: number): string {
  const i = Buffer.alloc(4);
  i.writeUInt32LE(index);
  const digest = createHash("sha256").update(Buffer.from(slabKey, "hex")).update(i).digest();
  return `smsh-${digest.subarray(0, 8).toString("hex")}.${index}`;
}

/** A new random slab key: 8 bytes, never all zero (zero means "not written"). */
export function newSlabKey(): Uint8Array {
  for (;;) {
    const k = randomBytes(SLAB_KEY_SIZE);
    if (k.some((b) => b !== 0)) return k;
  }
}

/**
 * The slab key (hex) at `offset` of `ring`'s mapping, or null while it is
 * all zero (not written: no LOAN frame can name a slab of this ring yet).
 */
export function readSlabKey(ring: Segment, offset: number): string | null {
  const k = Buffer.from(ring.buffer, offset, SLAB_KEY_SIZE);
  return k.some((b) => b !== 0) ? k.toString("hex") : null;
}

/**
 * Why the slab object `slab` cannot be the ring writer's, or null: it must
 * belong to the ring object's owner uid and grant nothing to group or other
 * ((mode & 0o077) === 0). Windows: null (no uid or mode there; named objects
 * are per session and guarded by their DACLs).
 */
export function foreignSlab(slab: Segment, ring: Segment): string | null {
  if (slab.ownerUid === null || slab.mode === null || ring.ownerUid === null) return null;
  return foreignIds(slab.ownerUid, slab.mode, ring.ownerUid);
}

const W = {
  slotSize: OFFSETS.slot_size >> 2,
  slotCount: OFFSETS.slot_count >> 2,
  slabIndex: OFFSETS.slab_index >> 2,
  retired: OFFSETS.slab_retired >> 2,
  readerAttached: OFFSETS.slab_reader_attached >> 2,
  table: OFFSETS.slot_table >> 2,
  ownerPid: OFFSETS.owner_pid >> 2,
  ownerStart: OFFSETS.owner_start_time >> 2,
} as const;

function foreignIds(uid: number, mode: number, ringUid: number): string | null {
  if (uid !== ringUid) return `it belongs to uid ${uid}, the ring to uid ${ringUid}`;
  if ((mode & 0o077) !== 0) return `its mode ${mode.toString(8).padStart(4, "0")} grants access to group or other`;
  return null;
}

/**
 * @internal Attaches the slab object `name` of `ring`: ENOENT when it does not exist
 * or is not the ring owner's (foreignSlab), whatever else is wrong with it
 * (another user's object is no slab of ours, not a corruption of ours).
 */
export function attachSlabObject(name: string, ring: Segment, options: SegmentAttachOptions, internal?: Pick<SegmentInternalOptions, "kind">): Segment {
  let seg: Segment;
  try {
    seg = Segment.attach(name, options, internal);
  } catch (e) {
    // Refused before its owner was looked at (another kind, a bad header...): whose is it?
    const code = (e as { code?: string }).code;
    // Not even this process may open it: the ring's writer made its slabs 0600 for the ring's uid, which
    // this reader has (or it is root): another user's object, whoever it claims to be.
    if (code === "EACCES" && ring.ownerUid !== null) throw shmError("ENOENT", `slab ${name} cannot be opened by the ring's reader (EACCES): not the ring writer's, refused as if absent`);
    if (code !== "ENOENT" && ring.ownerUid !== null) {
      let foreign: string | null = null;
      try {
        const ins = native().SegmentHandle.inspect(name);
        foreign = foreignIds(ins.uid, ins.mode, ring.ownerUid);
      } catch {
        /* gone meanwhile, or unreadable: the first error stands */
      }
      if (foreign !== null) throw shmError("ENOENT", `slab ${name} is not the ring writer's (${foreign}): refused as if absent`);
    }
    throw e;
  }
  const foreign = foreignSlab(seg, ring);
  if (foreign !== null) {
    seg.close();
    throw shmError("ENOENT", `slab ${name} is not the ring writer's (${foreign}): refused as if absent`);
  }
  return seg;
}

/** The identity a slab must share with its ring: the ring's token and owner; the ring itself (its slab key, uid). */
export interface RingIdentity {
  segment: Segment;
  token: string; // hex
  ownerPid: number;
  ownerStartLo: number;
  ownerStartHi: number;
}

export class Slab {
  readonly segment: Segment;
  readonly index: number;
  readonly slotSize: number;
  readonly slotCount: number;
  /** Int32 words of the header page. */
  readonly #hdr: Int32Array;

  private constructor(segment: Segment, index: number, slotSize: number, slotCount: number) {
    this.segment = segment;
    this.index = index;
    this.slotSize = slotSize;
    this.slotCount = slotCount;
    this.#hdr = new Int32Array(segment.buffer, 0, HEADER_SIZE / 4);
  }

  /** The writer's side: a new slab, prefaulted, its geometry written before any descriptor names it. */
  static create(ring: RingIdentity, index: number, slotSize: number, slotCount: number): Slab {
    if (index > MAX_SLAB_INDEX) throw shmError("ENOSPC", `the pool has used up its ${MAX_SLAB_INDEX} slab names`);
    const key = readSlabKey(ring.segment, OFFSETS.slab_key);
    if (key === null) throw shmError("ECORRUPT", `ring ${ring.segment.name} has no slab key`);
    const seg = Segment.create({ size: slotSize * slotCount, name: slabName(key, index), prefault: true }, { kind: KIND_POOL, capacity: 0 });
    try {
      const slab = new Slab(seg, index, slotSize, slotCount);
      const h = slab.#hdr;
      storeU64(h, W.slotSize, slotSize);
      h[W.slotCount] = slotCount;
      h[W.slabIndex] = index;
      new Uint8Array(seg.buffer, OFFSETS.ring_token, 16).set(Buffer.from(ring.token, "hex"));
      return slab;
    } catch (e) {
      seg.close();
      throw e;
    }
  }

  /**
   * The reader's side: attaches slab `index` of the ring. ENOENT when there
   * is no such object, or when it is not the ring owner's (another uid, or
   * a mode granting group/other anything: another user's forgery is no
   * slab of ours). Then checks every field it will rely on (ECORRUPT
   * otherwise): kind, geometry against the mapped size, its index, the
   * ring's token and owner.
   */
  static attach(ring: RingIdentity, index: number): Slab {
    // Read only now, after a LOAN frame (ordered after the key's store by the write index).
    const key = readSlabKey(ring.segment, OFFSETS.slab_key);
    if (key === null) throw shmError("ECORRUPT", `a loan names slab ${index} of ring ${ring.segment.name}, which has no slab key`);
    const name = slabName(key, index);
    const seg = attachSlabObject(name, ring.segment, { prefault: true }, { kind: KIND_POOL });
    try {
      const h = new Int32Array(seg.buffer, 0, HEADER_SIZE / 4);
      const bad = (what: string): never => {
        throw shmError("ECORRUPT", `pool slab ${name}: ${what}`);
      };
      const slotSize = loadU64(h, W.slotSize);
      const slotCount = h[W.slotCount]! >>> 0;
      if (slotSize >= 2 ** 52 || slotSize === 0 || slotSize % PAGE !== 0) bad(`slot size ${slotSize} is not a multiple of ${PAGE}`);
      if (slotCount < 1 || slotCount > MAX_SLOTS) bad(`slot count ${slotCount} is not within 1..${MAX_SLOTS}`);
      if (slotSize * slotCount !== seg.size) bad(`${slotCount} slots of ${slotSize} bytes do not make its ${seg.size}-byte data region`);
      if (h[W.slabIndex]! >>> 0 !== index) bad(`it says it is slab ${h[W.slabIndex]! >>> 0}`);
      if (Buffer.from(seg.buffer, OFFSETS.ring_token, 16).toString("hex") !== ring.token) bad("it belongs to another ring");
      if (h[W.ownerPid]! >>> 0 !== ring.ownerPid || h[W.ownerStart] !== ring.ownerStartLo || h[W.ownerStart + 1] !== ring.ownerStartHi) {
        bad("its owner is not the ring's writer");
      }
      return new Slab(seg, index, slotSize, slotCount);
    } catch (e) {
      seg.close();
      throw e;
    }
  }

  sentGen(slot: number): number {
    return Atomics.load(this.#hdr, W.table + 2 * slot) >>> 0;
  }

  setSentGen(slot: number, gen: number): void {
    Atomics.store(this.#hdr, W.table + 2 * slot, gen | 0);
  }

  releasedGen(slot: number): number {
    return Atomics.load(this.#hdr, W.table + 2 * slot + 1) >>> 0;
  }

  setReleasedGen(slot: number, gen: number): void {
    Atomics.store(this.#hdr, W.table + 2 * slot + 1, gen | 0);
  }

  /** Whether the writer retired the slab (it lends nothing from it any more). */
  get retired(): boolean {
    return !this.segment.closed && Atomics.load(this.#hdr, W.retired) !== 0;
  }

  /** Whether the reader has mapped the slab (then its name is no longer needed). */
  get readerAttached(): boolean {
    return !this.segment.closed && Atomics.load(this.#hdr, W.readerAttached) !== 0;
  }

  /** The reader's side: tells the writer this slab is mapped here. */
  markAttached(): void {
    Atomics.store(this.#hdr, W.readerAttached, 1);
  }

  /** The writer's side: marks the slab retired, then closes (and unlinks) it. */
  retire(): void {
    if (!this.segment.closed) Atomics.store(this.#hdr, W.retired, 1);
    this.segment.close();
  }

  /** An ArrayBuffer of its own over `size` bytes at `offset` of the data region. */
  view(offset: number, size: number): ArrayBuffer {
    return this.segment.handle.view(HEADER_SIZE + offset, size);
  }

  /** The token of a view made by view() (for away.ts). */
  token(ab: ArrayBuffer): number {
    return this.segment.handle.viewToken(ab);
  }

  /**
   * Detaches a view made by view(). Returns 0, or a token while a buffer that
   * took its memory over by a transfer may still use it (away.ts). Once the
   * slab is closed its views are detached and nothing is given back: 0.
   */
  detach(ab: ArrayBuffer): number {
    if (this.segment.closed) return 0;
    return this.segment.handle.detachView(ab);
  }

  close(): void {
    this.segment.close();
  }
}
