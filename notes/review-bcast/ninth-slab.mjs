// A subscriber that maps a 9th loan slab unmaps that very slab (its #trim picks the
// newest mapping, lastUsed 0, first) and recv() rejects with an untyped TypeError
// "Cannot perform Atomics.load on a detached ArrayBuffer".
import { Broadcast } from "../../dist/lib/index.js";
const w = Broadcast.create({ capacity: 1 << 16 });
const r = Broadcast.attach(w.name);
for (let k = 0; k < 12; k++) { const l = w.tryLoan(4096); l.data.fill(k); w.trySend(`L.${k}`, l); }
w.flushHeld();
console.log("slabs", w.loanBytes / 4096);
try {
  for (let k = 0; k < 12; k++) { const m = r.tryRecv(); if (m.data[0] !== k || m.data.length !== 4096) throw new Error(`loan ${k} wrong`); m.release(); }
  console.log("OK: 12 loans in 12 slabs received");
} catch (e) { console.log("DEFECT:", e.code ?? "(no code)", e.constructor.name, e.message); }
r.close(); w.close();
