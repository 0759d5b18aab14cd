// Request/reply against a misbehaving other side, both Peers in this process
// (listen() and connect() here): replies nobody asked for (an unknown id, a
// duplicate) are dropped and counted, never given to another caller; a
// truncated or unknown envelope frame is ECORRUPT for the requests waiting
// and never a crash; answering twice, after close or too large is a clear
// error; a connector's requests go on across a listener restart (those
// sent over the lost connection fail with EPEERDEAD); the channel reader's
// batch calls treat envelopes as documented (docs/PROTOCOL.md §7).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { connect, listen, type Peer, type PeerRequest, type Server } from "../../dist/lib/index.js";
import { decode, encodeEnvelope } from "../../dist/lib/peer/protocol.js";
import { channelPair, firstPeer } from "../helpers.js";

const dir = mkdtempSync(path.join(tmpdir(), "smsh-reqrep-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const endpoint = (): string => `ipc://${path.join(dir, `h${n++}.sock`)}`;

async function pair(transport: "auto" | "zmq" = "auto"): Promise<{ server: Server; sp: Peer; cp: Peer; close(): Promise<void> }> {
  const ep = endpoint();
  const server = await listen(ep, { name: "server", capacity: 16 * 1024, maxMessageSize: 1 << 20 });
  const [cp, sp] = await Promise.all([connect(ep, { name: "client", transport }), firstPeer(server)]);
  return {
    server,
    sp,
    cp,
    async close() {
      await cp.close();
      await sp.close();
      await server.close();
    },
  };
}

/** The next request the serving side gets (10 s: generous for a loaded machine). */
async function nextRequest(p: Peer): Promise<PeerRequest> {
  const it = p.requests({ timeout: 10_000 });
  const r = await it.next();
  await it.return?.();
  if (r.done === true) throw new Error("no request");
  return r.value;
}

describe("request/reply against a hostile other side", () => {
  it("a reply with an unknown id and a duplicate reply are dropped and counted; the next requests get their own replies", async () => {
    const p = await pair();
    try {
      const w = p.sp.writer!;
      // Nobody asked: id 123456 was never used.
      expect(w.trySendEnvelope(2, 123456, Buffer.from("stray"))).toBe(true);
      const first = p.cp.request(Buffer.from("one"), { timeout: 10_000 });
      const req = await nextRequest(p.sp);
      expect(Buffer.from(req.data).toString()).toBe("one");
      await req.reply(Buffer.from("reply one"));
      // The same id again, after its request was answered.
      expect(w.trySendEnvelope(2, req.id, Buffer.from("duplicate"))).toBe(true);
      expect(Buffer.from(await first).toString()).toBe("reply one");
      const second = p.cp.request(Buffer.from("two"), { timeout: 10_000 });
      const req2 = await nextRequest(p.sp);
      expect(req2.id).not.toBe(req.id); // never reused while... nor right after
      await req2.reply(Buffer.from("reply two"));
      expect(Buffer.from(await second).toString()).toBe("reply two");
      expect(p.cp.stats.repliesDropped).toBe(2);
      expect(p.cp.stats.repliesReceived).toBe(2);
    } finally {
      await p.close();
    }
  });

  for (const [what, patch] of [
    // (A valid kind where the kind would be: only the length can tell.)
    ["a truncated envelope (4 bytes: no room for its kind and id)", (h: Uint32Array) => ((h[0] = 4), (h[1] = 4), (h[2] = 2), (h[3] = 1))],
    ["an envelope of unknown kind 9", (h: Uint32Array) => ((h[1] = 4), (h[2] = 9))],
    ["a loan envelope of the wrong length", (h: Uint32Array) => ((h[0] = 16), (h[1] = 5))],
  ] as const) {
    it(`${what} is ECORRUPT for the requests waiting, and no crash`, async () => {
      const p = await pair();
      try {
        const waiting = p.cp.request(Buffer.from("q"), { timeout: 10_000 });
        await nextRequest(p.sp);
        const w = p.sp.writer!;
        const view = w.reserve(16)!;
        view.fill(0);
        // The frame header sits 8 bytes before the payload; rewritten before this process's reader can run.
        w.commit(view);
        patch(new Uint32Array(view.buffer, view.byteOffset - 8, 4));
        await expect(waiting).rejects.toMatchObject({ code: "ECORRUPT" });
        await expect(p.cp.request(Buffer.from("again"), { timeout: 10_000 })).rejects.toMatchObject({ code: "ECORRUPT" }); // at once
      } finally {
        await p.close();
      }
    });
  }

  it("answering twice is ERR_INVALID_STATE; after the requester closed, ECLOSED; too large on zmq (maxMessageSize), RangeError and the request can still fail()", async () => {
    const p = await pair("zmq");
    try {
      const r1 = p.cp.request(Buffer.from("a"), { timeout: 10_000 });
      const req = await nextRequest(p.sp);
      await expect(req.reply(new Uint8Array((1 << 20) + 1))).rejects.toBeInstanceOf(RangeError); // the listener's maxMessageSize
      expect(req.answered).toBe(false);
      await req.fail("too large");
      await expect(r1).rejects.toMatchObject({ code: "EREMOTE", message: expect.stringContaining("too large") });
      await expect(req.reply(Buffer.from("x"))).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
      await expect(req.fail("x")).rejects.toMatchObject({ code: "ERR_INVALID_STATE" });
      const r2 = p.cp.request(Buffer.from("b"), { timeout: 10_000 }).catch((e: { code?: string }) => e.code);
      const req2 = await nextRequest(p.sp);
      await p.cp.close();
      expect(await r2).toBe("ECLOSED");
      // The requester is gone: its end reaches the server (BYE), then the answer fails. (10 s: a loaded machine.)
      const until = Date.now() + 10_000;
      while (p.sp.state === "connected" && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      await expect(req2.reply(Buffer.from("late"))).rejects.toMatchObject({ code: "ECLOSED" });
      await expect(p.cp.request(Buffer.from("c"))).rejects.toMatchObject({ code: "ECLOSED" });
    } finally {
      await p.close();
    }
  });

  it("wrong arguments: not bytes is a TypeError; bad options are rejected before anything is sent", async () => {
    const p = await pair();
    try {
      await expect(p.cp.request("text" as unknown as Uint8Array)).rejects.toBeInstanceOf(TypeError);
      await expect(p.cp.request(Buffer.from("x"), { timeout: -1 })).rejects.toBeInstanceOf(RangeError);
      await expect(p.cp.serve(42 as unknown as () => Uint8Array)).rejects.toBeInstanceOf(TypeError);
      expect(p.cp.stats.requestsSent).toBe(0);
    } finally {
      await p.close();
    }
  });

  for (const transport of ["auto", "zmq"] as const) {
    it(`${transport === "auto" ? "shm" : "zmq"}: a connector's requests across a listener restart: those over the lost connection fail with EPEERDEAD, later ones are answered`, async () => {
      const ep = endpoint();
      let server = await listen(ep, { name: "first", transport, capacity: 16 * 1024 });
      const cp = await connect(ep, { name: "client", transport });
      try {
        let sp = await firstPeer(server);
        const a = cp.request(Buffer.from("a"), { timeout: 10_000 });
        const ra = await nextRequest(sp);
        await ra.reply(Buffer.concat([Buffer.from("first:"), ra.data]));
        expect(Buffer.from(await a).toString()).toBe("first:a");
        // One the first listener never answers: it goes down with it.
        const lost = cp.request(Buffer.from("lost"), { timeout: 20_000 }).catch((e: { code?: string }) => e.code);
        await nextRequest(sp); // taken, never answered
        await server.close(); // BYE "reconnect": the connector dials again
        expect(await lost).toBe("EPEERDEAD");
        server = await listen(ep, { name: "second", transport, capacity: 16 * 1024 });
        // Made while reconnecting or after: waits for the new connection (20 s: a loaded machine's redial).
        const again = cp.request(Buffer.from("b"), { timeout: 20_000 });
        sp = await firstPeer(server);
        void sp.serve((r) => Buffer.concat([Buffer.from("second:"), r.data])).catch(() => {});
        expect(Buffer.from(await again).toString()).toBe("second:b");
        expect(cp.stats.reconnects).toBe(1);
      } finally {
        await cp.close();
        await server.close();
      }
    });
  }
});

describe("envelopes at the channel and wire level", () => {
  it("a channel reader: tryRecv() hands an envelope up with its kind and id; recvMany() stops before one; drain() refuses it (ECORRUPT)", () => {
    const { tx, rx, close } = channelPair(4096);
    try {
      tx.trySend(Buffer.from("a"));
      tx.trySendEnvelope(1, 77, Buffer.from("req"));
      tx.trySend(Buffer.from("b"));
      const batch = rx.tryRecvMany();
      expect(batch.map((m) => Buffer.from(m).toString())).toEqual(["a"]);
      expect(rx.envelope).toBe(0);
      const e = rx.tryRecv()!;
      expect(Buffer.from(e).toString()).toBe("req");
      expect([rx.envelope, rx.envelopeId]).toEqual([1, 77]);
      expect(Buffer.from(rx.tryRecv()!).toString()).toBe("b");
      expect(rx.envelope).toBe(0);
      tx.trySendEnvelope(2, 5, Buffer.from("rep"));
      expect(() => rx.drain(() => {})).toThrow(expect.objectContaining({ code: "ECORRUPT" }));
    } finally {
      close();
    }
  });

  it("ZeroMQ ENVELOPE messages: decoded with kind and id; short or of unknown kind, an error (the message is dropped)", () => {
    const [f] = encodeEnvelope(2, 0xfffffffe, Buffer.from("body"), 5);
    expect(decode([f])).toMatchObject({ type: 9, kind: 2, id: 0xfffffffe, credit: 5 });
    expect(Buffer.from((decode([f]) as { data: Uint8Array }).data).toString()).toBe("body");
    expect(decode([f.subarray(0, 20)])).toHaveProperty("error");
    const bad = Buffer.from(f);
    bad.writeUInt32LE(4, 16);
    expect(decode([bad])).toHaveProperty("error");
  });
});

describe("bad arguments", () => {
  it("peer.recvSync() of a timeout that is not a number is a TypeError with a code", async () => {
    const { cp, close } = await pair();
    try {
      for (const bad of [10n, Symbol("x"), "5", null]) {
        let e: (Error & { code?: string }) | null = null;
        try {
          cp.recvSync(bad as unknown as number);
        } catch (err) {
          e = err as Error & { code?: string };
        }
        expect(e).toBeInstanceOf(TypeError);
        expect(e!.code).toBe("ERR_INVALID_ARG_TYPE");
      }
      expect(() => cp.recvSync(NaN)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" }));
    } finally {
      await close();
    }
  });
});
