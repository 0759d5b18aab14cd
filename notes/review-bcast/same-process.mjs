import { Broadcast } from "../../dist/lib/index.js";
const w = Broadcast.create({ capacity: 4096 });
const a = Broadcast.attach(w.name), b = Broadcast.attach(w.name);
console.log("slots", a.slot, b.slot);
await new Promise((r) => setTimeout(r, 300));
console.log("subs", w.subscribers.map((s) => [s.slot, s.state]));
w.trySend("t", new Uint8Array([1])); w.flushHeld();
console.log(a.tryRecv()?.data, b.tryRecv()?.data);
a.close(); b.close(); w.close();
