// send() is "fire and forget"-able (as a socket's write): a send() called while an
// earlier one waits for room must not overtake it (the channel keeps call order).
import { Broadcast } from "../../dist/lib/index.js";
const w = Broadcast.create({ capacity: 4096, policy: "block" });
const r = Broadcast.attach(w.name);
const msg = (k) => { const b = new Uint8Array(200); b[0] = k; return b; };
let k = 0;
while (w.trySend("t", msg(k))) k++;
w.flushHeld();
const pA = w.send("t", msg(k)); // waits: the ring is full
const a = k++;
const got = [];
for (let i = 0; i < 6; i++) got.push(r.tryRecv().data[0]); // frees room (one batch)
const pB = w.send("t", msg(k)); // B after A, in call order
const b = k++;
await Promise.all([pA, pB]);
w.flushHeld();
for (let m; (m = r.tryRecv()) !== null; ) got.push(m.data[0]);
const ia = got.indexOf(a), ib = got.indexOf(b);
console.log(`A (${a}) delivered at ${ia}, B (${b}) at ${ib}:`, ia < ib ? "OK (call order)" : "DEFECT: B overtook A");
r.close(); w.close();
