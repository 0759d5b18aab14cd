// A connector outlives its connections: the listener killed (-9) and started
// again, or closed and opened again, and the connector dials by itself,
// says so (state, "state" events, states()) and goes on; what the lost
// connection had delivered is read first, nothing is repeated or reordered
// (at most once: docs/PROTOCOL.md §4.6). With reconnect: false the
// listener's death is EPEERDEAD.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { connect, listen, type Peer, type PeerState, type Server } from "../../dist/lib/index.js";
import { firstPeer, killStrays, sleep, spawnFixture, waitForLine } from "../helpers.js";

const dir = mkdtempSync(path.join(tmpdir(), "smsh-reconnect-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killStrays);

let n = 0;
const endpoint = (): string => `ipc://${path.join(dir, `r${n++}.sock`)}`;

// Generous: child Node processes starting on a loaded 2-core machine.
const START_MS = 30_000;

/** Resolves once `peer` is in state `want` (now or by a "state" event); rejects after `ms`. */
function reach(peer: Peer, want: PeerState, ms: number): Promise<void> {
  if (peer.state === want) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      peer.off("state", on);
      reject(new Error(`state ${peer.state} (${peer.stateReason}), not ${want}, after ${ms} ms`));
    }, ms);
    const on = (s: PeerState): void => {
      if (s !== want) return;
      clearTimeout(timer);
      peer.off("state", on);
      resolve();
    };
    peer.on("state", on);
  });
}

const msg = (i: number): Buffer => {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(i), 0);
  b.writeBigUInt64LE(BigInt(i * 13), 8);
  return b;
};
const numberOf = (m: Uint8Array): number => {
  const b = Buffer.from(m.buffer, m.byteOffset, m.byteLength);
  expect(b.length).toBe(16);
  expect(b.readBigUInt64LE(8)).toBe(b.readBigUInt64LE(0) * 13n);
  return Number(b.readBigUInt64LE(0));
};

/** Sends messages from..to-1 and checks that the echo brings each back, in order. */
async function echoRound(peer: Peer, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await peer.send(msg(i), { timeout: START_MS });
  for (let i = from; i < to; i++) expect(numberOf(await peer.recv({ timeout: START_MS }))).toBe(i);
}

async function startListener(ep: string, transport: string): Promise<ReturnType<typeof spawnFixture>> {
  const child = spawnFixture("peer-listener", [ep, transport]);
  await waitForLine(child, /^listening/, START_MS);
  return child;
}

describe("reconnect", () => {
  for (const transport of ["auto", "zmq"] as const) {
    it(`transport ${transport === "auto" ? "shm" : "zmq"}: the listener killed (-9) and started again: the connector reconnects by itself, a pending recv() takes the first message of the new connection, nothing of the dead listener is left in /dev/shm`, async () => {
      const ep = endpoint();
      const l1 = await startListener(ep, transport);
      const peer = await connect(ep, { name: "agent", transport, timeout: START_MS });
      const seen: PeerState[] = [];
      peer.on("state", (s: PeerState) => seen.push(s));
      try {
        expect(peer.transport).toBe(transport === "auto" ? "shm" : "zmq");
        expect(peer.remotePid).toBe(l1.pid);
        await echoRound(peer, 0, 200);
        const deadRing = peer.reader?.name;
        const pending = peer.recv({ timeout: 120_000 });
        l1.kill("SIGKILL");
        await reach(peer, "reconnecting", START_MS);
        expect(peer.stateReason).toMatch(/died|exited/);
        // The dead listener's ring was removed by the connector that found it dead.
        if (deadRing !== undefined) expect(existsSync(`/dev/shm/${deadRing}`)).toBe(false);
        expect(peer.trySend(msg(999))).toBe(false); // no connection: no room
        // Its socket file is stale now: the new listener replaces it.
        const l2 = await startListener(ep, transport);
        await reach(peer, "connected", START_MS);
        expect(peer.remotePid).toBe(l2.pid);
        expect(peer.stats.reconnects).toBe(1);
        await peer.send(msg(200));
        expect(numberOf(await pending)).toBe(200);
        await echoRound(peer, 201, 400);
        expect(seen).toEqual(["reconnecting", "connected"]);
        l2.kill("SIGKILL");
      } finally {
        await peer.close();
      }
      expect(peer.state).toBe("closed");
    }, 180_000);
  }

  for (const transport of ["auto", "zmq"] as const) {
    it(`transport ${transport === "auto" ? "shm" : "zmq"}: sends waiting when the listener goes (a full ring, no credit) go, in call order, on the next connection; none twice`, async () => {
      const ep = endpoint();
      let server: Server = await listen(ep, { name: "first", transport, capacity: 4096 });
      const peer = await connect(ep, { name: "agent", transport, capacity: 4096 });
      try {
        await firstPeer(server); // accepted, never read: the ring fills
        // shm: a 4 KiB ring; zmq: 2 MiB messages, a 64 MiB window (32 go, 68 wait): most of them wait either way.
        const size = transport === "auto" ? 64 : 2 << 20;
        const big = (i: number): Buffer => {
          const b = Buffer.alloc(size);
          b.writeUInt32LE(i, 0);
          return b;
        };
        const sends = Array.from({ length: 100 }, (_, i) => peer.send(big(i), { timeout: 60_000 }));
        await sleep(100);
        await server.close(); // BYE reconnect: the waiting sends wait for the next connection
        server = await listen(ep, { name: "second", transport, capacity: 4096 });
        const sp = await firstPeer(server);
        const got: number[] = [];
        // Read while they go (on zmq they wait for the credit reading gives).
        while (got.length === 0 || got[got.length - 1]! < 99) {
          const m = await sp.recv({ timeout: 30_000 });
          got.push(Buffer.from(m.buffer, m.byteOffset, 4).readUInt32LE(0));
        }
        await Promise.all(sends);
        // At most once: what the first connection took is gone; the rest in call order, each once.
        expect(got.length).toBeGreaterThan(0);
        for (let i = 1; i < got.length; i++) expect(got[i]).toBe(got[i - 1]! + 1);
      } finally {
        await peer.close();
        await server.close();
      }
    }, 120_000);
  }

  it("transport shm: sends queued in the ring's own queue when the listener hangs (SIGSTOP, heartbeat timeout) go in call order on the next connection", async () => {
    const ep = endpoint();
    const l1 = await startListener(ep, "auto");
    // Lost after 1 s of silence (heartbeats every 100 ms): the loss, not the ring's end, ends the queued sends' waits.
    const peer = await connect(ep, { name: "agent", capacity: 4096, heartbeat: { intervalMs: 100, timeoutMs: 1000 }, timeout: START_MS });
    try {
      await echoRound(peer, 0, 10);
      l1.kill("SIGSTOP");
      const sends = Array.from({ length: 200 }, (_, i) => peer.send(msg(10 + i), { timeout: 60_000 }));
      await reach(peer, "reconnecting", START_MS);
      l1.kill("SIGKILL"); // its ring: swept by the connector when the watch sees it exit (it was lost to silence before)
      const l2 = await startListener(ep, "auto");
      await reach(peer, "connected", START_MS);
      await Promise.all(sends);
      // The echo brings back what reached the new listener: in call order, each once (what the hung one took is lost).
      const got: number[] = [];
      while (got.length === 0 || got[got.length - 1]! < 209) got.push(numberOf(await peer.recv({ timeout: START_MS })));
      await sleep(300); // a straggler (an earlier message sent after a later one) would arrive now
      for (let m = peer.tryRecv(); m !== null; m = peer.tryRecv()) got.push(numberOf(m));
      for (let i = 1; i < got.length; i++) expect(got[i]).toBe(got[i - 1]! + 1);
      const gone = new Promise((r) => l2.once("exit", r));
      l2.kill("SIGKILL");
      await gone; // dead before the close: the connector then removes its ring
    } finally {
      await peer.close();
    }
  }, 120_000);

  it("reconnect: false: the listener's death (kill -9) is EPEERDEAD for a pending recv() and for sends", async () => {
    const ep = endpoint();
    const l1 = await startListener(ep, "auto");
    const peer = await connect(ep, { name: "agent", reconnect: false, timeout: START_MS });
    try {
      await echoRound(peer, 0, 10);
      const waiting = peer.recv({ timeout: 30_000 }).then(
        () => "none",
        (e: { code?: string }) => e.code,
      );
      const t0 = performance.now();
      l1.kill("SIGKILL");
      expect(await waiting).toBe("EPEERDEAD");
      // Printed, not asserted (a loaded machine): the issue's target is 250 ms.
      console.log(`peer: connector EPEERDEAD ${(performance.now() - t0).toFixed(0)} ms after the listener's kill -9`);
      expect(peer.state).toBe("dead");
      expect(() => peer.trySend(msg(1))).toThrow(expect.objectContaining({ code: "EPEERDEAD" }));
    } finally {
      await peer.close();
    }
  }, 90_000);

  it("a listener closed and opened again: everything it sent before closing is read, then the new connection's; states() tells each change", async () => {
    const ep = endpoint();
    let server: Server = await listen(ep, { name: "first" });
    const peer = await connect(ep, { name: "agent" });
    const states: PeerState[] = [];
    const watching = (async () => {
      for await (const s of peer.states()) states.push(s);
    })();
    try {
      let sp = await firstPeer(server);
      for (let i = 0; i < 100; i++) await sp.send(msg(i));
      await server.close(); // BYE "reconnect": the listener goes, not the conversation
      await reach(peer, "reconnecting", START_MS);
      server = await listen(ep, { name: "second" });
      sp = await firstPeer(server);
      await sp.send(msg(100));
      // The first listener's 100, then the second's: none lost (they were in the ring), none repeated.
      for (let i = 0; i <= 100; i++) expect(numberOf(await peer.recv({ timeout: START_MS }))).toBe(i);
      expect(peer.remoteName).toBe("second");
      // The second closes this conversation (not itself): the connector's end, no reconnect.
      await sp.close();
      await expect(peer.recv({ timeout: START_MS })).rejects.toMatchObject({ code: "ECLOSED" });
      expect(peer.state).toBe("ended");
    } finally {
      await peer.close();
      await server.close();
    }
    await watching;
    expect(states).toEqual(["connected", "reconnecting", "connected", "ended", "closed"]);
  }, 90_000);
});
