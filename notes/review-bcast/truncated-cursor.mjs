// A subscriber truncates its own cursor segment after the writer mapped it:
// does the writer's next access (notify / cursor load) crash it with SIGBUS?
import { truncateSync } from "node:fs";
import { Broadcast } from "../../dist/lib/index.js";
const w = Broadcast.create({ capacity: 65536 });
const r = Broadcast.attach(w.name);
w.trySend("t", new Uint8Array(8)); w.flushHeld(); // maps r's cursor
truncateSync(`/dev/shm/${r.cursor.name}`, 0);
console.log("truncated; sending");
try { w.trySend("t", new Uint8Array(8)); w.flushHeld(); console.log("writer survived publish"); console.log(w.subscribers.map(s=>s.state)); } catch (e) { console.log("error", e.code, e.message); }
r.close(); w.close();
