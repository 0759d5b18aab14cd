// A subscriber killed -9, its slot taken at once by a new one (before the writer's
// scan noticed the death): is the dead one's cursor segment swept, or left in /dev/shm?
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { Broadcast } from "../../dist/lib/index.js";
const w = Broadcast.create({ capacity: 4096 });
const fixture = new URL("../../dist/test/fixtures/broadcast-sub.js", import.meta.url).pathname;
const c = spawn(process.execPath, [fixture, w.name, "*"], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((res) => c.stdout.once("data", res));
w.trySend("t", new Uint8Array(8)); w.flushHeld(); // the writer maps it
const u8 = new Uint8Array(w.segment.buffer, w.segment.dataOffset);
const deadCursor = Buffer.from(u8.subarray(256 + 32, 256 + 64)).toString("latin1").replace(/\0.*$/, "");
c.kill("SIGKILL");
await new Promise((res) => c.on("exit", res));
const r = Broadcast.attach(w.name); // takes slot 0 at once
console.log("new subscriber slot", r.slot);
await new Promise((res) => setTimeout(res, 1500));
w.subscribers;
console.log(existsSync(`/dev/shm/${deadCursor}`) ? `DEFECT: the dead subscriber's cursor ${deadCursor} is left in /dev/shm` : "OK: swept");
r.close(); w.close();
