// drop: every message published after attach is either delivered or counted in missed,
// exactly once: got + missed == sent after attach (one process, deterministic schedule).
import { Broadcast } from "../../dist/lib/index.js";
let bad = 0;
for (let trial = 0; trial < 200; trial++) {
  const w = Broadcast.create({ capacity: 4096, policy: "drop" });
  for (let i = 0; i < (trial % 7) * 13; i++) w.trySend("t", new Uint8Array(1 + (i % 90)));
  if (trial % 2) w.flushHeld();
  const J = new Int32Array(w.segment.buffer, w.segment.dataOffset, 16)[8] >>> 0; // published_seq: everything after it must be accounted for
  const r = Broadcast.attach(w.name);
  let got = 0, missed = 0;
  const N = 2000;
  for (let i = 0; i < N; i++) {
    w.trySend("t", new Uint8Array(1 + ((i * 31 + trial) % 200)));
    if ((i + trial) % 37 === 0) w.flushHeld();
    if ((i * 7 + trial) % 101 < 3) for (let m; (m = r.tryRecv()) !== null; ) { got++; missed += m.missed; }
  }
  w.close();
  try { for (;;) { const m = r.tryRecv(); if (m === null) throw new Error("null after close?"); got++; missed += m.missed; } } catch (e) { if (e.code !== "ECLOSED") throw e; }
  const sent = w.seq - J;
  if (got + r.missed !== sent || missed > r.missed) { bad++; if (bad < 5) console.log(`trial ${trial}: sent ${sent}, got ${got}, r.missed ${r.missed}, missed seen ${missed}, laps ${r.stats.laps}`); }
  r.close();
}
console.log(bad ? `DEFECT: ${bad} of 200 trials miscount` : "OK: got + missed == sent in 200 trials");
