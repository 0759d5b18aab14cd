// Random-moment kills of a writer or reader child (TerminateProcess); the parent must get EPEERDEAD/null and not hang.
const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Channel } = shm;
const cp = require("child_process");
const node = process.execPath;
function start(args) {
  const c = cp.spawn(node, ["child.js", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = ""; c.stdout.on("data", d => out += d); c.stderr.on("data", d => out += d);
  c.ready = new Promise((res, rej) => { const t = setInterval(() => { const m = /ready ?(\S*)/.exec(out); if (m) { clearInterval(t); res(m[1]); } }, 5); c.on("exit", () => { clearInterval(t); rej(new Error("child exited: " + out)); }); });
  c.out = () => out;
  return c;
}
async function withDeadline(p, ms, what) { let t; const r = await Promise.race([p, new Promise(res => t = setTimeout(() => res("HANG " + what), ms))]); clearTimeout(t); return r; }
async function killWriter(mode, i) {
  const w = start(["writer", "", mode]);
  const name = await w.ready;
  const rx = Channel.attach(name);
  const delay = Math.floor(Math.random() * 200);
  let n = 0, err = null, done = false;
  const loop = (async () => { try { for (;;) { const m = mode === "sync" ? rx.recvSync(50) : await rx.recv({ timeout: 10000 }); if (m === null && mode !== "sync") return "null"; if (m) n++; if (mode==="sync") await new Promise(r=>setImmediate(r)); } } catch (e) { return e.code; } })();
  setTimeout(() => w.kill(), delay);
  const t0 = Date.now();
  const r = await withDeadline(loop, 8000, "reader");
  console.log(`writer-kill ${mode} #${i} after ${delay}ms: reader got ${n} then ${r} (${Date.now() - t0 - delay} ms after kill)`);
  rx.close();
}
async function killReader(mode, i) {
  const tx = Channel.create({ capacity: 64 * 1024, pool: { maxBytes: 4 << 20 } });
  const r = start(["reader", tx.name, mode]);
  await r.ready;
  const delay = Math.floor(Math.random() * 200);
  setTimeout(() => r.kill(), delay);
  const loop = (async () => { try { for (let k = 0;; k++) { if (mode === "loan" && (k & 1)) { const l = await tx.loan(100000, { timeout: 10000 }); await tx.send(l, { timeout: 10000 }); } else await tx.send(new Uint8Array(1000), { timeout: 10000 }); } } catch (e) { return e.code + " " + e.message.slice(0, 80); } })();
  const t0 = Date.now();
  const res = await withDeadline(loop, 8000, "writer");
  console.log(`reader-kill ${mode} #${i} after ${delay}ms: writer got ${res} (${Date.now() - t0 - delay} ms after kill)`);
  tx.close();
}
(async () => {
  for (let i = 0; i < 4; i++) for (const m of ["plain", "loan", "sync"]) await killWriter(m, i);
  for (let i = 0; i < 4; i++) for (const m of ["plain", "loan"]) await killReader(m, i);
  console.log("done");
})();
