// block: a subscriber is evicted only while a send waits on it (PROTOCOL §6.5 step 1).
// After a trySend() that found no room, or a send() that timed out, nothing waits:
// a paused subscriber must not be evicted by the writer's 100 ms timer scan.
import { Broadcast } from "../../dist/lib/index.js";
for (const how of ["trySend", "send timeout"]) {
  const w = Broadcast.create({ capacity: 4096, policy: "block", blockTimeout: 200 });
  const r = Broadcast.attach(w.name);
  while (w.trySend("t", new Uint8Array(100)));
  w.flushHeld();
  if (how === "trySend") w.trySend("t", new Uint8Array(100));
  else await w.send("t", new Uint8Array(100), { timeout: 20 }).catch((e) => e.code);
  await new Promise((res) => setTimeout(res, 600)); // nothing waits now
  const st = w.subscribers[0].state;
  console.log(how, st === "active" ? "OK: not evicted" : `DEFECT: evicted (${st}) though no send waited`);
  r.close(); w.close();
}
