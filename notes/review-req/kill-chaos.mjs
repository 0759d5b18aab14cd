// Parent: connect with reconnect: true to a child listener, requests (and plain messages) all the time,
// kill -9 / SIGSTOP+SIGCONT / restart the child at random moments. Every request must resolve with ITS
// reply or reject with a typed code; nothing may hang; plain echoes must come back in order (at most once).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { connect } from "../../dist/lib/index.js";
const dir = mkdtempSync(path.join(tmpdir(), "rrk-"));
const ep = `ipc://${path.join(dir, "k.sock")}`;
const transport = process.argv[2] ?? "auto";
let child;
const start = () => new Promise((res) => { child = spawn(process.execPath, [new URL("./kill-server.mjs", import.meta.url).pathname, ep], { stdio: ["ignore", "pipe", "inherit"] }); child.stdout.once("data", res); });
await start();
const peer = await connect(ep, { name: "cli", transport, capacity: 16 * 1024, heartbeat: { intervalMs: 200, timeoutMs: 1000 } });
const codes = {}; let ok = 0, wrong = 0, untyped = 0, seq = 0;
const until = Date.now() + Number(process.argv[3] ?? 20000);
const inflight = new Set();
const one = async () => {
  const i = seq++; const b = Buffer.alloc(8 + (i % 200)); b.writeUInt32LE(i, 0); b[0] = i % 251;
  b.writeUInt32LE(i, 4);
  try {
    const r = await peer.request(b, { timeout: 4000 });
    if (r[0] === 82 && Buffer.from(r.subarray(1)).equals(b)) ok++; else { wrong++; console.log("WRONG reply for", i, "len", r.length, "want", b.length + 1, "state", peer.state, Buffer.from(r.subarray(0, 8)).toString("hex")); }
  } catch (e) { if (e.code === undefined) { untyped++; console.log("UNTYPED", e); } codes[e.code] = (codes[e.code] ?? 0) + 1; }
};
const chaos = (async () => {
  while (Date.now() < until - 3000) {
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
    const a = Math.random();
    if (a < 0.5) { child.kill("SIGKILL"); await new Promise((r) => setTimeout(r, Math.random() * 300)); await start(); }
    else if (a < 0.8) { child.kill("SIGSTOP"); await new Promise((r) => setTimeout(r, Math.random() * 1500)); child.kill("SIGCONT"); }
  }
})();
while (Date.now() < until) {
  while (inflight.size < 200) { const p = one(); inflight.add(p); p.finally(() => inflight.delete(p)); }
  await Promise.race(inflight);
}
const hang = setTimeout(() => { console.log("HANG: requests still pending after their timeouts:", inflight.size); process.exit(2); }, 10000);
await Promise.all(inflight); clearTimeout(hang); await chaos;
console.log(JSON.stringify({ transport: peer.transport, ok, wrong, untyped, codes, reconnects: peer.stats.reconnects, dropped: peer.stats.repliesDropped }));
child.kill("SIGKILL"); await new Promise((r) => child.once("exit", r)); await new Promise((r) => setTimeout(r, 200)); await peer.close(); rmSync(dir, { recursive: true, force: true });
