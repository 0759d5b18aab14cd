// The control plane against a hostile local user or a buggy peer (each case
// from an adversarial review): raw ZeroMQ sockets speaking the protocol
// wrongly, rings that are not the peer's, handshakes never finished, a
// connection that never reads, ipc paths that are not ours to replace, and
// CURVE keys passed through to ZeroMQ.
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import * as zmq from "zeromq";

import { Channel, connect, curveKeyPair, listen } from "../../dist/lib/index.js";
import { localIdentity, makeRing, proofFor } from "../../dist/lib/peer/handshake.js";
import { MsgType, decode, encodeControl, encodeData } from "../../dist/lib/peer/protocol.js";
import { firstPeer, killStrays, sleep } from "../helpers.js";

const dir = mkdtempSync(path.join(tmpdir(), "smsh-security-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killStrays);

let n = 0;
const endpoint = (): string => `ipc://${path.join(dir, `x${n++}.sock`)}`;

/** The next message on a raw socket, decoded; rejects after `ms`. */
async function next(sock: zmq.Dealer, ms = 10_000): Promise<ReturnType<typeof decode>> {
  sock.receiveTimeout = ms;
  const frames = await sock.receive();
  return decode(frames);
}

describe("the control plane under attack", () => {
  it("a HELLO naming an ordinary channel (not a peer ring) is not obeyed: the listener does not take its reader's place", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner" });
    const victim = Channel.create({ capacity: 4096 }); // some application's channel; its reader comes later
    const raw = new zmq.Dealer({ linger: 0 });
    raw.connect(ep);
    try {
      await raw.send(encodeControl({ type: MsgType.Hello, ...localIdentity("attacker"), ring: victim.name }));
      const w = await next(raw);
      expect(w).toMatchObject({ type: MsgType.Welcome, ring: null, proof: null });
      await raw.send(encodeControl({ type: MsgType.Bye, reconnect: false }));
      await sleep(100); // time for the listener to act on BYE (it must not close anything of the victim's)
      const rx = Channel.attach(victim.name); // the real reader: not EBUSY
      expect(victim.trySend(Buffer.from("still mine"))).toBe(true);
      expect(Buffer.from(rx.tryRecv()!).toString()).toBe("still mine");
      rx.close();
    } finally {
      raw.close();
      victim.close();
      await server.close();
    }
  });

  it("WELCOME's proof is an HMAC by role, never the nonce; a READY whose proof is the listener's own kind (or the nonce) is refused", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner" });
    const { tx, nonce } = makeRing({ capacity: 4096 });
    const raw = new zmq.Dealer({ linger: 0 });
    raw.connect(ep);
    try {
      await raw.send(encodeControl({ type: MsgType.Hello, ...localIdentity("prover"), ring: tx!.name }));
      const w = await next(raw);
      if ("error" in w || w.type !== MsgType.Welcome) throw new Error(`not a WELCOME: ${JSON.stringify(w)}`);
      expect(w.ring).toMatch(/^smsh-/);
      expect(w.proof).toBe(proofFor(nonce, "listener", tx!.name, w.ring));
      expect(w.proof).not.toBe(Buffer.from(nonce).toString("hex"));
      // The listener's ring's nonce, read as a mapping process would: a connector's proof uses it with role "connector".
      const theirs = Channel.attach(w.ring!);
      const theirNonce = new Uint8Array(theirs.segment.buffer, 80, 16).slice();
      // Wrong role: what a listener would compute for the same rings.
      await raw.send(encodeControl({ type: MsgType.Ready, transport: "shm", proof: proofFor(theirNonce, "listener", w.ring!, tx!.name), reason: "" }));
      expect(await next(raw)).toMatchObject({ type: MsgType.Refuse });
      theirs.close();
      // And the nonce itself, on a new handshake.
      await raw.send(encodeControl({ type: MsgType.Hello, ...localIdentity("prover"), ring: tx!.name }));
      const w2 = await next(raw);
      if ("error" in w2 || w2.type !== MsgType.Welcome) throw new Error("not a WELCOME");
      const t2 = Channel.attach(w2.ring!);
      const hex = Buffer.from(new Uint8Array(t2.segment.buffer, 80, 16)).toString("hex");
      t2.close();
      await raw.send(encodeControl({ type: MsgType.Ready, transport: "shm", proof: hex, reason: "" }));
      expect(await next(raw)).toMatchObject({ type: MsgType.Refuse });
      expect(server.peers).toHaveLength(0);
    } finally {
      raw.close();
      tx!.close();
      await server.close();
    }
  });

  it("a handshake never finished (no READY) is dropped after the handshake timeout, with the ring made for it", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner", handshakeTimeout: 200 });
    const { tx } = makeRing({ capacity: 4096 });
    const raw = new zmq.Dealer({ linger: 0 });
    raw.connect(ep);
    try {
      await raw.send(encodeControl({ type: MsgType.Hello, ...localIdentity("quitter"), ring: tx!.name }));
      const w = await next(raw);
      if ("error" in w || w.type !== MsgType.Welcome) throw new Error("not a WELCOME");
      expect(existsSync(`/dev/shm/${w.ring}`)).toBe(true);
      // The listener checks every second: gone within a few (10 s: a loaded machine).
      const until = Date.now() + 10_000;
      while (existsSync(`/dev/shm/${w.ring}`) && Date.now() < until) await sleep(50);
      expect(existsSync(`/dev/shm/${w.ring}`)).toBe(false);
    } finally {
      raw.close();
      tx!.close();
      await server.close();
    }
  });

  it("a connection that sends HELLOs and never reads does not hold up anyone else's handshake or messages", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner", transport: "zmq" });
    const flood = new zmq.Dealer({ linger: 0, receiveHighWaterMark: 1 });
    flood.connect(ep);
    try {
      const hello = encodeControl({ type: MsgType.Hello, ...localIdentity("flood"), ring: null });
      // Far more WELCOMEs than ZeroMQ's queues and the socket buffers hold for it.
      for (let i = 0; i < 20_000; i++) await flood.send(hello);
      const accepted = firstPeer(server);
      const peer = await connect(ep, { name: "honest", timeout: 20_000 });
      const sp = await accepted;
      await peer.send(Buffer.from("ping"));
      expect(Buffer.from(await sp.recv({ timeout: 20_000 })).toString()).toBe("ping");
      await sp.send(Buffer.from("pong"));
      expect(Buffer.from(await peer.recv({ timeout: 20_000 })).toString()).toBe("pong");
      await peer.close();
    } finally {
      flood.close();
      await server.close();
    }
  }, 60_000);

  it("listen() on an ipc path: a file that is not a socket is never replaced (EEXIST), a live listener's is not taken (EADDRINUSE), a dead one's is; close() removes the socket file", async () => {
    const file = path.join(dir, "precious.txt");
    writeFileSync(file, "keep me");
    await expect(listen(`ipc://${file}`, { name: "x" })).rejects.toMatchObject({ code: "EEXIST" });
    expect(readFileSync(file, "utf8")).toBe("keep me");
    const ep = endpoint();
    const sock = ep.slice("ipc://".length);
    const first = await listen(ep, { name: "first" });
    expect(lstatSync(sock).mode & 0o777).toBe(0o600);
    await expect(listen(ep, { name: "second" })).rejects.toMatchObject({ code: "EADDRINUSE" });
    await first.close();
    expect(existsSync(sock)).toBe(false);
    // A stale socket file (its listener gone without removing it) is replaced.
    const { execFileSync } = await import("node:child_process");
    execFileSync("python3", ["-c", `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(sock)})`]);
    expect(lstatSync(sock).isSocket()).toBe(true);
    const again = await listen(ep, { name: "again" });
    const peer = await connect(ep, { name: "c" });
    expect(peer.remoteName).toBe("again");
    await peer.close();
    await again.close();
  });

  it("CURVE: the listener's secret key and the connector's copy of its public key go to ZeroMQ; with them traffic passes, without them or with another key no handshake ever completes", async () => {
    const keys = curveKeyPair();
    const server = await listen("tcp://127.0.0.1:*", { name: "planner", curve: { secretKey: keys.secretKey } });
    try {
      const accepted = firstPeer(server);
      const peer = await connect(server.endpoint, { name: "trusted", transport: "zmq", curve: { serverKey: keys.publicKey } });
      const sp = await accepted;
      await peer.send(Buffer.from("sealed"));
      expect(Buffer.from(await sp.recv({ timeout: 10_000 })).toString()).toBe("sealed");
      await peer.close();
      // ZeroMQ drops a connection whose security fails (ECONNRESET); were a drop missed, the 1 s timeout would end it
      // (a loopback handshake takes a millisecond). Either way: no handshake, no peer.
      for (const curve of [undefined, { serverKey: curveKeyPair().publicKey }]) {
        const e = (await connect(server.endpoint, { name: "intruder", timeout: 1000, curve }).then(
          () => null,
          (err: unknown) => err,
        )) as { code?: string } | null;
        expect(["ECONNRESET", "ETIMEDOUT"]).toContain(e?.code);
      }
      expect(server.peers).toHaveLength(0);
      await expect(connect(server.endpoint, { name: "x", curve: { serverKey: "short" } })).rejects.toThrow(/Z85/);
      await expect(connect(server.endpoint, { name: "x", curve: {} })).rejects.toThrow(/serverKey/);
    } finally {
      await server.close();
    }
  });

  it("maxMessageSize: a larger send on transport zmq is a RangeError at the sender (ZeroMQ would drop the receiver's connection)", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner", transport: "zmq", maxMessageSize: 1024 });
    try {
      const accepted = firstPeer(server);
      const peer = await connect(ep, { name: "c", maxMessageSize: 1024 });
      const sp = await accepted;
      expect(peer.transport).toBe("zmq");
      expect(() => peer.trySend(new Uint8Array(1025))).toThrow(RangeError);
      await expect(peer.send(new Uint8Array(1025))).rejects.toThrow(RangeError);
      await peer.send(new Uint8Array(1024));
      expect((await sp.recv({ timeout: 10_000 })).byteLength).toBe(1024);
      await peer.close();
    } finally {
      await server.close();
    }
  });
});

describe("flow control on transport zmq", () => {
  it("a sender gets at most the window (64 MiB) ahead of a reader that does not read; reading gives it room; all arrives in order", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner", transport: "zmq" });
    try {
      const accepted = firstPeer(server);
      const c = await connect(ep, { name: "fast" });
      const slow = await accepted;
      const m = Buffer.alloc(1 << 20);
      let sent = 0;
      for (;;) {
        m.writeUInt32LE(sent, 0);
        if (!c.trySend(m)) break;
        sent++;
      }
      expect(sent).toBe(64); // CREDIT_WINDOW / 1 MiB
      m.writeUInt32LE(sent, 0);
      let late = false;
      const waiting = c.send(m, { timeout: 30_000 }).then(() => (late = true));
      await sleep(200);
      expect(late).toBe(false); // no credit, no send
      for (let i = 0; i <= sent; i++) {
        const got = await slow.recv({ timeout: 30_000 });
        expect(got.byteLength).toBe(1 << 20);
        expect(Buffer.from(got.buffer, got.byteOffset, 4).readUInt32LE(0)).toBe(i);
      }
      await waiting;
      expect(late).toBe(true);
      await c.close();
    } finally {
      await server.close();
    }
  }, 60_000);

  it("concurrent sends keep call order: a small one never overtakes a large one waiting for credit; trySend() says no room while any waits", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner", transport: "zmq" });
    try {
      const accepted = firstPeer(server);
      const c = await connect(ep, { name: "c" });
      const sp = await accepted;
      const msg = (i: number, size: number): Buffer => {
        const b = Buffer.alloc(size);
        b.writeUInt32LE(i, 0);
        return b;
      };
      const sends = [c.send(msg(0, 40 << 20)), c.send(msg(1, 30 << 20)), c.send(msg(2, 16)), c.send(msg(3, 16))];
      expect(c.trySend(msg(4, 16))).toBe(false);
      const got: number[] = [];
      for (let i = 0; i < 4; i++) {
        const m = await sp.recv({ timeout: 30_000 });
        got.push(Buffer.from(m.buffer, m.byteOffset, 4).readUInt32LE(0));
      }
      await Promise.all(sends);
      expect(got).toEqual([0, 1, 2, 3]);
      await c.close();
    } finally {
      await server.close();
    }
  }, 60_000);

  it("a peer that sends past the window is dropped (its connection lost), not buffered without bound", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner" });
    const raw = new zmq.Dealer({ linger: 0 });
    raw.connect(ep);
    try {
      await raw.send(encodeControl({ type: MsgType.Hello, ...localIdentity("greedy"), ring: null }));
      expect(await next(raw)).toMatchObject({ type: MsgType.Welcome });
      await raw.send(encodeControl({ type: MsgType.Ready, transport: "zmq", proof: null, reason: "" }));
      const sp = await firstPeer(server);
      const chunk = encodeData(new Uint8Array(1 << 20), 0);
      for (let i = 0; i < 80; i++) await raw.send(chunk);
      const until = Date.now() + 10_000;
      while (sp.state === "connected" && Date.now() < until) await sleep(20);
      expect(sp.state).toBe("dead");
      expect(sp.stateReason).toMatch(/flow-control window/);
    } finally {
      raw.close();
      await server.close();
    }
  }, 30_000);
});
