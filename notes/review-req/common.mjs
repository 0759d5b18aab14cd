import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { connect, listen } from "../../dist/lib/index.js";
export async function pair(opts = {}, transport = "auto") {
  const dir = mkdtempSync(path.join(tmpdir(), "rr-"));
  const ep = `ipc://${path.join(dir, "s.sock")}`;
  const server = await listen(ep, { name: "server", capacity: 16 * 1024, maxMessageSize: 1 << 20, ...opts });
  const first = (async () => { for await (const p of server) return p; })();
  const cp = await connect(ep, { name: "client", transport, capacity: 16 * 1024, ...opts });
  const sp = await first;
  return { server, sp, cp, async close() { await cp.close(); await sp.close(); await server.close(); rmSync(dir, { recursive: true, force: true }); } };
}
