// Channel: a one-way message channel between two processes (or threads)
// over a shared ring. The writer creates and owns the segment; the reader
// attaches it by name.
import { ChannelEnd, H, storeU64, validateCapacity, validateEndOptions, type ChannelEndOptions } from "./end.js";
import { ChannelReader, KeptMessage, validateMaxKept, type ReaderOptions } from "./reader.js";
import { ChannelWriter, type PublishMode } from "./writer.js";
import { invalidArgType, invalidArgValue, shmError } from "../core/errors.js";
import { FLAG_LOCKS, KIND_RING, OFFSETS, READER_LOCK_BYTE, SIDE_OPEN, SLAB_KEY_SIZE } from "../core/layout.js";
import { newSlabKey } from "../loan/slab.js";
import { native } from "../core/native.js";
import { Segment } from "../core/segment.js";
import { MIN_CAPACITY } from "./ring.js";
import { sweepOpportunistically } from "../core/sweep.js";
import { validatePoolOptions, type PoolOptions } from "../loan/pool.js";

export interface ChannelCreateOptions extends ChannelEndOptions {
  /** Ring size in bytes: a power of two from 1 KiB to 2 GiB. */
  capacity: number;
  /** Segment name; default a random "smsh-..." name. */
  name?: string;
  /** The writer's loan pool (tx.loan(), and send() of buffers above maxMessageSize). */
  pool?: PoolOptions;
  /**
   * When messages become visible to the reader. "tick" (default): the first
   * message of a tick at once; the others sent in the same tick together at
   * its end, before this process waits on any channel, or once 1/16 of the
   * ring is held back (one index store and at most one wakeup per burst).
   * "immediate": each message as it is sent.
   */
  publish?: PublishMode;
}

export type ChannelAttachOptions = ReaderOptions;

export const Channel = {
  /** Creates a ring segment and returns its writing end (the owner). */
  create(options: ChannelCreateOptions): ChannelWriter {
    if (options === null || typeof options !== "object") throw invalidArgType("options", "an object", options);
    const capacity = validateCapacity(options.capacity);
    const end = validateEndOptions(options);
    const pool = validatePoolOptions(options.pool);
    const publish = options.publish ?? "tick";
    if (publish !== "tick" && publish !== "immediate") throw invalidArgValue("options.publish", 'must be "tick" or "immediate"', publish);
    sweepOpportunistically(); // segments of crashed processes, at most every 30 s
    // Rings are touched over and over: map them prefaulted.
    const seg = Segment.create({ size: capacity, name: options.name, prefault: true }, { kind: KIND_RING, capacity });
    try {
      // The secret that names the pool's slabs (PROTOCOL.md §3): written before
      // the name is given out; read by a reader only after a LOAN frame.
      new Uint8Array(seg.buffer, OFFSETS.slab_key, SLAB_KEY_SIZE).set(newSlabKey());
      return new ChannelWriter(seg, { ...end, pool, publish });
    } catch (e) {
      seg.close();
      throw e;
    }
  },

  /**
   * Attaches the reading end of the channel `name`. One reader at a time:
   * EBUSY if a live reader is attached (one that died is replaced);
   * ECORRUPT if `name` is not a ring.
   */
  attach(name: string, options?: ChannelAttachOptions): ChannelReader {
    const end = validateEndOptions(options);
    const maxKept = validateMaxKept(options);
    // Only a ring is prefaulted: a plain object of any size is refused unmapped.
    const seg = Segment.attach(name, { prefault: true }, { kind: KIND_RING });
    try {
      if (seg.capacity === 0) throw shmError("ECORRUPT", `segment ${name} is not a channel ring`);
      if (seg.capacity < MIN_CAPACITY) throw shmError("ECORRUPT", `channel ${name} has a ring of ${seg.capacity} bytes (< ${MIN_CAPACITY})`);
      const hdr = new Int32Array(seg.buffer, 0, seg.dataOffset / 4);
      // Dead peers are told by their liveness locks alone (PROTOCOL.md §1):
      // a ring whose writer does not hold one could never be told from a dead one.
      if ((hdr[OFFSETS.flags >> 2]! & FLAG_LOCKS) === 0) {
        throw shmError("ECORRUPT", `channel ${name}: its writer keeps no liveness lock (flags bit LOCKS unset)`);
      }
      // The reader's liveness lock: held while this reader lives, dropped by
      // the kernel if it dies. Whoever holds it is the one reader.
      if (!seg.handle.lock(READER_LOCK_BYTE)) {
        throw shmError("EBUSY", `channel ${name} already has a reader (pid ${hdr[H.readerPid]})`);
      }
      hdr[H.readerPid] = process.pid;
      storeU64(hdr, H.readerStartTime, native().selfStartTime);
      Atomics.store(hdr, H.readerState, SIDE_OPEN);
      return new ChannelReader(seg, { ...end, maxKept });
    } catch (e) {
      seg.close();
      throw e;
    }
  },
};

export { ChannelEnd, ChannelReader, ChannelWriter, KeptMessage };
