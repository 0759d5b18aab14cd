// listen()/connect() across two processes (test/fixtures/peer-agent.ts): the
// handshake agrees on shared memory when both sides can map each other's
// rings and on ZeroMQ when asked (or when they cannot); the same checked
// traffic passes either way, both directions at once; either side's close is
// the other's end of stream; a killed peer is EPEERDEAD.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { connect, listen, type Peer } from "../../dist/lib/index.js";
import { checkTraffic, sendTraffic } from "../../dist/test/fixtures/peer-traffic.js";
import { spawn, type ChildProcess } from "node:child_process";

import { collect, firstPeer, fixture, killStrays, spawnFixture, track } from "../helpers.js";

const dir = mkdtempSync(path.join(tmpdir(), "smsh-peer-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killStrays);

let n = 0;
const endpoint = (): string => `ipc://${path.join(dir, `s${n++}.sock`)}`;

/** Everything a child printed so far, and a way to wait for a line (never missing one printed before the wait). */
function output(child: ChildProcess): { text(): string; line(re: RegExp, ms: number): Promise<string> } {
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  return {
    text: () => out,
    async line(re, ms) {
      const end = Date.now() + ms;
      for (;;) {
        const hit = out.split("\n").find((l) => re.test(l));
        if (hit !== undefined) return hit;
        if (Date.now() > end) throw new Error(`no line matching ${re} within ${ms} ms; got ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

const N = 10_000;
const BIG = 100 * 1024 * 1024;

describe("peers across two processes", () => {
  for (const [transport, closer] of [
    ["auto", "listener"],
    ["zmq", "connector"],
  ] as const) {
    it(`transport ${transport === "auto" ? "shm (agreed)" : "zmq (forced)"}: ${N} checked messages each way at once, a 100 MB loan each way, the ${closer} closes`, async () => {
      const ep = endpoint();
      const server = await listen(ep, { name: "planner" });
      expect(statSync(ep.slice("ipc://".length)).mode & 0o777).toBe(0o600);
      const child = spawnFixture("peer-agent", [closer === "listener" ? "traffic" : "traffic-close", ep, transport, String(N), String(BIG)]);
      const out = output(child);
      const done = collect(child, 120_000);
      try {
        const peer = await firstPeer(server);
        const want = transport === "auto" ? "shm" : "zmq";
        expect(peer.transport).toBe(want);
        expect(peer.remoteName).toBe("agent");
        expect(peer.remotePid).toBe(child.pid);
        expect(await out.line(/^transport /, 30_000)).toMatch(new RegExp(`^transport ${want}\\b`));
        const [, received] = await Promise.all([sendTraffic(peer, N, BIG), checkTraffic(peer, N, BIG)]);
        expect(received).toBe(N + 1);
        await out.line(/^done /, 60_000);
        if (closer === "listener") {
          await peer.close();
        } else {
          // The connector closed: what it sent was all read above; now the end.
          await expect(peer.recv({ timeout: 30_000 })).rejects.toMatchObject({ code: "ECLOSED" });
          await peer.close();
        }
        const r = await done;
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`done ${N + 1} ${N + 1}`);
        if (closer === "listener") expect(r.stdout).toContain("end ECLOSED");
      } finally {
        await server.close();
      }
    }, 180_000);
  }

  /**
   * A connector started by `cmd` before node (unshare, setpriv) against a tcp:// listener: it must
   * settle on zmq, saying why (`line`), and checked traffic (1,000 messages and a `big` loan each way) passes.
   */
  async function fallsBackToZmq(cmd: string, before: string[], line: RegExp, big: number, o: { cwd?: string; reason?: RegExp } = {}): Promise<void> {
    const server = await listen("tcp://127.0.0.1:*", { name: "planner" });
    const args = [...before, process.execPath, fixture("peer-agent"), "traffic", server.endpoint, "auto", "1000", String(big)];
    const child = track(spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: o.cwd }));
    const out = output(child);
    const done = collect(child, 120_000);
    try {
      const peer = await firstPeer(server);
      expect(peer.transport).toBe("zmq");
      if (o.reason) expect(peer.reason).toMatch(o.reason);
      expect(await out.line(/^transport /, 30_000)).toMatch(line);
      const [, received] = await Promise.all([sendTraffic(peer, 1000, big), checkTraffic(peer, 1000, big)]);
      expect(received).toBe(1001);
      await out.line(/^done /, 60_000);
      await peer.close();
      const r = await done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("end ECLOSED");
    } finally {
      await server.close();
    }
  }

  // Root only (unshare, mount): the connector sees a /dev/shm of its own, as in a container.
  it.skipIf(process.geteuid?.() !== 0)("a connector with a private /dev/shm (unshare -m + tmpfs) over tcp://127.0.0.1 falls back to zmq by itself; the same traffic passes", async () => {
    // The listener cannot find the connector's ring, so the connector hears no proof of it.
    await fallsBackToZmq("unshare", ["-m", "sh", "-c", 'mount -t tmpfs tmpfs /dev/shm && exec "$0" "$@"'], /^transport zmq .*could not map this side's ring/, 8 << 20, { reason: /could not map|ring/ });
  }, 180_000);

  // Root only: the connector runs as uid 65534 (setpriv). It cannot open the listener's rings (0600, root's),
  // so the handshake settles on ZeroMQ, with the reason.
  it.skipIf(process.geteuid?.() !== 0)("a connector of another uid (65534) cannot map the listener's ring: transport zmq with the reason; traffic passes", async () => {
    await fallsBackToZmq("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups"], /^transport zmq could not map planner's ring smsh-[a-z2-7]{16} \(EACCES\)/, 1 << 20, { cwd: "/" });
  }, 180_000);

  it("a zmq peer's recv(): a timeout above setTimeout's largest (2^31 ms) waits and takes a message; a short one is ETIMEDOUT; an abort ABORT_ERR", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner", transport: "zmq" });
    try {
      const accepted = firstPeer(server);
      const client = await connect(ep, { name: "client" });
      const peer = await accepted;
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(w.name);
      process.on("warning", onWarning);
      let settled = false;
      const got = peer.recv({ timeout: 2 ** 31 + 1000 }).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      process.off("warning", onWarning);
      expect(settled).toBe(false); // not ETIMEDOUT after 1 ms
      expect(warnings).not.toContain("TimeoutOverflowWarning"); // nor a 1 ms timer spinning until the deadline
      await client.send(Buffer.from("late"));
      expect(Buffer.from(await got).toString()).toBe("late");
      // And the ways out: a timeout is ETIMEDOUT, an abort ABORT_ERR (200 ms: nothing is sent meanwhile).
      await expect(peer.recv({ timeout: 200 })).rejects.toMatchObject({ code: "ETIMEDOUT" });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      await expect(peer.recv({ signal: ac.signal })).rejects.toMatchObject({ code: "ABORT_ERR" });
      await client.close();
    } finally {
      await server.close();
    }
  });

  // 8 processes of 8 connections each (64 Node processes would be 2.5 GB here): every connection has
  // rings of its own, and the server serves them all at once with checked traffic.
  it("64 connections from 8 processes against one listener: checked traffic on each, no cross-talk", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner", capacity: 64 * 1024 });
    const children = Array.from({ length: 8 }, () => spawnFixture("peer-agent", ["many", ep, "8", "500"]));
    const dones = children.map((c) => collect(c, 150_000));
    const served: Promise<unknown>[] = [];
    const names = new Set<string>();
    try {
      for await (const peer of server) {
        expect(peer.transport).toBe("shm");
        names.add(peer.remoteName);
        served.push(Promise.all([sendTraffic(peer, 500, 64 * 1024), checkTraffic(peer, 500, 64 * 1024)]).then(() => peer.recv({ timeout: 60_000 }).catch((e: { code?: string }) => e.code)));
        if (served.length === 64) break;
      }
      expect(names.size).toBe(64);
      // Each peer ends with the other side's close (ECLOSED), after its own checked traffic.
      expect(new Set(await Promise.all(served))).toEqual(new Set(["ECLOSED"]));
      for (const r of await Promise.all(dones)) {
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^done 8 shm(,shm){7}$/m);
      }
    } finally {
      await server.close();
    }
  }, 200_000);

  it("server.messages(): one loop serves every connection, each message with its peer, each peer's in order", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner" });
    const children = Array.from({ length: 2 }, () => spawnFixture("peer-agent", ["many", ep, "3", "300"]));
    const dones = children.map((c) => collect(c, 120_000));
    try {
      // The agents send 300 numbered messages and a 64 KiB loan per connection, then wait for ours.
      const next = new Map<Peer, number>();
      let complete = 0;
      for await (const { peer, data } of server.messages()) {
        const i = next.get(peer) ?? 0;
        if (i < 300) {
          expect(data.byteLength).toBe(16);
          expect(Buffer.from(data.buffer, data.byteOffset, 16).readBigUInt64LE(0)).toBe(BigInt(i));
        } else {
          expect(data.byteLength).toBe(64 * 1024);
          void sendTraffic(peer, 300, 64 * 1024); // our half: then the agent closes
          if (++complete === 6) break;
        }
        next.set(peer, i + 1);
      }
      expect(next.size).toBe(6);
      for (const r of await Promise.all(dones)) {
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
      }
    } finally {
      await server.close();
    }
  }, 180_000);

  // Heartbeats, on every transport (a stopped process holds its liveness lock, so only silence tells):
  // 3 s of silence is death here; the agent beats every 1 s (its default).
  for (const [transport, want] of [
    ["zmq", "zmq"],
    ["auto", "shm"],
  ] as const) {
    it(`a ${want} connector stopped with SIGSTOP is EPEERDEAD for the listener after the heartbeat timeout, and forgotten; idle live peers stay alive`, async () => {
      const ep = endpoint();
      const server = await listen(ep, { name: "planner", heartbeat: { intervalMs: 200, timeoutMs: 3000 } });
      const child = spawnFixture("peer-agent", ["hold", ep, transport]);
      const out = output(child);
      try {
        const peer = await firstPeer(server);
        expect(peer.transport).toBe(want);
        await out.line(new RegExp(`^transport ${want}`), 30_000);
        // Idle for twice the timeout: heartbeats keep it alive.
        await new Promise((r) => setTimeout(r, 6000));
        expect(peer.tryRecv()).toBe(null);
        const waiting = peer.recv({ timeout: 60_000 }).then(
          () => "none",
          (e: { code?: string }) => e.code,
        );
        const t0 = performance.now();
        child.kill("SIGSTOP");
        expect(await waiting).toBe("EPEERDEAD");
        const ms = performance.now() - t0;
        console.log(`peer: EPEERDEAD ${ms.toFixed(0)} ms after SIGSTOP (heartbeat timeout 3,000 ms)`);
        // Not much before the timeout: the last beat heard was at most one agent interval (1 s) before the stop,
        // and the check runs every 100 ms, so at least 3,000 - 1,000 - 100 ms (1,500: margin).
        expect(ms).toBeGreaterThan(1500);
        await expect(peer.send(Buffer.from("x"))).rejects.toMatchObject({ code: "EPEERDEAD" });
        expect(peer.state).toBe("dead");
        expect(server.peers).not.toContain(peer);
        await peer.close();
      } finally {
        child.kill("SIGKILL");
        await server.close();
      }
    }, 90_000);
  }

  it("kill -9 of a connector on shared memory: the listener's receive is EPEERDEAD at once (liveness locks, pidfd)", async () => {
    const ep = endpoint();
    const server = await listen(ep, { name: "planner" });
    const child = spawnFixture("peer-agent", ["hold", ep]);
    const out = output(child);
    try {
      const peer = await firstPeer(server);
      expect(peer.transport).toBe("shm");
      await out.line(/^transport shm/, 30_000);
      const waiting = peer.recv({ timeout: 30_000 }).then(
        () => "none",
        (e: { code?: string }) => e.code,
      );
      const t0 = performance.now();
      child.kill("SIGKILL");
      expect(await waiting).toBe("EPEERDEAD");
      // Printed, not asserted (a loaded machine): the issue's target is 250 ms.
      console.log(`peer: EPEERDEAD ${(performance.now() - t0).toFixed(0)} ms after kill -9`);
      await peer.close();
    } finally {
      await server.close();
    }
  }, 60_000);
});
