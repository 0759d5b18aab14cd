// timeouts: recvSync/sendSync/waitSync/recv({timeout}) never end early; how late
const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Channel, Segment, WaitLine, Waiter, layout } = shm;
const tx = Channel.create({ capacity: 1024, spin: 0 });
const rx = Channel.attach(tx.name, { spin: 0 });
const seg = Segment.create({ size: 4096 });
const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
function time(f) { const t = performance.now(); const r = f(); return [performance.now() - t, r]; }
for (const ms of [0, 0.1, 0.5, 1, 1.5, 2, 5, 15, 16, 50, 100, 250, 1001]) {
  const a = time(() => rx.recvSync(ms));
  const b = time(() => line.waitSync(line.seq, ms));
  console.log(`timeout ${ms}: recvSync ${a[0].toFixed(2)} ms -> ${a[1]}; waitSync ${b[0].toFixed(2)} -> ${b[1]}${a[0] < ms || b[0] < ms ? "  EARLY!" : ""}`);
}
while (tx.trySend(new Uint8Array(100)));
for (const ms of [0, 1, 5, 100]) { const a = time(() => tx.sendSync(new Uint8Array(100), ms)); console.log(`sendSync full ${ms}: ${a[0].toFixed(2)} -> ${a[1]}${a[0] < ms ? " EARLY" : ""}`); }
(async () => {
  const w = new Waiter(line);
  for (const ms of [0, 1, 5, 50]) { const t = performance.now(); const r = await w.wait(line.prepare(w.mode), ms); line.finish(); console.log(`Waiter.wait ${ms}: ${(performance.now() - t).toFixed(2)} -> ${r}`); }
  // bad timeouts
  for (const v of [-1, NaN, "5", 2 ** 53, 1e300]) { try { const r = rx.recvSync(v); console.log("recvSync", v, "->", r); } catch (e) { console.log("recvSync", v, "->", e.code); } }
  w.close(); seg.close(); tx.close(); rx.close();
})();
