// This package's channel as a benchmark transport: one ring each way.
import { Channel, type ChannelAttachOptions, type ChannelReader, type ChannelWriter } from "../../lib/index.js";
import type { Endpoint, Transport } from "./types.js";

const CAPACITY = 1 << 22; // 4 MiB rings

// Sends are corked (published together at the end of the tick, or before
// the endpoint waits for input), as the socket transports cork theirs.
function endpoint(tx: ChannelWriter, rx: ChannelReader, spinning: boolean, cork: boolean): Endpoint {
  return {
    send(msg) {
      if (cork) tx.cork();
      if (!tx.trySend(msg)) return tx.send(msg);
    },
    recv() {
      tx.uncork();
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
export function shmTransport(mode: "event" | "spin", spinUs?: number, cork = true): Transport {
  const opts: ChannelAttachOptions = mode === "spin" ? { spin: Infinity } : spinUs === undefined ? {} : { spin: spinUs };
  const spinning = mode === "spin";
  return {
    transport: "shm",
    mode,
    async host() {
      const tx = Channel.create({ capacity: CAPACITY, ...opts });
      return { offer: tx.name, complete: async (answer) => endpoint(tx, Channel.attach(answer, opts), spinning, cork) };
    },
    async peer(offer) {
      const rx = Channel.attach(offer, opts);
      const tx = Channel.create({ capacity: CAPACITY, ...opts });
      return { answer: tx.name, endpoint: endpoint(tx, rx, spinning, cork) };
    },
  };
}
