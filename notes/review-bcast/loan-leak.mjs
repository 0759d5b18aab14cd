// loan()'s wait predicate takes a loan each time it is evaluated; the Parker evaluates
// it twice when its pre-sleep re-check succeeds (#sleep, then wait): the first loan is
// lost, its slab stays "loaned" forever. Here the re-check succeeds because the scan
// in the re-check evicted the idle subscriber that held all 4 slabs.
import { Broadcast } from "../../dist/lib/index.js";
const w = Broadcast.create({ capacity: 1 << 16, blockTimeout: 200, maxLoanBytes: 4 * 4096 });
const idle = Broadcast.attach(w.name);
for (let k = 0; k < 5; k++) { const l = await w.loan(4096, { timeout: 5000 }); await w.send("t", l); }
w.flushHeld();
const all = [];
for (let i = 0; i < 4; i++) all.push(w.tryLoan(4096));
console.log(all.every((l) => l !== null) ? "OK: all 4 slabs can be loaned again" : `DEFECT: only ${all.filter(Boolean).length} of 4 slabs can be loaned: a loan taken inside loan()'s wait was lost`);
idle.close(); w.close();
