// The connect scenario: what it costs to start talking, and to start again.
//   connect    from nothing to the first echo: connect (and, for a Peer, the
//              handshake: rings made and mapped, proofs checked), send 64 B,
//              receive the echo, close. Against a TCP connection doing the
//              same, and zeromq.js's DEALER/ROUTER alone.
//   reconnect  (peer rows) the listener killed (-9) and started again: from
//              its listen() returning (its CLOCK_MONOTONIC, printed) to the
//              connector's Peer being "connected" again (ours), and to the
//              first echo over the new connection.
// The listener is a process of its own (connect-listener.ts); the connector
// runs here, in the orchestrator.
import { spawn, type ChildProcess } from "node:child_process";
import { createConnection, createServer, type AddressInfo } from "node:net";
import * as path from "node:path";

import { connect, type Peer } from "../lib/index.js";
import { zeromqOrNull } from "../lib/peer/zmq.js";
import type { Row } from "./results.js";
import { live } from "./row.js";
import { ZMQ_IPC, scratchDir } from "./scratch.js";
import { summarize } from "./stats.js";

const LISTENER = path.join(__dirname, "connect-listener.js");
const MESSAGE = Buffer.alloc(64, 7);
// A child Node process starting on a loaded machine.
const START_MS = 30_000;

/** Starts the listener; resolves with it and the CLOCK_MONOTONIC ns at which it listened. */
function startListener(kind: string, endpoint: string): Promise<{ proc: ChildProcess; listeningNs: bigint; port: number }> {
  const proc = spawn(process.execPath, [LISTENER, kind, endpoint], { stdio: ["ignore", "pipe", "pipe"] });
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  let out = "";
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connect listener (${kind}): not listening within ${START_MS} ms ${err}`)), START_MS);
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^listening (\d+) (\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, listeningNs: BigInt(m[1]!), port: Number(m[2]) });
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`connect listener (${kind}) exited (${code}): ${err}`));
    });
  });
}

function tcpOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ port, host: "127.0.0.1", noDelay: true }, () => s.write(MESSAGE));
    let got = 0;
    s.on("data", (d) => {
      got += d.length;
      if (got >= MESSAGE.length) {
        s.destroy();
        resolve();
      }
    });
    s.on("error", reject);
  });
}

async function zmqOnce(endpoint: string): Promise<void> {
  const d = new (zeromqOrNull()!.Dealer)({ linger: 0 });
  d.connect(endpoint);
  await d.send(MESSAGE);
  await d.receive();
  d.close();
}

async function echo(peer: Peer): Promise<void> {
  await peer.send(MESSAGE);
  await peer.recv({ timeout: START_MS });
}

async function peerOnce(endpoint: string, transport: "auto" | "zmq"): Promise<void> {
  const peer = await connect(endpoint, { name: "bench", transport, capacity: 64 * 1024 });
  await echo(peer);
  await peer.close();
}

/** A loopback port free now (the OS picks it; the listener takes it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const msSince = (ns: bigint): number => Number(process.hrtime.bigint() - ns) / 1e6;

/** The connect row of `transport` (tcp, zmq-ipc, peer-shm, peer-zmq): `count` timed connects after `warmup`, `rounds` restarts. */
export async function runConnectRow(transport: string, count: number, warmup: number, rounds: number): Promise<Row> {
  const row: Row = { transport, mode: null, scenario: "connect", size: MESSAGE.length, count };
  if (transport !== "tcp" && zeromqOrNull() === null) return { ...row, error: "zeromq is not installed", skipped: true };
  if (transport === "zmq-ipc" && !ZMQ_IPC) return { ...row, error: "ZeroMQ ipc:// endpoints (AF_UNIX) are not available on this platform", skipped: true };
  const dir = scratchDir("smsh-connect-");
  // Peers restart their listener on the same endpoint: where there is no ipc://, a fixed free loopback port.
  const endpoint = transport === "tcp" ? "127.0.0.1:0" : ZMQ_IPC ? `ipc://${path.join(dir, "c.sock")}` : `tcp://127.0.0.1:${await freePort()}`;
  let listener = await startListener(transport, endpoint);
  const port = listener.port;
  const once =
    transport === "tcp" ? () => tcpOnce(port) : transport === "zmq-ipc" ? () => zmqOnce(endpoint) : () => peerOnce(endpoint, transport === "peer-shm" ? "auto" : "zmq");
  try {
    const times: number[] = [];
    for (let i = 0; i < warmup + count; i++) {
      const t0 = process.hrtime.bigint();
      await once();
      if (i >= warmup) times.push(msSince(t0) * 1000);
    }
    const s = summarize(times);
    row.p50_us = Math.round(s.p50);
    row.p99_us = Math.round(s.p99);
    if (transport.startsWith("peer-") && rounds > 0) {
      const peer = await connect(endpoint, { name: "bench", transport: transport === "peer-shm" ? "auto" : "zmq", capacity: 64 * 1024 });
      const connected: number[] = [];
      const echoed: number[] = [];
      try {
        for (let r = 0; r < rounds; r++) {
          const lost = new Promise((res) => peer.once("state", res));
          listener.proc.kill("SIGKILL");
          await lost;
          const back = new Promise<bigint>((res) => peer.once("state", () => res(process.hrtime.bigint())));
          listener = await startListener(transport, endpoint);
          const at = await back;
          connected.push(Number(at - listener.listeningNs) / 1e6);
          await echo(peer);
          echoed.push(msSince(listener.listeningNs));
        }
      } finally {
        await peer.close();
      }
      const c = summarize(connected);
      row.reconnect_ms = round2(c.p50);
      row.reconnect_max_ms = round2(Math.max(...connected));
      row.reconnect_echo_ms = round2(summarize(echoed).p50);
    }
    return row;
  } finally {
    // SIGTERM: it removes its segments as it exits (a connection's ring it had no time to close yet).
    const exited = new Promise((r) => listener.proc.once("exit", r));
    listener.proc.kill("SIGTERM");
    await exited;
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
