// ZeroMQ (the zeromq package, v6) as a benchmark transport: a Dealer bound
// by the host and a Dealer connected by the peer, over ipc:// or tcp://.
// One ZeroMQ message per message; a bulk transfer is one message too.
// zeromq is an optional dependency: without it these transports are skipped.
import { rmSync } from "node:fs";
import * as path from "node:path";

import type { Endpoint, Transport } from "./types.js";
import { ZMQ_IPC, scratchDir } from "../scratch.js";

import { zeromqOrNull as loadZmq, type Zmq } from "../../lib/peer/zmq.js";

type Dealer = InstanceType<Zmq["Dealer"]>;

export { loadZmq };

function endpoint(sock: Dealer, cleanup: () => void): Endpoint {
  return {
    maxMessageSize: Number.MAX_SAFE_INTEGER,
    send(msg) {
      // zeromq.js may send a buffer without copying it after send() resolves:
      // a caller that reuses its buffer (as the scenarios do) must hand over a copy.
      return sock.send(Buffer.from(msg));
    },
    async recv() {
      const [m] = await sock.receive();
      return m!;
    },
    // The batched way of ZeroMQ: one multipart message, each part a message.
    sendMany: (msgs) => sock.send(msgs.map((m) => Buffer.from(m))),
    async recvMany(onMessage) {
      const parts = await sock.receive();
      for (const m of parts) onMessage(m, 0, m.length);
      return parts.length;
    },
    async sendBulk(data) {
      await sock.send(data);
    },
    async recvBulk(size, onChunk) {
      const [m] = await sock.receive();
      if (m!.length !== size) throw new Error(`bulk: got ${m!.length} bytes, expected ${size}`);
      onChunk(m!);
    },
    close() {
      sock.linger = 0;
      sock.close();
      cleanup();
    },
  };
}

function newDealer(z: Zmq): Dealer {
  // Unlimited queues: the benchmark measures the transport, not drops at a
  // high-water mark (Dealer blocks rather than drops, but keep it explicit).
  return new z.Dealer({ sendHighWaterMark: 0, receiveHighWaterMark: 0 });
}

function zmqTransport(kind: "ipc" | "tcp"): Transport {
  return {
    transport: `zmq-${kind}`,
    mode: null,
    async host() {
      const z = loadZmq();
      if (!z) throw new Error("the zeromq package is not installed");
      const sock = newDealer(z);
      let dir = "";
      if (kind === "ipc") {
        dir = scratchDir("smsh-zmq-");
        await sock.bind(`ipc://${path.join(dir, "s.ipc")}`);
      } else {
        await sock.bind("tcp://127.0.0.1:*");
      }
      const offer = sock.lastEndpoint!;
      const cleanup = (): void => {
        if (dir) rmSync(dir, { recursive: true, force: true });
      };
      return { offer, complete: async () => endpoint(sock, cleanup) };
    },
    async peer(offer) {
      const z = loadZmq();
      if (!z) throw new Error("the zeromq package is not installed");
      const sock = newDealer(z);
      sock.connect(offer);
      return { answer: "", endpoint: endpoint(sock, () => undefined) };
    },
  };
}

/**
 * zmq-router: what a Peer on transport "zmq" is built on, alone: the host
 * binds a ROUTER (ipc://), the peer connects a DEALER and says hello first,
 * so the ROUTER learns its routing id; every host message then carries it.
 * peer-zmq's figures against these are the Peer layer's cost.
 */
export function zmqRouterTransport(): Transport {
  return {
    transport: "zmq-router",
    mode: null,
    async host() {
      const z = loadZmq();
      if (!z) throw new Error("the zeromq package is not installed");
      const router = new z.Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0 });
      const dir = scratchDir("smsh-zmq-");
      await router.bind(ZMQ_IPC ? `ipc://${path.join(dir, "r.ipc")}` : "tcp://127.0.0.1:*");
      return {
        offer: router.lastEndpoint!,
        complete: async () => {
          const [id] = await router.receive(); // the peer's hello
          const ep: Endpoint = {
            maxMessageSize: Number.MAX_SAFE_INTEGER,
            send: (msg) => router.send([id!, Buffer.from(msg)]),
            async recv() {
              const [, m] = await router.receive();
              return m!;
            },
            sendBulk: (data) => router.send([id!, data]),
            async recvBulk(size, onChunk) {
              const [, m] = await router.receive();
              if (m!.length !== size) throw new Error(`bulk: got ${m!.length} bytes, expected ${size}`);
              onChunk(m!);
            },
            close() {
              router.linger = 0;
              router.close();
              rmSync(dir, { recursive: true, force: true });
            },
          };
          return ep;
        },
      };
    },
    async peer(offer) {
      const z = loadZmq();
      if (!z) throw new Error("the zeromq package is not installed");
      const sock = newDealer(z);
      sock.connect(offer);
      await sock.send("hello");
      return { answer: "", endpoint: endpoint(sock, () => undefined) };
    },
  };
}

export const zmqIpcTransport = (): Transport => zmqTransport("ipc");
export const zmqTcpTransport = (): Transport => zmqTransport("tcp");
