// Stress: a writer streams pattern messages; subscriber processes join, get
// SIGKILLed / SIGSTOPped at random moments; survivors must report no torn or
// misordered message and (all topics) got + missed == last - first + 1.
// usage: node stress-kill.mjs block|drop [seconds]
import { spawn } from "node:child_process";
import { Broadcast } from "../../dist/lib/index.js";
import { bodyOf, topicOf } from "../../dist/test/fixtures/broadcast-pattern.js";
const policy = process.argv[2] ?? "drop";
const secs = Number(process.argv[3] ?? 10);
const w = Broadcast.create({ capacity: 1 << 13, policy, blockTimeout: 300, maxSubscribers: 8 });
const fixture = new URL("../../dist/test/fixtures/broadcast-sub.js", import.meta.url).pathname;
const subs = new Set();
const results = [];
function start(victim) {
  const c = spawn(process.execPath, [fixture, w.name, "*"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  c.stdout.on("data", (d) => (out += d));
  c.stderr.on("data", (d) => (out += d));
  c.victim = victim;
  subs.add(c);
  c.on("close", (code, sig) => { subs.delete(c); results.push({ victim, code, sig, out: out.split("\n").find((l) => l.startsWith("{")) ?? out.slice(0, 300) }); });
  return c;
}
for (let i = 0; i < 3; i++) start(false);
const end = performance.now() + secs * 1000;
let k = 0, maxSend = 0;
let nextEvent = performance.now() + 200;
while (performance.now() < end) {
  const t0 = performance.now();
  await w.send(topicOf(k), bodyOf(k), { timeout: 10_000 });
  maxSend = Math.max(maxSend, performance.now() - t0);
  k++;
  if (performance.now() > nextEvent) {
    nextEvent = performance.now() + 50 + Math.random() * 300;
    const victims = [...subs].filter((c) => c.victim);
    if (victims.length < 4) start(true);
    const v = victims[Math.floor(Math.random() * victims.length)];
    if (v !== undefined) {
      const r = Math.random();
      if (r < 0.6) v.kill("SIGKILL");
      else { v.kill("SIGSTOP"); setTimeout(() => { v.kill("SIGCONT"); setTimeout(() => v.kill("SIGKILL"), 200); }, 400 + Math.random() * 400); }
    }
  }
  if (k % 500 === 0) await new Promise((r) => setImmediate(r));
}
w.close();
await new Promise((r) => setTimeout(r, 3000));
for (const c of subs) c.kill("SIGKILL");
await new Promise((r) => setTimeout(r, 300));
let bad = 0;
for (const r of results) {
  if (r.victim && r.sig === "SIGKILL") continue;
  let s; try { s = JSON.parse(r.out); } catch { if (!String(r.out).includes("ENOENT")) { console.log("NO SUMMARY", r); bad++; } continue; }
  const ok = s.errors.length === 0 && (s.code === "ECLOSED" || s.code === "ESLOW") && (s.code === "ESLOW" || (s.got === 0 || s.got + s.missed >= s.last - s.first + 1));
  if (!ok && !(r.out ?? "").includes("ENOENT")) { bad++; console.log("BAD", r.victim, JSON.stringify(s)); }
  else if (!r.victim) console.log("survivor", JSON.stringify(s));
}
console.log(`${policy}: sent ${k}, longest send ${maxSend.toFixed(0)} ms, ${results.length} subscribers ended, ${bad} bad`);
