// Node stream sockets (TCP loopback, Unix domain) as a benchmark transport,
// written the way a careful user would: [u32 length][payload] framing, no
// JSON, noDelay, each frame built in one buffer, writes corked per tick (and
// flushed before waiting for input) so a burst goes out as one writev, and a parser that slices frames out of
// the received chunks without copying when a frame lies inside one chunk.
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";

import type { Endpoint, Transport } from "./types.js";

function endpoint(socket: net.Socket, cork: boolean): Endpoint {
  socket.setNoDelay(true);
  const queue: Uint8Array[] = [];
  const waiters: ((m: Uint8Array) => void)[] = [];
  let failed: Error | null = null;
  let pending: Buffer | null = null;
  let corked = false;
  const deliver = (m: Uint8Array): void => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  };
  socket.on("data", (chunk: Buffer) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32LE(off);
      if (buf.length - off - 4 < len) break;
      deliver(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    pending = off < buf.length ? buf.subarray(off) : null;
  });
  socket.on("error", (e) => (failed = e));
  let drained: Promise<void> | null = null;
  return {
    send(msg) {
      if (failed) throw failed;
      if (cork && !corked) {
        corked = true;
        socket.cork();
        process.nextTick(() => {
          if (!corked) return;
          corked = false;
          socket.uncork();
        });
      }
      const frame = Buffer.allocUnsafe(4 + msg.byteLength);
      frame.writeUInt32LE(msg.byteLength, 0);
      frame.set(msg, 4);
      const ok = socket.write(frame);
      if (!ok) {
        drained ??= new Promise<void>((r) => socket.once("drain", () => ((drained = null), r())));
        return drained;
      }
    },
    recv() {
      if (corked) {
        corked = false; // flush before waiting for input
        socket.uncork();
      }
      const m = queue.shift();
      if (m) return m;
      if (failed) throw failed;
      return new Promise<Uint8Array>((r) => waiters.push(r));
    },
    close() {
      socket.destroy();
    },
  };
}

function socketTransport(kind: "tcp" | "uds", cork: boolean): Transport {
  return {
    transport: kind,
    mode: null,
    async host() {
      const server = net.createServer();
      let dir = "";
      let offer: string;
      if (kind === "tcp") {
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        offer = String((server.address() as net.AddressInfo).port);
      } else {
        dir = mkdtempSync(path.join(tmpdir(), "smsh-bench-"));
        offer = path.join(dir, "s.sock");
        await new Promise<void>((r) => server.listen(offer, r));
      }
      const conn = new Promise<net.Socket>((r) => server.once("connection", r));
      return {
        offer,
        complete: async () => {
          const ep = endpoint(await conn, cork);
          const close = ep.close.bind(ep);
          ep.close = () => {
            close();
            server.close();
            if (dir) rmSync(dir, { recursive: true, force: true });
          };
          return ep;
        },
      };
    },
    async peer(offer) {
      const socket = kind === "tcp" ? net.connect(Number(offer), "127.0.0.1") : net.connect(offer);
      await new Promise<void>((r, j) => socket.once("connect", r).once("error", j));
      return { answer: "", endpoint: endpoint(socket, cork) };
    },
  };
}

export const tcpTransport = (cork = true): Transport => socketTransport("tcp", cork);
export const udsTransport = (cork = true): Transport => socketTransport("uds", cork);
