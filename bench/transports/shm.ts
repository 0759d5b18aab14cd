// This package's channel as a benchmark transport: one ring each way.
//   event  default options: adaptive spin, then sleep on the event loop
//          (--spin sets another spin for event and futex)
//   futex  blocking receives and sends (recvSync/sendSync), as a worker would
//   spin   spin: Infinity, never sleeps (burns a core per waiting side)
// Sends are corked (published once per tick, or before the endpoint waits
// for input), as the socket transports cork theirs; --no-cork turns it off.
import { Channel, type ChannelReader, type ChannelWriter } from "../../lib/index.js";
import { recvChunked, sendChunked, type ConnectOptions, type Endpoint, type Transport } from "./types.js";

export type ShmMode = "event" | "futex" | "spin";

/** Ring sizes: room for a 64 KiB message in rtt/stream, a deep pipeline of 4 MiB chunks in bulk. */
function capacityFor(o: ConnectOptions): number {
  return o.scenario === "bulk" ? 64 << 20 : 4 << 20;
}
const BULK_CHUNK = 4 << 20;

function endpoint(tx: ChannelWriter, rx: ChannelReader, mode: ShmMode, cork: boolean): Endpoint {
  const ep: Endpoint = {
    maxMessageSize: tx.maxMessageSize,
    send(msg) {
      if (cork) tx.cork();
      if (tx.trySend(msg)) return;
      if (mode === "futex") {
        tx.sendSync(msg);
        return;
      }
      return tx.send(msg);
    },
    recv() {
      tx.uncork(); // flush before waiting for input
      if (mode === "spin") {
        for (;;) {
          const m = rx.tryRecv();
          if (m !== null) return m;
        }
      }
      if (mode === "futex") return rx.recvSync(Infinity)!;
      return rx.tryRecv() ?? rx.recv();
    },
    async sendBulk(data) {
      await sendChunked(ep, data, Math.min(BULK_CHUNK, tx.maxMessageSize));
      tx.uncork();
    },
    recvBulk: (size, onChunk) => recvChunked(ep, size, onChunk),
    close() {
      tx.close();
      rx.close();
    },
  };
  return ep;
}

export function shmTransport(mode: ShmMode, cork = true, spin: number | "adaptive" = "adaptive"): Transport {
  const opts = { spin: mode === "spin" ? Infinity : spin };
  return {
    transport: "shm",
    mode,
    async host(o) {
      const tx = Channel.create({ capacity: capacityFor(o), ...opts });
      return { offer: tx.name, complete: async (answer) => endpoint(tx, Channel.attach(answer, opts), mode, cork) };
    },
    async peer(offer, o) {
      const rx = Channel.attach(offer, opts);
      const tx = Channel.create({ capacity: capacityFor(o), ...opts });
      return { answer: tx.name, endpoint: endpoint(tx, rx, mode, cork) };
    },
  };
}
