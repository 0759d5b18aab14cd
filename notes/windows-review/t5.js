const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Channel, Segment } = shm;
const cp = require("child_process");
(async () => {
  const name = "race-" + process.pid;
  const c = cp.spawn(process.execPath, ["child.js", "creator", name], { stdio: ["ignore", "pipe", "pipe"] });
  let out = ""; c.stdout.on("data", d => out += d); c.stderr.on("data", d => out += d);
  while (!/ready/.test(out)) await new Promise(r => setTimeout(r, 5));
  const codes = {};
  const t0 = Date.now();
  while (Date.now() - t0 < 3000) {
    try { const r = Channel.attach(name); codes.ok = (codes.ok || 0) + 1; try { r.close(); } catch (e) { codes["close " + e.code] = 1; } }
    catch (e) { codes[e.code] = (codes[e.code] || 0) + 1; if (!["ENOENT","EAGAIN"].includes(e.code)) codes["msg " + e.code] = e.message; }
  }
  console.log("attach vs create/close loop:", JSON.stringify(codes));
  c.kill();
  await new Promise(r => c.on("exit", r));
  // after kill: create must work (maybe after a moment)
  let t1 = Date.now(), ok = false, last;
  while (Date.now() - t1 < 3000) { try { Channel.create({ capacity: 4096, name }).close(); ok = true; break; } catch (e) { last = e.code; await new Promise(r => setTimeout(r, 5)); } }
  console.log("create after kill:", ok, "after", Date.now() - t1, "ms", last || "");
  console.log("creator output:", out.slice(0, 300));
})();
