// This package's channel carrying point clouds (the pointcloud scenario):
//   loan  the writer fills a loan (tx.loan(size): shared memory of its pool)
//         in place and sends it: a 32-byte descriptor goes through the ring,
//         no payload byte is copied
//   copy  the writer sends an ordinary Buffer larger than maxMessageSize:
//         send() copies it once into a loan ("copy-in")
// Either way the reader gets one view of the whole cloud over the loaned
// memory, reads it, and release()s it (the slot goes back to the writer's
// pool); small messages (the acknowledgements) go through the rings. The
// rings are small (4 KiB: messages up to 1016 bytes), since a loan's frame
// is only its descriptor.
import { Channel, type ChannelReader, type ChannelWriter } from "../../lib/index.js";
import { slabName } from "../../lib/loan/slab.js";
import type { Endpoint, Transport } from "./types.js";

export type LoanMode = "loan" | "copy";

const RING = 4096;

function endpoint(tx: ChannelWriter, rx: ChannelReader, mode: LoanMode): Endpoint {
  const ep: Endpoint = {
    maxMessageSize: tx.maxMessageSize,
    send(msg) {
      if (tx.trySend(msg)) return;
      return tx.send(msg);
    },
    recv() {
      return rx.tryRecv() ?? rx.recv();
    },
    async sendBulk(data) {
      // A loan: its descriptor; an ordinary buffer above maxMessageSize: copied into a loan first.
      if (!tx.trySend(data)) await tx.send(data);
    },
    async recvBulk(size, onChunk) {
      const m = rx.tryRecv() ?? (await rx.recv());
      if (m.length !== size) throw new Error(`pointcloud: got ${m.length} bytes, expected ${size}`);
      onChunk(m);
      rx.release(); // the view is detached; the slot goes back to the writer's pool
    },
    loanStats: () => ({ loans: tx.stats.loans, slabsCreated: tx.poolStats.slabsCreated }),
    close() {
      tx.close();
      rx.close();
    },
  };
  if (mode === "loan") ep.lend = (size) => tx.loan(size);
  return ep;
}

export function shmLoanTransport(mode: LoanMode, spin: number | "adaptive" = "adaptive"): Transport {
  const opts = { spin };
  return {
    transport: "shm",
    mode,
    async host() {
      const tx = Channel.create({ capacity: RING, ...opts });
      // Slabs are named after the ring's token: what a killed host leaves behind.
      const leftovers = slabName(tx.segment.token, 0).slice(0, -1);
      return { offer: tx.name, leftovers, complete: async (answer) => endpoint(tx, Channel.attach(answer, opts), mode) };
    },
    async peer(offer) {
      const rx = Channel.attach(offer, opts);
      const tx = Channel.create({ capacity: RING, ...opts });
      return { answer: tx.name, endpoint: endpoint(tx, rx, mode) };
    },
  };
}
