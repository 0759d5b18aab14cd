// Request/reply mixed with plain receives on one Peer (review of issue 14):
// the receive rule of issue 8 holds when request()/requests() start the
// pump (a view handed out before stays valid until the next receive), and
// messages() hands out copies that stay valid in routed mode too (a loan
// included). Both Peers in this process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { connect, listen, type Peer, type Server } from "../../dist/lib/index.js";
import { spawn } from "node:child_process";
import { collect, firstPeer, fixture, track } from "../helpers.js";

const dir = mkdtempSync(path.join(tmpdir(), "smsh-reqrep-review-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const endpoint = (): string => `ipc://${path.join(dir, `v${n++}.sock`)}`;

/** Small rings on both sides: a few KB of messages wrap them; messages up to 1 MiB. */
async function pair(transport: "auto" | "zmq" = "auto", maxMessageSize = 1 << 20): Promise<{ server: Server; sp: Peer; cp: Peer; close(): Promise<void> }> {
  const ep = endpoint();
  const server = await listen(ep, { name: "server", capacity: 16 * 1024, maxMessageSize });
  const [cp, sp] = await Promise.all([connect(ep, { name: "client", transport, capacity: 16 * 1024, maxMessageSize }), firstPeer(server)]);
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

/** How `p` settles: "resolved", its error's code, or "hung" after 5 s (far above the few ms it takes). */
function outcome(p: Promise<unknown>): Promise<unknown> {
  const settled = p.then(
    () => "resolved",
    (e: { code?: string }) => e.code,
  );
  return Promise.race([settled, new Promise((r) => setTimeout(() => r("hung"), 5000))]);
}

describe("request/reply mixed with plain receives", () => {
  it("a ring view recv() handed out before the first request() stays valid (and keep()-able) while the pump reads past it", async () => {
    const p = await pair();
    try {
      await p.cp.send(Buffer.alloc(1000, 0x41));
      const v = await p.sp.recv({ timeout: 10_000 }); // a view into the ring, valid until sp's next receive
      const served = p.cp.serve((r) => (r.data[0] === 0x68 ? new Promise<Uint8Array>(() => {}) : Buffer.from("ok"))); // "h...": never answered
      expect(Buffer.from(await p.sp.request(Buffer.from("q"), { timeout: 10_000 })).toString()).toBe("ok");
      // A request left waiting keeps the pump reading the ring.
      const held = p.sp.request(Buffer.from("hold"), { timeout: 30_000 });
      held.catch(() => {});
      // 40 KB through a 16 KB ring: the pump reads them and the writer wraps over v's frame, unless it is held
      // (held, the writer waits for the user's next receive and the sends cannot all complete).
      const sends = (async () => {
        for (let i = 0; i < 40; i++) await p.cp.send(Buffer.alloc(1000, 0x42), { timeout: 30_000 });
      })();
      sends.catch(() => {});
      // Unheld, the sends complete as soon as the pump drains the ring; 2 s is ample for that on a loaded machine.
      await Promise.race([sends, new Promise((r) => setTimeout(r, 2000))]);
      expect(Buffer.from(v).equals(Buffer.alloc(1000, 0x41))).toBe(true);
      const k = p.sp.keep(); // still the message recv() returned
      expect(k.data).toBe(v);
      k.release();
      for (let i = 0; i < 40; i++) expect((await p.sp.recv({ timeout: 10_000 }))[0]).toBe(0x42);
      await sends;
      await p.cp.close();
      await served;
    } finally {
      await p.close();
    }
  });

  it("messages() in routed mode hands out copies that outlive the next step, loans included", async () => {
    const p = await pair();
    try {
      const it = p.sp.requests(); // routed mode, as serve() would set
      const pending = it.next();
      pending.catch(() => {});
      for (let i = 0; i < 3; i++) {
        const l = await p.cp.loan(100);
        l.fill(65 + i);
        await p.cp.send(l);
      }
      const got: Uint8Array[] = [];
      for await (const m of p.sp.messages({ timeout: 10_000 })) {
        got.push(m);
        if (got.length === 3) break;
      }
      expect(got.map((m) => Buffer.from(m).toString())).toEqual(["A".repeat(100), "B".repeat(100), "C".repeat(100)]);
      await it.return?.();
    } finally {
      await p.close();
    }
  });

  it("keep() in routed mode keeps the message recv() returned, not a reply the pump routed since", async () => {
    const p = await pair();
    try {
      const it = p.cp.requests();
      const first = it.next();
      first.catch(() => {});
      const reply = p.sp.request(Buffer.from("q"), { timeout: 10_000 });
      const r = await first;
      if (r.done === true) throw new Error("no request");
      await p.cp.send(Buffer.from("P1"));
      expect(Buffer.from(await p.sp.recv({ timeout: 10_000 })).toString()).toBe("P1");
      // The reply is routed by the pump (a request waits), after recv() handed out P1.
      await r.value.reply(Buffer.from("the reply"));
      expect(Buffer.from(await reply).toString()).toBe("the reply");
      const k = p.sp.keep();
      expect(Buffer.from(k.data).toString()).toBe("P1");
      k.release();
      await it.return?.();
    } finally {
      await p.close();
    }
  });


  it("zmq: a serve() reply too large while other replies wait for credit fails the request (EREMOTE) instead of leaving it unanswered", async () => {
    const p = await pair("zmq");
    try {
      // The serving side fills the credit window (64 MiB of 1 MiB messages) before the client reads any: its replies must wait.
      for (let i = 0; i < 64; i++) await p.sp.send(new Uint8Array(1 << 20), { timeout: 10_000 });
      let handled = 0;
      let bothHandled!: () => void;
      const both = new Promise<void>((r) => (bothHandled = r));
      const served = p.sp.serve((req) => {
        if (++handled === 2) setTimeout(bothHandled, 50); // their replies are queued for credit by then
        return req.data[0] === 1 ? new Uint8Array(2 << 20) : Buffer.from("small");
      });
      served.catch(() => {});
      // 15 s: only a refusal that never reaches the requester runs into it.
      const a = p.cp.request(Buffer.from([0]), { timeout: 15_000 });
      const b = p.cp.request(Buffer.from([1]), { timeout: 15_000 });
      b.catch(() => {});
      await both;
      for (let i = 0; i < 64; i++) await p.cp.recv({ timeout: 10_000 }); // the credit comes back: the waiting replies go
      expect(Buffer.from(await a).toString()).toBe("small");
      await expect(b).rejects.toMatchObject({ code: "EREMOTE" });
    } finally {
      await p.close();
    }
  });


  it("a reply that came as a loan stays valid after its connection is lost and its ring is drained (until release())", async () => {
    const ep = endpoint();
    let server = await listen(ep, { name: "first", capacity: 16 * 1024 });
    const cp = await connect(ep, { name: "client", capacity: 16 * 1024 });
    try {
      const sp = await firstPeer(server);
      const it = sp.requests({ timeout: 10_000 });
      const a = cp.request(Buffer.from("a"), { timeout: 10_000 });
      const ra = (await it.next()).value!;
      const loan = await sp.loan(64);
      loan.fill(0x5a);
      await ra.reply(loan);
      const reply = await a;
      expect(reply.length).toBe(64);
      await it.return?.();
      // The listener closes itself (BYE "reconnect"): the connection is lost, its ring read to its end and closed.
      await server.close();
      server = await listen(ep, { name: "second", capacity: 16 * 1024 });
      // A request over the new connection: the old ring was drained (and closed) on the way (20 s: a loaded machine's redial).
      const sp2 = await firstPeer(server);
      void sp2.serve(() => Buffer.from("ok")).catch(() => {});
      expect(Buffer.from(await cp.request(Buffer.from("b"), { timeout: 20_000 })).toString()).toBe("ok");
      expect(Buffer.from(reply).equals(Buffer.alloc(64, 0x5a))).toBe(true);
      cp.release(reply);
      expect(reply.length).toBe(0);
    } finally {
      await cp.close();
      await server.close();
    }
  });


  it("fail() cuts a long message at a character's boundary: the requester's EREMOTE text is valid UTF-8", async () => {
    const p = await pair();
    try {
      const it = p.sp.requests({ timeout: 10_000 });
      const a = p.cp.request(Buffer.from("a"), { timeout: 10_000 });
      a.catch(() => {});
      const r = (await it.next()).value!;
      // "x" then 3-byte characters: byte 1024 falls inside one.
      await r.fail("xy" + "€".repeat(400));
      const e = (await a.catch((err: unknown) => err)) as Error & { code?: string };
      expect(e.code).toBe("EREMOTE");
      expect(e.message).not.toContain("\uFFFD");
      expect(e.message).toContain("xy" + "€".repeat(340));
      await it.return?.();
    } finally {
      await p.close();
    }
  });


  it("loans dropped without an answer or a release go back to their sender once collected: a request's (unanswered), a reply's", async () => {
    // A child with --expose-gc (test/fixtures/reqrep-unanswered.ts): its figures are its own. 60 s: a loaded machine.
    const child = track(spawn(process.execPath, ["--expose-gc", fixture("reqrep-unanswered"), dir], { stdio: ["ignore", "pipe", "pipe"] }));
    const r = await collect(child, 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("inFlight 0\n"); // the 10 requests' loans, 40,960 bytes held for ever before
    // The replies: at least 9 of the 10 (V8 may still hold the last one awaited); none before the fix.
    const m = /reply inFlight (\d+)/.exec(r.stdout);
    expect(Number(m?.[1])).toBeLessThanOrEqual(4096);
  });


  it("serve() at its concurrency limit with handlers that never settle still ends: its signal (ABORT_ERR), this side's close", async () => {
    const p = await pair();
    try {
      const ac = new AbortController();
      let started = 0;
      const hang = (): Promise<Uint8Array> => {
        started++;
        return new Promise<Uint8Array>(() => {});
      };
      const served = p.sp.serve(hang, { concurrency: 1, signal: ac.signal });

      for (let i = 0; i < 2; i++) p.cp.request(Buffer.from([i]), { timeout: 30_000 }).catch(() => {});
      // The first request holds the only slot (10 s: a loaded machine).
      for (let i = 0; i < 200 && started < 1; i++) await new Promise((r) => setTimeout(r, 50));
      expect(started).toBe(1);
      ac.abort();
      expect(await outcome(served)).toBe("ABORT_ERR");
      const served2 = p.sp.serve(hang, { concurrency: 1 });

      for (let i = 0; i < 2; i++) p.cp.request(Buffer.from([i]), { timeout: 30_000 }).catch(() => {});
      for (let i = 0; i < 200 && started < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(started).toBe(2);
      await p.sp.close();
      expect(await outcome(served2)).toBe("resolved");
    } finally {
      await p.close();
    }
  });

});
