// Two agents find each other by endpoint and talk, shared memory underneath.
//   npm run build:ts && node dist/examples/agents.js [zmq]
//
// "photogrammetry" listens on an ipc:// endpoint; "scanner" (a second
// process) connects to it. The handshake agrees on shared memory (transport
// "shm") because both can map each other's rings; with "zmq" on the command
// line the scanner asks for ZeroMQ instead, and the same code runs over it.
// The scanner hands over point clouds as loans (filled in place, no copy on
// "shm"); photogrammetry answers each with JSON.
//
//   scanner ---- point cloud (a loan, 12 MB) ----> photogrammetry
//   scanner <--- {"cloud":n,"points":...,"centroid":[x,y,z]} ---
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import { connect, listen } from "@synaptic-mesh/shm";

const POINTS = 1_000_000;
const CLOUDS = 3;
// Generous: the scanner is a fresh Node process, and a busy machine is slow.
const TIMEOUT_MS = 30_000;

async function photogrammetry(transport: string): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "agents-"));
  // Windows: ZeroMQ's ipc:// is not available there; a loopback port (0: the OS picks one) is.
  const wanted = process.platform === "win32" ? "tcp://127.0.0.1:0" : `ipc://${path.join(dir, "photogrammetry.sock")}`;
  const server = await listen(wanted, { name: "photogrammetry" });
  const endpoint = server.endpoint; // with the port the OS chose
  const scanner = spawn(process.execPath, [__filename, "scanner", endpoint, transport], { stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise<number | null>((resolve) => scanner.once("exit", resolve));
  try {
    for await (const peer of server) {
      console.log(`photogrammetry: ${peer.remoteName} (pid ${peer.remotePid}) connected over ${peer.transport}`);
      let n = 0;
      // copy: false: over shm each cloud is the scanner's loan itself (no copy), valid until the next step.
      for await (const cloud of peer.messages({ copy: false, timeout: TIMEOUT_MS })) {
        const xyz = new Float32Array(cloud.buffer, cloud.byteOffset, cloud.byteLength / 4);
        const c = [0, 0, 0];
        for (let i = 0; i < xyz.length; i += 3) for (let k = 0; k < 3; k++) c[k]! += xyz[i + k]!;
        const points = xyz.length / 3;
        const answer = { cloud: n++, points, centroid: c.map((v) => Number((v / points).toFixed(3))) };
        await peer.send(Buffer.from(JSON.stringify(answer)), { timeout: TIMEOUT_MS });
      }
      console.log(`photogrammetry: ${peer.remoteName} closed after ${n} clouds`);
      await peer.close();
      break; // one scanner in this example
    }
    console.log(`photogrammetry: scanner exited with ${await exited}`);
  } finally {
    await server.close();
    scanner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function scanner(endpoint: string, transport: string): Promise<void> {
  const peer = await connect(endpoint, { name: "scanner", transport: transport === "zmq" ? "zmq" : "auto" });
  console.log(`scanner: connected to ${peer.remoteName} over ${peer.transport}${peer.reason ? ` (${peer.reason})` : ""}`);
  for (let n = 0; n < CLOUDS; n++) {
    const loan = await peer.loan(POINTS * 12, { timeout: TIMEOUT_MS });
    const xyz = new Float32Array(loan.buffer, loan.byteOffset, POINTS * 3);
    for (let i = 0; i < xyz.length; i += 3) {
      xyz[i] = n; // x: the cloud's number
      xyz[i + 1] = 2;
      xyz[i + 2] = (i / 3) % 2; // z: 0, 1, 0, 1, ...
    }
    await peer.send(loan, { timeout: TIMEOUT_MS });
    const answer = JSON.parse(Buffer.from(await peer.recv({ timeout: TIMEOUT_MS })).toString()) as { cloud: number; centroid: number[] };
    console.log(`scanner: cloud ${answer.cloud} centroid ${JSON.stringify(answer.centroid)}`);
  }
  await peer.close();
}

const [role, endpoint, transport] = process.argv.slice(2);
(role === "scanner" ? scanner(endpoint!, transport ?? "auto") : photogrammetry(role ?? "auto")).catch((e) => {
  console.error(e);
  process.exit(1);
});
