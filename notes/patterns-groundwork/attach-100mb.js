// What the first delivery of a 100 MB loan costs a subscriber that has not
// mapped the slab yet: Segment.attach (validate header, mmap, no prefault)
// in N subscriber processes at once, then reading one byte per page
// (faulting the mapping in) and the sum of all bytes (a full read).
// Usage: node attach-100mb.js [subscribers=4]
"use strict";
const { fork } = require("child_process");
const { performance } = require("perf_hooks");
const { Segment } = require("/work/main/dist/lib/index.js");
const SIZE = 100e6;

if (process.argv[2] === "--sub") {
  const t0 = performance.now();
  const seg = Segment.attach(process.argv[3]);
  const t1 = performance.now();
  const b = new Uint8Array(seg.buffer, seg.dataOffset, SIZE);
  let s = 0;
  for (let i = 0; i < SIZE; i += 4096) s += b[i];
  const t2 = performance.now();
  const w = new Int32Array(seg.buffer, seg.dataOffset, SIZE >> 2);
  for (let i = 0; i < w.length; i++) s = (s + w[i]) | 0;
  const t3 = performance.now();
  process.send({ attachMs: t1 - t0, touchPagesMs: t2 - t1, fullReadMs: t3 - t2, s });
  seg.close();
} else {
  const n = +(process.argv[2] || 4);
  const seg = Segment.create({ size: SIZE, prefault: true });
  new Uint8Array(seg.buffer, seg.dataOffset, SIZE).fill(1);
  const kids = [];
  for (let i = 0; i < n; i++) {
    const k = fork(__filename, ["--sub", seg.name]);
    kids.push(new Promise((r) => k.once("message", r)));
  }
  Promise.all(kids).then((rs) => {
    const f = (k) => rs.map((r) => +r[k].toFixed(2));
    console.log(JSON.stringify({ subscribers: n, attachMs: f("attachMs"), touchPagesMs: f("touchPagesMs"), fullReadMs: f("fullReadMs") }));
    seg.close();
    process.exit(0);
  });
}
