// This package's Peer (listen/connect) as a benchmark transport: what a user
// of the control plane gets, handshake included, over each transport.
//   peer-shm  the handshake agrees on shared memory: a channel each way,
//             corked like shm-event (its figures against shm-event's are the
//             Peer layer's cost)
//   peer-zmq  transport "zmq" forced: every message over the ZeroMQ
//             connection (its figures against zmq-ipc's are the cost of the
//             Peer's framing and queues over zeromq.js alone)
// The host listens on an ipc:// endpoint in a scratch directory and offers
// it; the peer connects; the host's first peer is the other end.
import { rmSync } from "node:fs";
import * as path from "node:path";

import { connect, listen, type Peer } from "../../lib/index.js";
import { peerEndpoint, scratchDir } from "../scratch.js";
import { recvChunked, sendChunked, type ConnectOptions, type Endpoint, type Transport } from "./types.js";

const BULK_CHUNK = 4 << 20;

function capacityFor(o: ConnectOptions): number {
  return o.scenario === "bulk" ? 64 << 20 : 4 << 20;
}

function endpoint(peer: Peer, cleanup: () => Promise<void> | void): Endpoint {
  const tx = peer.writer;
  const ep: Endpoint = {
    maxMessageSize: tx?.maxMessageSize ?? 256 << 20,
    send(msg) {
      tx?.cork();
      if (peer.trySend(msg)) return;
      return peer.send(msg);
    },
    recv() {
      tx?.uncork(); // flush before waiting for input
      return peer.tryRecv() ?? peer.recv();
    },
    async sendBulk(data) {
      await sendChunked(ep, data, Math.min(BULK_CHUNK, ep.maxMessageSize));
      tx?.uncork();
    },
    recvBulk: (size, onChunk) => recvChunked(ep, size, onChunk),
    async close() {
      await peer.close();
      await cleanup();
    },
  };
  return ep;
}

export function peerTransport(transport: "shm" | "zmq"): Transport {
  const mode = transport === "shm" ? "auto" : "zmq";
  return {
    transport: `peer-${transport}`,
    mode: null,
    async host(o) {
      const dir = scratchDir("smsh-peer-");
      const server = await listen(peerEndpoint(dir, "s.sock"), { name: "host", transport: mode, capacity: capacityFor(o) });
      const first = (async () => {
        for await (const p of server) return p;
        throw new Error("peer transport: the server closed before the peer connected");
      })();
      const cleanup = async (): Promise<void> => {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      };
      return {
        offer: server.endpoint,
        complete: async () => {
          const peer = await first;
          if (peer.transport !== transport) throw new Error(`peer transport: agreed on ${peer.transport}, expected ${transport} (${peer.reason})`);
          return endpoint(peer, cleanup);
        },
      };
    },
    async peer(offer, o) {
      const peer = await connect(offer, { name: "peer", transport: mode, capacity: capacityFor(o) });
      return { answer: "connected", endpoint: endpoint(peer, () => {}) };
    },
  };
}
