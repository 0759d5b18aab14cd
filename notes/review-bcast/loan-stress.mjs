// Stress loans: 3 holder processes (+ random SIGKILL/SIGSTOP victims); few slabs so
// they are reused constantly; holders re-check held views before releasing them.
import { spawn } from "node:child_process";
import { Broadcast } from "../../dist/lib/index.js";
const policy = process.argv[2] ?? "drop";
const secs = Number(process.argv[3] ?? 8);
const w = Broadcast.create({ capacity: 4096, policy, blockTimeout: 200, maxLoanBytes: 16 * 8192 });
const child = new URL("./loan-holder.mjs", import.meta.url).pathname;
const results = [];
const procs = new Set();
const start = (victim) => { const c = spawn(process.execPath, [child, w.name], { stdio: ["ignore", "pipe", "inherit"] }); let o = ""; c.stdout.on("data", (d) => (o += d)); c.victim = victim; procs.add(c); c.on("close", (code, sig) => { procs.delete(c); results.push({ victim, sig, o }); }); return c; };
for (let i = 0; i < 3; i++) start(false);
await new Promise((r) => setTimeout(r, 1500));
const end = Date.now() + secs * 1000;
let k = 0, maxLoan = 0, next = Date.now();
while (Date.now() < end) {
  const t0 = performance.now();
  const size = 512 + ((k * 977) % 7000);
  let l;
  try { l = await w.loan(size, { timeout: 10000 }); } catch (e) {
    console.log("LOAN TIMEOUT at", k, "subs", JSON.stringify(w.subscribers), "procs", [...procs].map((c) => [c.pid, c.victim, c.exitCode, c.signalCode]));
    const { execSync } = await import("node:child_process");
    for (const c of procs) try { console.log(c.pid, execSync(`grep State /proc/${c.pid}/status`).toString().trim()); } catch {}
    const { readFileSync } = await import("node:fs");
    const u8 = new Uint8Array(w.segment.buffer, w.segment.dataOffset);
    const dv = new DataView(w.segment.buffer, w.segment.dataOffset);
    for (let i = 0; i < 8; i++) {
      const at = 256 + 128 * i;
      const name = Buffer.from(u8.subarray(at + 32, at + 64)).toString("latin1").replace(/\0.*$/, "");
      const st = dv.getUint32(at, true), pid = dv.getUint32(at + 8, true);
      let held = [];
      try { const f = readFileSync(`/dev/shm/${name}`); for (let e = 0; e < 64; e++) { const v = f.readBigUInt64LE(4096 + 1024 + 8 * e); if (v) held.push(`${Number(v & 0xffffffffn) - 1}/${v >> 32n}`); } } catch (e) { held = [String(e.code)]; }
      console.log("slot", i, "state", st, "pid", pid, name, "alive", (() => { try { process.kill(pid, 0); return true; } catch { return false; } })(), "held", held.join(" "));
    }
    for (const c of procs) c.kill("SIGKILL");
    process.exit(1);
  }
  maxLoan = Math.max(maxLoan, performance.now() - t0);
  for (let i = 0; i < size; i += 512) l.data.fill((k * 13 + (i >> 9)) & 255, i, Math.min(size, i + 512));
  await w.send(`L.${k}`, l);
  k++;
  if (k % 50 === 0) await new Promise((r) => setImmediate(r));
  if (Date.now() > next) {
    next = Date.now() + 100 + Math.random() * 300;
    const v = [...procs].filter((c) => c.victim);
    if (v.length < 3) start(true);
    const x = v[Math.floor(Math.random() * v.length)];
    if (x) { if (Math.random() < 0.6) x.kill("SIGKILL"); else { x.kill("SIGSTOP"); setTimeout(() => { x.kill("SIGCONT"); setTimeout(() => x.kill("SIGKILL"), 100); }, 300 + Math.random() * 300); } }
  }
}
w.close();
await new Promise((r) => setTimeout(r, 4000));
for (const c of procs) c.kill("SIGKILL");
let bad = 0;
for (const r of results) {
  const line = r.o.split("\n").find((l) => l.startsWith("{"));
  if (!line) continue;
  const s = JSON.parse(line);
  if (s.errors.length) { bad++; console.log("BAD", r.victim, line); }
  else if (!r.victim) console.log("holder", line);
}
console.log(`${policy}: sent ${k} loans, longest loan() ${maxLoan.toFixed(0)} ms, ${bad} bad`);
