// A connector outlives its listener's crash: it reconnects by itself.
//   npm run build:ts && node dist/examples/reconnect.js
//
// "planner" listens in a second process and answers each request; the
// scanner (this process) connects, asks three questions, then the planner
// is killed (-9: a crash) and started again. The scanner's Peer reports
// "reconnecting", dials every 10 ms, and is "connected" to the new planner
// about 10 ms after it listens; the same Peer asks three more. Delivery is at
// most once across the gap: a request in flight when the planner died is
// lost with that connection (here none is: the scanner waits for each reply).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";

import { connect, listen } from "@synaptic-mesh/shm";

// Generous: a fresh Node process on a busy machine.
const TIMEOUT_MS = 30_000;

async function planner(endpoint: string, generation: string): Promise<void> {
  const server = await listen(endpoint, { name: `planner-${generation}` });
  process.stdout.write("listening\n");
  // One scanner per planner here: answer it until it closes, then stop.
  for await (const peer of server) {
    for await (const req of peer) await peer.send(Buffer.from(`plan for ${Buffer.from(req).toString()}`));
    await peer.close();
    break;
  }
  await server.close();
}

/** Starts a planner process; resolves once it listens. */
function startPlanner(endpoint: string, generation: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [__filename, "planner", endpoint, String(generation)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout!.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`planner exited with ${code}`)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function scanner(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "reconnect-"));
  // The new planner listens where the old one did. Windows: ZeroMQ's ipc://
  // is not available there; a loopback port that is free now is.
  const endpoint = process.platform === "win32" ? `tcp://127.0.0.1:${await freePort()}` : `ipc://${path.join(dir, "planner.sock")}`;
  let child = await startPlanner(endpoint, 1);
  const peer = await connect(endpoint, { name: "scanner" });
  let listening = 0;
  peer.on("state", (state: string) => {
    if (state === "connected") console.log(`scanner: connected again to ${peer.remoteName} (${(performance.now() - listening).toFixed(0)} ms after it listened)`);
    else console.log(`scanner: ${state}`);
  });
  try {
    console.log(`scanner: connected to ${peer.remoteName} over ${peer.transport}`);
    const ask = async (i: number): Promise<void> => {
      await peer.send(Buffer.from(`area ${i}`), { timeout: TIMEOUT_MS });
      console.log(`scanner: ${Buffer.from(await peer.recv({ timeout: TIMEOUT_MS })).toString()} from ${peer.remoteName}`);
    };
    for (let i = 0; i < 3; i++) await ask(i);
    const reconnecting = new Promise((r) => peer.once("state", r));
    child.kill("SIGKILL");
    console.log("scanner: planner-1 killed (-9)");
    await reconnecting;
    child = await startPlanner(endpoint, 2);
    listening = performance.now();
    for (let i = 3; i < 6; i++) await ask(i); // they wait for the new connection
    console.log(`scanner: ${peer.stats.reconnects} reconnect, state ${peer.state}`);
  } finally {
    await peer.close(); // planner-2 sees the end and exits
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      const timer = setTimeout(() => child.kill(), TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const [role, endpoint, generation] = process.argv.slice(2);
(role === "planner" ? planner(endpoint!, generation!) : scanner()).catch((e) => {
  console.error(e);
  process.exit(1);
});
