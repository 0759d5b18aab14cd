// A subscriber that takes the slot another just left is not woken by the writer's
// publish until the writer's 100 ms scan drops the old claimant's mapping: the
// writer notifies the old (departed) claimant's line instead.
import { Broadcast } from "../../dist/lib/index.js";
const w = Broadcast.create({ capacity: 65536 });
const a = Broadcast.attach(w.name);
w.trySend("t", new Uint8Array(8)); w.flushHeld(); // the writer maps a's cursor
a.tryRecv(); a.close();
let worst = 0;
for (let i = 0; i < 5; i++) {
  const b = Broadcast.attach(w.name); // same slot 0
  const p = b.recv({ timeout: 5000 });
  await new Promise((r) => setImmediate(r));
  const t0 = performance.now();
  w.trySend("t", new Uint8Array(8)); w.flushHeld();
  await p;
  const dt = performance.now() - t0;
  worst = Math.max(worst, dt);
  console.log(`slot ${b.slot}: woken after ${dt.toFixed(1)} ms`);
  b.close();
}
console.log(worst > 20 ? "DEFECT: a rejoiner is woken only by its 100 ms re-check" : "OK");
w.close();
