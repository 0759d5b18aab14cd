// Three named agents on a hub: two talk over shared memory, one through the hub.
//   npm run build:ts && node dist/examples/three-agents.js
//
// This process runs the hub (embedded: hub(endpoint); `synaptic-shm hub
// ENDPOINT` runs the same one on its own) and starts three agent processes.
// "claude" and "gemini" are on this host with the same uid: the hub
// introduces them and they connect directly (transport "shm"; the hub is
// not on their data path). "planner" joins with transport "zmq", as an
// agent on another host would: everything to and from it is routed through
// the hub. Agents address each other by name only:
//
//   claude --- "plan: ..." request ------------(hub)--> planner
//   claude --- 3 steps (messages) ---------------------> gemini   (shared memory)
//   claude <-- "done: ..." replies --------------------- gemini
//
// At the end the hub prints its per-route statistics (what `synaptic-shm
// hub --stats ENDPOINT` prints for a running hub).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import { hub, join, type Agent } from "@synaptic-mesh/shm";

// Generous: three fresh Node processes on a busy machine.
const TIMEOUT_MS = 30_000;

async function claude(a: Agent): Promise<void> {
  await a.waitFor("planner", { timeout: TIMEOUT_MS });
  await a.waitFor("gemini", { timeout: TIMEOUT_MS });
  const plan = Buffer.from(await a.request("planner", Buffer.from("plan: paint the fence"), { timeout: TIMEOUT_MS })).toString();
  console.log(`claude: planner (over ${a.transport("planner")}) answered "${plan}"`);
  const steps = plan.split(", ");
  for (const step of steps) await a.send("gemini", Buffer.from(step), { timeout: TIMEOUT_MS });
  console.log(`claude: sent ${steps.length} steps to gemini over ${a.transport("gemini")}`);
  let done = 0;
  for await (const { from, data } of a.messages({ timeout: TIMEOUT_MS })) {
    console.log(`claude: ${from} says "${Buffer.from(data).toString()}"`);
    if (++done === steps.length) break;
  }
  await a.send("planner", Buffer.from("all done"), { timeout: TIMEOUT_MS });
}

async function gemini(a: Agent): Promise<void> {
  let n = 0;
  let over: string | null = null;
  for await (const { from, data } of a.messages({ timeout: TIMEOUT_MS })) {
    await a.send(from, Buffer.from(`done: ${Buffer.from(data).toString()}`), { timeout: TIMEOUT_MS });
    over = a.transport(from); // while claude is there: once it left, transport() is null (no path to it)
    if (++n === 3) break;
  }
  console.log(`gemini: did ${n} steps for claude over ${over}`);
}

async function planner(a: Agent): Promise<void> {
  let over: string | null = null;
  for await (const req of a.requests({ timeout: TIMEOUT_MS })) {
    console.log(`planner: ${req.from} asks "${Buffer.from(req.data).toString()}"`);
    await req.reply(Buffer.from("scrape, prime, paint"));
    over = a.transport(req.from); // now: claude may have said its last and left by the time that arrives
    break;
  }
  const { from, data } = await a.recv({ timeout: TIMEOUT_MS });
  console.log(`planner: ${from} says "${Buffer.from(data).toString()}" (over ${over})`);
}

async function agent(endpoint: string, name: string): Promise<void> {
  // planner asks for ZeroMQ: never a direct pair, always through the hub.
  const a = await join(endpoint, { name, transport: name === "planner" ? "zmq" : "auto", timeout: TIMEOUT_MS });
  try {
    await (name === "claude" ? claude(a) : name === "gemini" ? gemini(a) : planner(a));
  } finally {
    await a.close(); // its last report of its direct pairs goes to the hub
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "three-agents-"));
  // Windows: ZeroMQ has no ipc:// there; a loopback port (0: the OS picks one).
  const h = await hub(process.platform === "win32" ? "tcp://127.0.0.1:0" : `ipc://${path.join(dir, "hub.sock")}`);
  h.on("join", (e: { name: string; pid: number }) => console.log(`hub: ${e.name} joined (pid ${e.pid})`));
  try {
    const codes = await Promise.all(
      ["claude", "gemini", "planner"].map((name) => {
        const child = spawn(process.execPath, [__filename, name, h.endpoint], { stdio: ["ignore", "inherit", "inherit"] });
        return new Promise<number | null>((resolve) => child.once("exit", resolve));
      }),
    );
    console.log(`hub: agents exited with ${codes.join(", ")}`);
    console.log("hub: routes");
    for (const r of h.stats().routes) console.log(`  ${r.from} -> ${r.to} ${r.path}: ${r.messages} message(s), ${r.bytes} bytes`);
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const [name, endpoint] = process.argv.slice(2);
(name === undefined ? main() : agent(endpoint!, name)).catch((e) => {
  console.error(e);
  process.exit(1);
});
