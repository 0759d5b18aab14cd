// Steady load for strace -c -f: 200 requests in flight against a child server (kill-server.mjs) for N ms.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { connect } from "../../dist/lib/index.js";
const dir = mkdtempSync(path.join(tmpdir(), "rrs-"));
const ep = `ipc://${path.join(dir, "k.sock")}`;
const child = spawn(process.execPath, [new URL("./kill-server.mjs", import.meta.url).pathname, ep], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((r) => child.stdout.once("data", r));
const peer = await connect(ep, { name: "cli", capacity: 64 * 1024 });
let ok = 0; const until = Date.now() + Number(process.argv[2] ?? 3000); const inflight = new Set();
while (Date.now() < until) {
  while (inflight.size < Number(process.argv[3] ?? 200)) { const p = peer.request(Buffer.from([1, 2, 3, 4]), { timeout: 5000 }).then(() => ok++); inflight.add(p); p.finally(() => inflight.delete(p)); }
  await Promise.race(inflight);
}
await Promise.allSettled(inflight);
console.log(`requests ${ok}`);
await peer.close(); child.kill(); rmSync(dir, { recursive: true, force: true });
