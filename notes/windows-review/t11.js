const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Segment, Channel } = shm;
const cp = require("child_process");
const exists = (...names) => cp.execFileSync("hostile.exe", ["0", "exists", ...names], { encoding: "utf8" }).trim().replace(/\r?\n/g, "; ");
function t(label, f) { try { const r = f(); console.log(label, "->", r === undefined ? "ok" : r); } catch (e) { console.log(label, "-> ERR", e.code, e.message.slice(0, 120)); } }
// 1. handle/object leak: after close, every named object must be gone
const tx = Channel.create({ capacity: 4096, pool: { maxBytes: 1 << 20 } });
const rx = Channel.attach(tx.name);
const tok = tx.segment.token;
const objs = [tx.name, tok + ".lock0", tok + ".lock1", tok + ".wake512", tok + ".wake640"];
console.log("open:", exists(...objs));
(async () => {
  const l = await tx.loan(1000); await tx.send(l); const m = await rx.recv();
  rx.close(); tx.close();
  console.log("after close:", exists(...objs));
  // 2. non-owner unlink, owner still open
  const s = Segment.create({ size: 100 });
  const a = Segment.attach(s.name);
  t("non-owner unlink", () => a.unlink());
  t("attach after non-owner unlink", () => Segment.attach(s.name).name);
  t("inspect after unlink", () => JSON.stringify(shm.inspectSegment(s.name)).slice(0, 300));
  t("owner still works: write/read", () => { s.data[0] = 5; return a.data[0]; });
  t("create same name while held", () => Segment.create({ name: s.name, size: 100 }).name);
  a.close();
  t("create same name while owner open (unlinked)", () => Segment.create({ name: s.name, size: 100 }).name);
  s.close();
  t("create same name after all closed", () => { const x = Segment.create({ name: s.name, size: 100 }); x.close(); return "ok"; });
  // 3. closed while a buffer keeps the mapping, then unlink()
  const o = Segment.create({ size: 100 }); o.unlinkOnClose = false;
  const view = new Uint8Array(o.buffer);
  const keepView = o.handle.view(4096, 10);
  o.close();
  t("attach after owner close (unlinkOnClose false, view alive)", () => Segment.attach(o.name).name);
  t("unlink() after close with live view", () => o.unlink());
  t("attach after that unlink", () => { const z = Segment.attach(o.name); z.close(); return "attached (Linux: ENOENT)"; });
  // 4. token changes after attach
  const c = Channel.create({ capacity: 4096 });
  const r = Channel.attach(c.name);
  new Uint8Array(c.segment.handle.buffer())[64] ^= 0xff;
  t("stat after token scribble", () => { const st = shm.inspectSegment(c.name); return JSON.stringify({ owner: st.owner, reader: st.reader }); });
  c.sendSync(new Uint8Array(5)); t("recv after token scribble", () => r.recvSync(100)?.length);
  r.close(); c.close();
  // 5. attach to a ring where owner has not set flags... skip. process.exit with open segments:
  const keep = Segment.create({ size: 100 });
  const keepTok = keep.token;
  console.log("exit-test", keep.name, keepTok);
  const child = cp.spawnSync(process.execPath, ["-e", `const shm=require("/tmp/review-wine/stage/dist/lib/index.js"); const s=shm.Segment.create({size:100}); const c=shm.Channel.create({capacity:4096}); console.log(s.name+" "+s.token+" "+c.name+" "+c.segment.token); process.exit(0);`], { encoding: "utf8" });
  const [sn, st, cn, ct] = child.stdout.trim().split(" ");
  console.log("after child process.exit:", exists(sn, st + ".lock0", cn, ct + ".lock0", ct + ".wake512"));
  keep.close();
})();
