// Request/reply across two processes (test/fixtures/reqrep-peer.ts serves):
// 10,000 requests in flight at once, each answered with f(its request) and
// matched to its own caller, on shared memory and on ZeroMQ, with small
// rings so that both directions fill up at once; loans as request and
// reply; plain messages on the same Peer unaffected; the errors: timeout
// (and the late reply dropped), abort, a failure on the serving side,
// the server killed with -9, this side's close.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { listen, type Peer, type Server } from "../../dist/lib/index.js";
import { transform } from "../../dist/test/fixtures/reqrep-transform.js";
import { collect, firstPeer, killStrays, spawnFixture, waitForLine } from "../helpers.js";
import type { ChildProcess } from "node:child_process";

const dir = mkdtempSync(path.join(tmpdir(), "smsh-reqrep-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killStrays);

let n = 0;
const endpoint = (): string => `ipc://${path.join(dir, `r${n++}.sock`)}`;

/** A request of kind `op` with u32 `arg` at 4..8 and `extra` bytes after. */
function req(op: number, arg = 0, extra: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(8 + extra.length);
  b[0] = op;
  b.writeUInt32LE(arg, 4);
  b.set(extra, 8);
  return b;
}

interface Setup {
  server: Server;
  peer: Peer;
  child: ChildProcess;
  done: ReturnType<typeof collect>;
  close(): Promise<void>;
}

/** This process listens; the fixture connects with `transport` and serves. Ring capacity small: both rings fill up under 10,000 requests. */
async function setup(transport: "auto" | "zmq", capacity = 64 * 1024, heartbeat?: { intervalMs: number; timeoutMs: number }): Promise<Setup> {
  const ep = endpoint();
  const server = await listen(ep, { name: "planner", capacity, ...(heartbeat !== undefined ? { heartbeat } : {}) });
  const child = spawnFixture("reqrep-peer", ["serve", ep, transport, String(capacity)]);
  const done = collect(child, 120_000);
  // Listening from the start: the line may come before firstPeer() returns.
  // (30 s: a child Node process starting on a loaded 2-core machine)
  const started = waitForLine(child, /^transport /, 30_000);
  started.catch(() => {});
  const peer = await firstPeer(server);
  await started;
  return {
    server,
    peer,
    child,
    done,
    async close() {
      await peer.close();
      await server.close();
    },
  };
}

const N = 10_000;

describe("request/reply across two processes", () => {
  for (const transport of ["auto", "zmq"] as const) {
    const want = transport === "auto" ? "shm" : "zmq";
    it(`${want}: ${N} requests in flight at once, each answered with f(its own request), plain messages both ways alongside`, async () => {
      const s = await setup(transport);
      try {
        expect(s.peer.transport).toBe(want);
        // Distinct contents of 1..300 bytes: a reply to the wrong caller would not match f(request).
        const bodies = Array.from({ length: N }, (_, i) => {
          const b = Buffer.alloc(8 + (i % 300));
          b[0] = i % 97 === 0 ? 7 : 0; // every 97th makes the server send a plain message first
          b.writeUInt32LE(i, 4);
          for (let k = 8; k < b.length; k++) b[k] = (i * 31 + k) & 255;
          return b;
        });
        const plainOut = Array.from({ length: 100 }, (_, i) => s.peer.send(Buffer.from(`m${i}`)));
        const replies = await Promise.all(bodies.map((b) => s.peer.request(b, { timeout: 60_000 })));
        await Promise.all(plainOut);
        for (let i = 0; i < N; i++) {
          if (!Buffer.from(replies[i]!).equals(transform(bodies[i]!))) throw new Error(`reply ${i} is not f(request ${i})`);
        }
        // The plain messages: 100 echoes of ours (in order) and one "plain N" per 97th request, through recv().
        const plain: string[] = [];
        const expected = 100 + Math.ceil(N / 97);
        while (plain.length < expected) plain.push(Buffer.from(await s.peer.recv({ timeout: 30_000 })).toString());
        expect(plain.filter((m) => m.startsWith("echo "))).toEqual(Array.from({ length: 100 }, (_, i) => `echo m${i}`));
        expect(plain.filter((m) => m.startsWith("plain ")).sort()).toEqual(
          Array.from({ length: N }, (_, i) => i)
            .filter((i) => i % 97 === 0)
            .map((i) => `plain ${i}`)
            .sort(),
        );
        const st = s.peer.stats;
        expect(st.requestsSent).toBe(N);
        expect(st.repliesReceived).toBe(N);
        expect(st.repliesDropped).toBe(0);
      } finally {
        await s.close();
      }
      expect((await s.done).stdout).toMatch(/end ECLOSED ECLOSED/);
    }, 120_000);

    it(`${want}: loans as request and reply (zero-copy on shm), a failure and a throw on the serving side are EREMOTE`, async () => {
      const s = await setup(transport);
      try {
        const size = 256 * 1024; // above the ring's largest frame: a loan on shm
        const loan = await s.peer.loan(size);
        for (let i = 8; i < size; i++) loan[i] = (i * 13 + 1) & 255;
        loan[0] = 6;
        const r1 = Buffer.from(await s.peer.request(loan, { timeout: 30_000 })).toString();
        expect(r1).toBe(`loan ${size} ok ${want === "shm" ? "zero-copy" : "copied"}`);
        const big = await s.peer.request(req(5, size), { timeout: 30_000 });
        expect(big.length).toBe(size);
        let bad = 0;
        for (let i = 0; i < size; i++) if (big[i] !== ((i * 7 + 3) & 255)) bad++;
        expect(bad).toBe(0);
        expect(Buffer.isBuffer(big)).toBe(want === "zmq"); // shm: the server's loan itself, no copy
        s.peer.release(big);
        if (want === "shm") expect(big.length).toBe(0); // released: reads as empty, never as other data
        await expect(s.peer.request(req(2, 0, Buffer.from("no way")), { timeout: 30_000 })).rejects.toMatchObject({ code: "EREMOTE", message: expect.stringContaining("refused: ") });
        await expect(s.peer.request(req(3), { timeout: 30_000 })).rejects.toMatchObject({ code: "EREMOTE", message: expect.stringContaining("the handler threw") });
        expect(Buffer.from(await s.peer.request(req(0, 1, Buffer.from("after")))).equals(transform(req(0, 1, Buffer.from("after"))))).toBe(true);
      } finally {
        await s.close();
      }
      await s.done;
    }, 60_000);
  }

  it("a timeout is ETIMEDOUT and its late reply is dropped and counted, never given to a later request; an abort is ABORT_ERR", async () => {
    const s = await setup("auto");
    try {
      // The server answers after 300 ms; we wait 50 ms.
      await expect(s.peer.request(req(1, 300), { timeout: 50 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
      const ac = new AbortController();
      const aborted = s.peer.request(req(1, 300), { signal: ac.signal });
      ac.abort();
      await expect(aborted).rejects.toMatchObject({ code: "ABORT_ERR" });
      // Requests made now, their ids free to take again if ids were reused, still wait when the late
      // replies come (the server answers them after 400 ms and more, the late ones after 300 ms of an
      // earlier start): each gets its own reply.
      const later = Array.from({ length: 50 }, (_, i) => req(1, 400 + i * 5, Buffer.from(`own ${i}`)));
      const got = await Promise.all(later.map((b) => s.peer.request(b, { timeout: 30_000 })));
      got.forEach((r, i) => expect(Buffer.from(r).equals(transform(later[i]!))).toBe(true));
      // Both late replies came (the server answers in 300 ms; 30 s: a loaded machine) and were dropped.
      const until = Date.now() + 30_000;
      while (s.peer.stats.repliesDropped < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(s.peer.stats.repliesDropped).toBe(2);
      expect(s.peer.stats.repliesReceived).toBe(50);
    } finally {
      await s.close();
    }
    await s.done;
  }, 60_000);

  for (const transport of ["auto", "zmq"] as const) {
    it(`${transport === "auto" ? "shm" : "zmq"}: the server killed with -9 while 100 requests wait: each rejects with EPEERDEAD, soon`, async () => {
      const s = await setup(transport);
      try {
        const pending = Array.from({ length: 100 }, () => s.peer.request(req(4)).then(
          () => "resolved",
          (e: { code?: string }) => e.code,
        ));
        // Let them reach the server (it never answers kind 4).
        await new Promise((r) => setTimeout(r, 200));
        const t0 = performance.now();
        s.child.kill("SIGKILL");
        const codes = await Promise.all(pending);
        expect(new Set(codes)).toEqual(new Set(["EPEERDEAD"]));
        // Known at once (a pidfd watch): bounded by 10 s only because a loaded 2-core machine can
        // delay the exit notice; the heartbeat timeout (5 s) is the fallback.
        expect(performance.now() - t0).toBeLessThan(10_000);
        await expect(s.peer.request(req(0))).rejects.toMatchObject({ code: "EPEERDEAD" });
      } finally {
        await s.close();
      }
    }, 60_000);
  }

  it("a server stopped with SIGSTOP while requests wait (alive, silent): each rejects with EPEERDEAD after the heartbeat timeout", async () => {
    // 3 s: three times the fixture's heartbeat interval (1 s, the default), so a loaded machine does not
    // make a live server look silent; the stop is then the only silence.
    const s = await setup("auto", 64 * 1024, { intervalMs: 250, timeoutMs: 3000 });
    try {
      const pending = Array.from({ length: 20 }, () => s.peer.request(req(4)).then(
        () => "resolved",
        (e: { code?: string }) => e.code,
      ));
      await new Promise((r) => setTimeout(r, 100));
      s.child.kill("SIGSTOP");
      const t0 = performance.now();
      expect(new Set(await Promise.all(pending))).toEqual(new Set(["EPEERDEAD"]));
      expect(performance.now() - t0).toBeGreaterThan(2000); // the silence, not a death, ended them
    } finally {
      s.child.kill("SIGKILL");
      await s.done; // dead before close(), which then removes the ring it left
      await s.close();
    }
  }, 60_000);

  it("the requester killed with -9 while its requests are being answered: serve() rejects with EPEERDEAD, the answers still running fail quietly, no crash", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner" });
    const child = spawnFixture("reqrep-peer", ["ask", ep, "200"]);
    const asked = waitForLine(child, /^asked /, 30_000); // (30 s: a child Node process starting on a loaded machine)
    asked.catch(() => {});
    try {
      const peer = await firstPeer(server);
      await asked;
      let answered = 0;
      let killed = false;
      const served = peer.serve(async (req) => {
        if (!killed) {
          killed = true;
          child.kill("SIGKILL"); // while this and the other requests are in hand
        }
        await new Promise((r) => setTimeout(r, 50));
        answered++;
        return req.data;
      });
      await expect(served).rejects.toMatchObject({ code: "EPEERDEAD" });
      expect(killed).toBe(true);
      await new Promise((r) => setTimeout(r, 200)); // the handlers in hand finish; their replies go nowhere
      expect(answered).toBeGreaterThan(0);
      await expect(peer.request(Buffer.from("x"))).rejects.toMatchObject({ code: "EPEERDEAD" });
      await peer.close();
    } finally {
      await server.close();
    }
  }, 60_000);

  it("close() with requests waiting rejects them with ECLOSED; request() after close is ECLOSED", async () => {
    const s = await setup("auto");
    try {
      const pending = Array.from({ length: 20 }, () => s.peer.request(req(4)));
      await new Promise((r) => setTimeout(r, 100));
      const closing = s.peer.close();
      for (const p of pending) await expect(p).rejects.toMatchObject({ code: "ECLOSED" });
      await closing;
      await expect(s.peer.request(req(0))).rejects.toMatchObject({ code: "ECLOSED" });
    } finally {
      await s.close();
    }
    expect((await s.done).stdout).toMatch(/end ECLOSED/);
  }, 60_000);
});
