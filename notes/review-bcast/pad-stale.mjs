// Queued send()s of the largest frames behind a slow reader (block): the room a
// waiting send checks must include the PAD it needs where it is written *now*.
import { Broadcast } from "../../dist/lib/index.js";
let bad = 0;
for (let trial = 0; trial < 40; trial++) {
  const w = Broadcast.create({ capacity: 4096, policy: "block", blockTimeout: 60_000 });
  const r = Broadcast.attach(w.name);
  const big = (k, n) => new Uint8Array(n).fill(k);
  w.trySend("t", new Uint8Array(8 * (trial % 50)));
  let k = 0;
  while (w.trySend("t", big(k, 1007 - (k * 40 + trial * 8) % 700))) k++;
  w.flushHeld();
  const pending = [];
  for (let i = 0; i < 8; i++) { pending.push(w.send("t", big(k, 1007 - (k * 40 + trial * 8) % 700), { timeout: 5000 })); k++; }
  let done = false; Promise.all(pending).then(() => (done = true));
  while (!done) { r.tryRecv(); await new Promise((res) => setTimeout(res, 1)); }
  w.flushHeld();
  while (r.tryRecv() !== null);
  if (r.missed || r.stats.laps) { bad++; }
  r.close(); w.close();
}
console.log(bad ? `DEFECT: ${bad}/40 trials lost messages under block` : "OK");
