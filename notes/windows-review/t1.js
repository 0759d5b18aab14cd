const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Segment, Channel } = shm;
const cp = require("child_process");
function tryit(label, f) { try { const r = f(); console.log(label, "OK", r === undefined ? "" : r); return r; } catch (e) { console.log(label, "ERR", e.code, String(e.message).slice(0, 160)); } }
const names = ["a".repeat(30), "a".repeat(31), "CON", "con.txt", "COM1", "COM¹", "LPT¹", "a/b", "a\\b", "Global", "smsh-x\u0000y", "CONIN$", "CONOUT$", "a..b", "x.", "x ", "-x", "CLOCK$"];
for (const n of names) tryit("create " + JSON.stringify(n), () => { const s = Segment.create({ name: n, size: 10 }); s.close(); });
for (const sz of [0, -1, 1, 4095, 2**32, 2**40, 1.5, NaN, Infinity, 2**53]) tryit("size " + sz, () => { const s = Segment.create({ size: sz }); const r = s.mappedSize; s.close(); return r; });
// view size rounding
const s = Segment.create({ size: 1 }); console.log("size1 mappedSize", s.mappedSize, s.buffer.byteLength);
const a = tryit("attach size1", () => Segment.attach(s.name)); if (a) { console.log("attached mapped", a.mappedSize, a.size); a.close(); }
s.close();
// squat a name with other object types
function hostile(ms, ...args) { return cp.spawn("hostile.exe", [String(ms), ...args], { stdio: ["ignore", "pipe", "inherit"] }); }
async function main() {
  for (const t of [["mutex"], ["sem", "0", "1"], ["event"]]) {
    const n = "squat-" + t[0];
    const h = hostile(3000, t[0], n, ...t.slice(1));
    await new Promise(r => h.stdout.once("data", d => { console.log("hostile", String(d).trim()); r(); }));
    tryit("create over " + t[0], () => Segment.create({ name: n, size: 10 }).close());
    tryit("attach over " + t[0], () => Segment.attach(n).close());
    tryit("inspect over " + t[0], () => JSON.stringify(shm.inspectSegment(n)).slice(0, 200));
    h.kill();
  }
  // mapping of 0 header
  tryit("attach none", () => Segment.attach("nonexistent-xyz"));
  tryit("inspect none", () => shm.inspectSegment("nonexistent-xyz"));
}
main();
