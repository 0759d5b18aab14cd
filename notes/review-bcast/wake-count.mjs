// Syscalls per message (run under strace -c -f): one writer, two subscriber processes, 200k messages, block.
import { spawn } from "node:child_process";
import { Broadcast } from "../../dist/lib/index.js";
import { bodyOf, topicOf } from "../../dist/test/fixtures/broadcast-pattern.js";
const w = Broadcast.create({ capacity: 1 << 16, policy: "block" });
const fixture = new URL("../../dist/test/fixtures/broadcast-sub.js", import.meta.url).pathname;
const subs = [0, 1].map(() => spawn(process.execPath, [fixture, w.name, "*"], { stdio: ["ignore", "pipe", "inherit"] }));
const outs = subs.map((c) => new Promise((res) => { let o = ""; c.stdout.on("data", (d) => { o += d; }); c.on("close", () => res(o)); }));
await new Promise((res) => setTimeout(res, 1500));
const n = 200_000;
for (let k = 0; k < n; k++) await w.send(topicOf(k), bodyOf(k));
w.close();
for (const o of await Promise.all(outs)) console.log(o.split("\n").find((l) => l.startsWith("{")));
