// A deliberately broken transport for the benchmark's own tests: TCP that
// silently drops every 10th message it sends. The benchmark must report its
// rows as failed, never as fast.
import { tcpTransport } from "./socket.js";
import type { Endpoint, Transport } from "./types.js";

function lossy(ep: Endpoint): Endpoint {
  let n = 0;
  return {
    ...ep,
    send(msg) {
      if (++n % 10 === 0) return; // dropped
      return ep.send(msg);
    },
    recv: () => ep.recv(),
    sendBulk: (d) => ep.sendBulk(d.subarray(0, d.length - 1)), // one byte short
    recvBulk: (s, f) => ep.recvBulk(s, f),
    close: () => ep.close(),
  };
}

export function lossyTransport(): Transport {
  const t = tcpTransport();
  return {
    transport: "lossy",
    mode: null,
    async host(o) {
      const h = await t.host(o);
      return { offer: h.offer, complete: async (a) => lossy(await h.complete(a)) };
    },
    async peer(offer, o) {
      const p = await t.peer(offer, o);
      return { answer: p.answer, endpoint: lossy(p.endpoint) };
    },
  };
}
