const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Channel } = shm;
const cp = require("child_process");
const fs = require("fs");
const role = process.argv[2];
(async () => {
  if (role === "writer-dies") {
    const w = cp.spawn(process.execPath, ["child.js", "writer", "", process.argv[3] || "plain"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = ""; w.stdout.on("data", d => out += d);
    while (!/ready (\S+)/.test(out)) await new Promise(r => setTimeout(r, 5));
    const rx = Channel.attach(/ready (\S+)/.exec(out)[1]);
    fs.writeFileSync("killme.flag", "x");
    let n = 0; const t0 = Date.now(); let last = Date.now();
    try { for (;;) { const m = await rx.recv({ timeout: 15000 }); if (m === null) { console.log("null"); break; } n++; last = Date.now(); } } catch (e) { console.log("reader got", e.code, "after", n, "msgs,", Date.now() - last, "ms after last message"); }
    rx.close();
  } else {
    const tx = Channel.create({ capacity: 64 * 1024, pool: { maxBytes: 4 << 20 } });
    const r = cp.spawn(process.execPath, ["child.js", "reader", tx.name, process.argv[3] || "plain"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = ""; r.stdout.on("data", d => out += d);
    while (!/ready/.test(out)) await new Promise(r => setTimeout(r, 5));
    fs.writeFileSync("killme.flag", "x");
    let last = Date.now(), k = 0;
    try { for (;; k++) { await tx.send(new Uint8Array(1000), { timeout: 15000 }); last = Date.now(); } } catch (e) { console.log("writer got", e.code, "after", k, Date.now() - last, "ms after last send"); }
    tx.close();
  }
})();
