import { pair } from "./common.mjs";
for (const transport of ["auto", "zmq"]) {
  const p = await pair({}, transport);
  const ab = new ArrayBuffer(8); const u = new Uint8Array(ab); structuredClone(ab, { transfer: [ab] });
  for (const [what, f] of [["send", () => p.cp.send(u)], ["trySend", async () => p.cp.trySend(u)], ["request", () => p.cp.request(u, { timeout: 500 })], ["request(ab)", () => p.cp.request(ab, { timeout: 500 })]]) {
    try { await f(); console.log(p.cp.transport, what, "ok"); } catch (e) { console.log(p.cp.transport, what, e.code ?? "UNTYPED " + e.message); }
  }
  await p.close();
}
