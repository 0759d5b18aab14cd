// Node stream sockets (TCP loopback, Unix domain) as a benchmark transport,
// written the way a careful user would: [u32 length][payload] framing built
// in one buffer per message, no JSON, noDelay, a parser that slices frames
// out of received chunks (copying only a frame split across chunks), and
// writes corked per tick (flushed before waiting for input) so a burst goes
// out as one writev. Bulk transfers are raw: one write of the whole buffer,
// and the receiver consumes the chunks as they arrive.
import { rmSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

import type { Endpoint, Transport } from "./types.js";
import { ipcPath, scratchDir } from "../scratch.js";

function endpoint(socket: net.Socket, cork: boolean, cleanup: () => void): Endpoint {
  socket.setNoDelay(true);
  const queue: Uint8Array[] = [];
  let waiter: ((m: Uint8Array) => void) | null = null;
  let failure: ((e: Error) => void) | null = null;
  let failed: Error | null = null;
  let parts: Buffer[] = []; // an incomplete frame, in pieces
  let partLen = 0;
  let corked = false;
  // Bulk mode: raw bytes go to this consumer until `rawLeft` is zero.
  let raw: ((c: Uint8Array) => void) | null = null;
  let rawLeft = 0;
  let rawDone: (() => void) | null = null;

  const deliver = (m: Uint8Array): void => {
    if (waiter) {
      const w = waiter;
      waiter = failure = null;
      w(m);
    } else queue.push(m);
  };
  const parse = (chunk: Buffer): void => {
    let buf = chunk;
    if (partLen > 0) {
      parts.push(chunk);
      partLen += chunk.length;
      if (partLen < 4) return;
      const head = parts[0]!.length >= 4 ? parts[0]! : Buffer.concat(parts, 4);
      if (partLen - 4 < head.readUInt32LE(0)) return;
      buf = Buffer.concat(parts, partLen);
      parts = [];
      partLen = 0;
    }
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32LE(off);
      if (buf.length - off - 4 < len) break;
      deliver(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    if (off < buf.length) {
      parts = [buf.subarray(off)];
      partLen = buf.length - off;
    }
  };
  socket.on("data", (chunk: Buffer) => {
    if (raw) {
      const take = Math.min(rawLeft, chunk.length);
      raw(chunk.subarray(0, take));
      rawLeft -= take;
      if (rawLeft === 0) {
        raw = null;
        rawDone!();
        if (take < chunk.length) parse(chunk.subarray(take));
      }
      return;
    }
    parse(chunk);
  });
  const fail = (e: Error): void => {
    failed = e;
    failure?.(e);
  };
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("connection closed")));

  let drained: Promise<void> | null = null;
  const write = (data: Uint8Array): Promise<void> | void => {
    if (!socket.write(data)) {
      drained ??= new Promise<void>((r) => socket.once("drain", () => ((drained = null), r())));
      return drained;
    }
  };
  const flush = (): void => {
    if (!corked) return;
    corked = false;
    socket.uncork();
  };
  return {
    maxMessageSize: 0xffffffff,
    send(msg) {
      if (failed) throw failed;
      if (cork && !corked) {
        corked = true;
        socket.cork();
        process.nextTick(flush);
      }
      const frame = Buffer.allocUnsafe(4 + msg.byteLength);
      frame.writeUInt32LE(msg.byteLength, 0);
      frame.set(msg, 4);
      return write(frame);
    },
    sendMany(msgs) {
      // The batched way of a stream socket: every frame in one buffer, one write.
      if (failed) throw failed;
      let total = 0;
      for (const m of msgs) total += 4 + m.length;
      const buf = Buffer.allocUnsafe(total);
      let off = 0;
      for (const m of msgs) {
        buf.writeUInt32LE(m.length, off);
        buf.set(m, off + 4);
        off += 4 + m.length;
      }
      return write(buf);
    },
    recvMany(onMessage) {
      flush();
      const deliverAll = (): number => {
        const n = queue.length;
        for (let i = 0; i < n; i++) {
          const m = queue[i]!;
          onMessage(m, 0, m.length);
        }
        queue.length = 0;
        return n;
      };
      if (queue.length > 0) return deliverAll();
      if (failed) throw failed;
      return new Promise<number>((resolve, reject) => {
        waiter = (m) => {
          try {
            onMessage(m, 0, m.length);
            resolve(1 + deliverAll());
          } catch (e) {
            reject(e as Error);
          }
        };
        failure = reject;
      });
    },
    recv() {
      flush();
      const m = queue.shift();
      if (m) return m;
      if (failed) throw failed;
      return new Promise<Uint8Array>((resolve, reject) => {
        waiter = resolve;
        failure = reject;
      });
    },
    async sendBulk(data) {
      flush();
      await write(data);
    },
    recvBulk(size, onChunk) {
      if (queue.length || partLen) throw new Error("bulk: framed data pending");
      return new Promise<void>((resolve, reject) => {
        raw = onChunk;
        rawLeft = size;
        rawDone = resolve;
        failure = reject;
      });
    },
    close() {
      socket.destroy();
      cleanup();
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
        dir = scratchDir("smsh-bench-");
        offer = ipcPath(dir, "s.sock");
        await new Promise<void>((r) => server.listen(offer, r));
      }
      const conn = new Promise<net.Socket>((r) => server.once("connection", r));
      const cleanup = (): void => {
        server.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
      };
      return { offer, complete: async () => endpoint(await conn, cork, cleanup) };
    },
    async peer(offer) {
      const socket = kind === "tcp" ? net.connect(Number(offer), "127.0.0.1") : net.connect(offer);
      await new Promise<void>((r, j) => socket.once("connect", r).once("error", j));
      return { answer: "", endpoint: endpoint(socket, cork, () => undefined) };
    },
  };
}

export const tcpTransport = (cork = true): Transport => socketTransport("tcp", cork);
export const udsTransport = (cork = true): Transport => socketTransport("uds", cork);
