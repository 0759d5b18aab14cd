// shared-memory-disruptor (v4, an LMAX Disruptor over POSIX shared memory
// with a native addon; a devDependency) as a benchmark transport, used as a
// careful user would for speed:
//   - one disruptor per direction, one producer and one consumer (index 0);
//     fixed-size elements, each one message framed [u32 length][payload],
//     4 + size bytes rounded up to 8, as many as fit in 4 MiB (the shm
//     transports' ring size), 16 at least;
//   - spin: true and the *Sync calls: the package has no way to sleep until
//     data or room comes (no futex, no notification): a wait is a poll.
//     consumeNewSync()/produceClaimAvailSync() poll in C++ on the calling
//     thread; the alternatives measured slower (spin: false polled with
//     setImmediate: about 1.4x the round trip; the promise API, whose waits
//     are polls queued to the libuv thread pool: about 8x). Both sides burn a
//     core while they wait, as shm-spin does;
//   - receiving: consumeNewSync() hands every element published so far (one
//     or two Buffers over the ring), read one message at a time; the batch is
//     committed (freed for the producer) by the next consumeNewSync(), so a
//     message stays valid until the next recv(). recvMany() commits at once.
//   - sending, corked (the default, as the socket and shm transports cork):
//     slots are claimed ahead in blocks (produceClaimAvailSync, up to 256 or
//     a quarter of the ring), filled in place, and committed together with
//     produceCommitSync(first, last) once per tick, when the block is full,
//     or before waiting for input. --no-cork: produceClaimSync() and
//     produceCommitSync() per message. sendMany() claims what the batch
//     needs (produceClaimAvailSync: as many slots as are free, no more than
//     asked; produceClaimMany would wait until the whole batch fits at once)
//     and commits each claim as one publication.
// The package never removes its shared-memory objects (release() only
// unmaps): the host makes both, "disruptor-bench-<16 hex>.0" (host to peer)
// and ".1", and unlinks them as soon as the peer has mapped them; the
// orchestrator removes them by that prefix if a row dies before (row.ts).
// Without the package, or with its addon unbuilt, its rows are skipped.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";

import { recvChunked, sendChunked, type ConnectOptions, type Endpoint, type Transport } from "./types.js";

/** The package's Disruptor (lib/disruptor.js and src/disruptor.cc), the calls used here. */
interface Disruptor {
  produceClaimSync(): Buffer;
  produceClaimAvailSync(max: number): Buffer[];
  produceCommitSync(claimStart?: number, claimEnd?: number): boolean;
  consumeNewSync(): Buffer[];
  consumeCommit(): boolean;
  readonly prevClaimStart: number;
  readonly prevClaimEnd: number;
  release(ignoring?: boolean): void;
}
type DisruptorClass = new (
  name: string,
  elements: number,
  elementSize: number,
  consumers: number,
  consumer: number,
  init: boolean,
  spin: boolean,
) => Disruptor;

let loaded: DisruptorClass | null | undefined;

/** The package's Disruptor class, or null if it is not installed or its addon did not build. */
export function loadDisruptor(): DisruptorClass | null {
  if (loaded === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = (require("shared-memory-disruptor") as { Disruptor: DisruptorClass }).Disruptor;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

/** Ring bytes per direction, as the shm transports' 4 MiB rings. */
const RING_BYTES = 4 << 20;
/** Slots a corked send() claims at a time (at most a quarter of the ring). */
const CLAIM_AHEAD = 256;

function geometry(o: ConnectOptions): { elements: number; elementSize: number } {
  const elementSize = (4 + o.size + 7) & ~7;
  return { elements: Math.max(16, Math.floor(RING_BYTES / elementSize)), elementSize };
}

/** Names in /dev/shm: "<prefix><16 hex>.0" host to peer, ".1" peer to host. */
const NAME_PREFIX = "disruptor-bench-";

function unlink(name: string): void {
  rmSync(`/dev/shm/${name}`, { force: true });
}

function endpoint(tx: Disruptor, rx: Disruptor, elements: number, elementSize: number, names: string[], cork: boolean): Endpoint {
  const max = elementSize - 4;
  const block = Math.min(CLAIM_AHEAD, Math.max(1, Math.floor(elements / 4)));
  // Receiving: the batch consumeNewSync returned, and where the next message is in it.
  let bufs: Buffer[] = [];
  let bi = 0;
  let off = 0;
  // Sending (corked): slots claimed ahead, the next to fill, and the sequence numbers of the claim.
  let claimed: Buffer[] = [];
  let ci = 0;
  let co = 0;
  let fillSeq = 0; // sequence of the next slot to fill
  let commitSeq = 0; // first filled slot not committed yet
  let flushQueued = false;
  let closed = false;
  const next = (): Uint8Array | null => {
    while (bi < bufs.length) {
      const b = bufs[bi]!;
      if (off < b.length) {
        const len = b.readUInt32LE(off);
        const m = b.subarray(off + 4, off + 4 + len);
        off += elementSize;
        return m;
      }
      bi++;
      off = 0;
    }
    return null;
  };
  const take = (got: Buffer[]): void => {
    bufs = got;
    bi = 0;
    off = 0;
  };
  const flush = (): void => {
    if (fillSeq > commitSeq) {
      tx.produceCommitSync(commitSeq, fillSeq - 1);
      commitSeq = fillSeq;
    }
  };
  const flushTick = (): void => {
    flushQueued = false;
    if (!closed) flush();
  };
  /** Claims up to `want` more slots (waiting, spinning, for one at least), having committed those filled. */
  const claim = (want: number): void => {
    flush();
    claimed = tx.produceClaimAvailSync(want);
    if (claimed.length === 0) throw new Error("disruptor: no consumer");
    ci = 0;
    co = 0;
    fillSeq = commitSeq = tx.prevClaimStart;
  };
  /** Writes msg into the next claimed slot; false if there is none left. */
  const put = (msg: Uint8Array): boolean => {
    while (ci < claimed.length) {
      const b = claimed[ci]!;
      if (co < b.length) {
        b.writeUInt32LE(msg.length, co);
        b.set(msg, co + 4);
        co += elementSize;
        fillSeq++;
        return true;
      }
      ci++;
      co = 0;
    }
    return false;
  };
  const check = (msg: Uint8Array): void => {
    if (msg.length > max) throw new Error(`disruptor: ${msg.length} bytes, elements hold ${max}`);
  };
  const ep: Endpoint = {
    maxMessageSize: max,
    send(msg) {
      check(msg);
      if (!cork) {
        const b = tx.produceClaimSync(); // spins while the ring is full
        if (b.length === 0) throw new Error("disruptor: no consumer");
        b.writeUInt32LE(msg.length, 0);
        b.set(msg, 4);
        tx.produceCommitSync();
        return;
      }
      if (!put(msg)) {
        claim(block);
        put(msg);
      }
      if (!flushQueued) {
        flushQueued = true;
        process.nextTick(flushTick);
      }
    },
    recv() {
      flush(); // publish before waiting for input
      const m = next();
      if (m) return m;
      take(rx.consumeNewSync()); // commits the previous batch, then spins until there is data
      return next()!;
    },
    sendMany(msgs) {
      for (const msg of msgs) check(msg); // before claiming: a claimed slot left unfilled would stop the ring
      for (let i = 0; i < msgs.length; i++) {
        const msg = msgs[i]!;
        if (!put(msg)) {
          claim(msgs.length - i);
          put(msg);
        }
      }
      flush();
    },
    recvMany(onMessage) {
      flush();
      let n = 0;
      if (bi >= bufs.length) take(rx.consumeNewSync());
      for (; bi < bufs.length; bi++, off = 0) {
        const b = bufs[bi]!;
        for (; off < b.length; off += elementSize) {
          onMessage(b, off + 4, b.readUInt32LE(off));
          n++;
        }
      }
      rx.consumeCommit();
      bufs = [];
      return n;
    },
    async sendBulk(data) {
      await sendChunked(ep, data, max);
      flush();
    },
    recvBulk: (size, onChunk) => recvChunked(ep, size, onChunk),
    close() {
      if (closed) return;
      closed = true;
      flush();
      bufs = [];
      claimed = [];
      // Unmapped: no view of ours may be touched after this.
      tx.release();
      rx.release(true);
      for (const n of names) unlink(n);
    },
  };
  return ep;
}

export function disruptorTransport(cork = true): Transport {
  const load = (): DisruptorClass => {
    const D = loadDisruptor();
    if (!D) throw new Error("the shared-memory-disruptor package is not installed or its addon did not build");
    return D;
  };
  const spin = true; // waits poll in C++ (see above)
  return {
    transport: "disruptor",
    mode: null,
    async host(o) {
      const D = load();
      const { elements, elementSize } = geometry(o);
      const stem = `${NAME_PREFIX}${randomBytes(8).toString("hex")}.`;
      const names = [`${stem}0`, `${stem}1`];
      const tx = new D(`/${names[0]}`, elements, elementSize, 1, -1, true, spin);
      let rx: Disruptor;
      try {
        rx = new D(`/${names[1]}`, elements, elementSize, 1, 0, true, spin);
      } catch (e) {
        tx.release();
        unlink(names[0]!);
        throw e;
      }
      return {
        offer: `${stem}:${elements}:${elementSize}`,
        leftovers: stem,
        complete: async () => {
          // The peer has mapped both: their names can go now, nothing stays in /dev/shm if either side dies.
          for (const n of names) unlink(n);
          return endpoint(tx, rx, elements, elementSize, names, cork);
        },
      };
    },
    async peer(offer) {
      const D = load();
      const [stem, e, s] = offer.split(":");
      const elements = Number(e);
      const elementSize = Number(s);
      const rx = new D(`/${stem}0`, elements, elementSize, 1, 0, false, spin);
      let tx: Disruptor;
      try {
        tx = new D(`/${stem}1`, elements, elementSize, 1, -1, false, spin);
      } catch (e) {
        rx.release(true);
        throw e;
      }
      return { answer: "", endpoint: endpoint(tx, rx, elements, elementSize, [], cork) };
    },
  };
}
