// Run in a private mount namespace with a tiny /dev/shm (see shm-full.sh):
// create, attach and loan on a full /dev/shm fail with typed errors, no SIGBUS.
import { Broadcast } from "../../dist/lib/index.js";
const out = (what, f) => { try { const r = f(); console.log(what, "ok"); return r; } catch (e) { console.log(what, "error", e.code, e.message.slice(0, 80)); } };
const w = out("create 64K", () => Broadcast.create({ capacity: 1 << 16 }));
const subs = [];
for (let i = 0; i < 40; i++) { const r = out(`attach ${i}`, () => Broadcast.attach(w.name)); if (!r) break; subs.push(r); }
const l = out("tryLoan 1MB", () => w.tryLoan(1 << 20));
w.trySend("t", new Uint8Array(100)); w.flushHeld();
for (const r of subs) r.tryRecv();
out("loan 1MB", () => w.tryLoan(1 << 20));
out("send", () => w.trySend("t", new Uint8Array(10)));
for (const r of subs) r.close();
w.close();
