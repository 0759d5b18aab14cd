const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Channel } = shm;
const cp = require("child_process");
function hostile(...a) { const h = cp.spawn("hostile.exe", ["20000", ...a], { stdio: ["ignore", "pipe", "inherit"] }); return new Promise(r => h.stdout.once("data", d => { console.log("  hostile", a[0], String(d).trim()); r(h); })); }
(async () => {
  for (const kind of [["event"], ["sem", "0", "1"], ["mutexown"]]) {
    const tx = Channel.create({ capacity: 4096, spin: 0 });
    const h = await hostile(kind[0], tx.segment.token + ".lock1", ...kind.slice(1));
    try { const r = Channel.attach(tx.name); console.log(kind[0], "reader attach OK"); r.close(); } catch (e) { console.log(kind[0], "reader attach ->", e.code, e.message.slice(0, 100)); }
    // pretend a reader was open: set reader_state to open, then writer checks liveness via a full ring
    new Int32Array(tx.segment.handle.buffer(), 0, 64)[132 / 4] = 1;
    try { for (let i = 0; i < 100; i++) await tx.send(new Uint8Array(500), { timeout: 3000 }); } catch (e) { console.log(kind[0], "writer send on full ring ->", e.code, e.message.slice(0, 100)); }
    try { console.log(kind[0], "readerState", tx.readerState); } catch (e) { console.log(kind[0], "readerState ->", e.code, e.message.slice(0, 100)); }
    try { console.log(kind[0], "stat", JSON.stringify(shm.inspectSegment(tx.name).reader)); } catch (e) { console.log(kind[0], "stat ->", e.code, e.message.slice(0, 100)); }
    h.kill(); tx.close();
  }
  // wake semaphore squatted as a mutex for a segment we then attach (hostile knows token from its own mapping); emulate by pre-creating for a real segment's token while it is open: CreateSemaphoreW opens existing -> fine. Skip.
})();
