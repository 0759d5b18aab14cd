// This package's channel as a benchmark transport: one ring each way.
import { Channel, type ChannelAttachOptions, type ChannelReader, type ChannelWriter } from "../../lib/index.js";
import type { Endpoint, Transport } from "./types.js";

const CAPACITY = 1 << 22; // 4 MiB rings

function endpoint(tx: ChannelWriter, rx: ChannelReader, spinning: boolean): Endpoint {
  return {
    send(msg) {
      if (!tx.trySend(msg)) return tx.send(msg);
    },
    recv() {
      if (spinning) {
        for (;;) {
          const m = rx.tryRecv();
          if (m !== null) return m;
        }
      }
      return rx.tryRecv() ?? rx.recv();
    },
    close() {
      tx.close();
      rx.close();
    },
  };
}

/** mode "event": sleep on the event loop when idle (after `spinUs`); "spin": never sleep. */
export function shmTransport(mode: "event" | "spin", spinUs?: number): Transport {
  const opts: ChannelAttachOptions = mode === "spin" ? { spin: Infinity } : spinUs === undefined ? {} : { spin: spinUs };
  const spinning = mode === "spin";
  return {
    transport: "shm",
    mode,
    async host() {
      const tx = Channel.create({ capacity: CAPACITY, ...opts });
      return { offer: tx.name, complete: async (answer) => endpoint(tx, Channel.attach(answer, opts), spinning) };
    },
    async peer(offer) {
      const rx = Channel.attach(offer, opts);
      const tx = Channel.create({ capacity: CAPACITY, ...opts });
      return { answer: tx.name, endpoint: endpoint(tx, rx, spinning) };
    },
  };
}
