// This package's channel as a benchmark transport: one ring each way.
//   event  default options: adaptive spin, then sleep on the event loop
//          (--spin sets another spin for event and futex)
//   futex  blocking receives and sends (recvSync/sendSync), as a worker would
//   spin   spin: Infinity, never sleeps (burns a core per waiting side)
// Sends are published once per tick (the channel's default publish: "tick":
// the first at once, the rest of the tick together), as the socket
// transports cork theirs; --no-cork publishes every message on its own
// (publish: "immediate").
import { Channel, type ChannelReader, type ChannelWriter } from "../../lib/index.js";
import { recvChunked, sendChunked, type ConnectOptions, type Endpoint, type Transport } from "./types.js";

export type ShmMode = "event" | "futex" | "spin";

/** Ring sizes: room for a 64 KiB message in rtt/stream, a deep pipeline of 4 MiB chunks in bulk. */
function capacityFor(o: ConnectOptions): number {
  return o.scenario === "bulk" ? 64 << 20 : 4 << 20;
}
const BULK_CHUNK = 4 << 20;

function endpoint(tx: ChannelWriter, rx: ChannelReader, mode: ShmMode): Endpoint {
  const ep: Endpoint = {
    maxMessageSize: tx.maxMessageSize,
    send(msg) {
      if (tx.trySend(msg)) return;
      if (mode === "futex") {
        tx.sendSync(msg);
        return;
      }
      return tx.send(msg);
    },
    recv() {
      if (mode === "spin") {
        for (;;) {
          const m = rx.tryRecv();
          if (m !== null) return m;
        }
      }
      if (mode === "futex") return rx.recvSync(Infinity)!;
      return rx.tryRecv() ?? rx.recv();
    },
    sendMany(msgs) {
      const n = tx.trySendMany(msgs);
      if (n === msgs.length) return;
      const rest = msgs.slice(n);
      if (mode === "futex") {
        for (const m of rest) tx.sendSync(m);
        return;
      }
      if (mode === "spin") {
        for (let i = 0; i < rest.length; ) i += tx.trySendMany(i === 0 ? rest : rest.slice(i));
        return;
      }
      return tx.sendMany(rest);
    },
    recvMany(onMessage) {
      const n = rx.drain(onMessage);
      if (n > 0 || mode === "event") return n > 0 ? n : drainWhenReadable(rx, onMessage);
      for (;;) {
        if (mode === "futex") {
          // No blocking readable(): take one with recvSync, then what else is there.
          const m = rx.recvSync(Infinity)!;
          onMessage(m, 0, m.length);
          return 1 + rx.drain(onMessage);
        }
        const k = rx.drain(onMessage); // spin
        if (k > 0) return k;
      }
    },
    async sendBulk(data) {
      await sendChunked(ep, data, Math.min(BULK_CHUNK, tx.maxMessageSize));
      tx.flush();
    },
    recvBulk: (size, onChunk) => recvChunked(ep, size, onChunk),
    close() {
      tx.close();
      rx.close();
    },
  };
  return ep;
}

async function drainWhenReadable(rx: ChannelReader, onMessage: (d: Uint8Array, o: number, l: number) => void): Promise<number> {
  for (;;) {
    await rx.readable();
    const n = rx.drain(onMessage);
    if (n > 0) return n;
  }
}

export function shmTransport(mode: ShmMode, cork = true, spin: number | "adaptive" = "adaptive"): Transport {
  const opts = { spin: mode === "spin" ? Infinity : spin };
  const publish = cork ? ("tick" as const) : ("immediate" as const);
  return {
    transport: "shm",
    mode,
    async host(o) {
      const tx = Channel.create({ capacity: capacityFor(o), ...opts, publish });
      return { offer: tx.name, complete: async (answer) => endpoint(tx, Channel.attach(answer, opts), mode) };
    },
    async peer(offer, o) {
      const rx = Channel.attach(offer, opts);
      const tx = Channel.create({ capacity: capacityFor(o), ...opts, publish });
      return { answer: tx.name, endpoint: endpoint(tx, rx, mode) };
    },
  };
}
