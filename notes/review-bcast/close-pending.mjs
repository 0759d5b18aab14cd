// close() while send()s (queued), loan() and recv() wait: each ends with ECLOSED; nothing hangs.
import { Broadcast } from "../../dist/lib/index.js";
const w = Broadcast.create({ capacity: 4096, policy: "block", maxLoanBytes: 4096 });
const r = Broadcast.attach(w.name);
while (w.trySend("t", new Uint8Array(100)));
const l0 = w.tryLoan(10); // the only slab, loaned
const waits = [w.send("t", new Uint8Array(10)), w.send("t", new Uint8Array(10)), w.loan(10)];
await new Promise((res) => setTimeout(res, 50));
w.close();
const res = await Promise.allSettled(waits.map((p) => Promise.race([p, new Promise((_, j) => setTimeout(() => j(new Error("HANG")), 3000))])));
console.log(res.map((x) => x.status + ":" + (x.reason?.code ?? x.reason?.message)));
let n = 0;
try { for (;;) { await r.recv({ timeout: 3000 }); n++; } } catch (e) { console.log("reader after", n, "messages:", e.code); }
r.close();
