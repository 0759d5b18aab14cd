// shm: while a reply is awaited, the pump copies every plain message (and every request of the other
// side) out of the ring into memory, with no bound: the ring's back-pressure is gone. The other side
// sends 512 MiB that this side never reads; its sends never wait. (On zmq the credit window bounds it.)
import { pair } from "./common.mjs";
for (const transport of ["auto", "zmq"]) {
  const p = await pair({}, transport);
  const waiting = p.sp.request(Buffer.from("never answered"), { timeout: 60_000 }); waiting.catch(() => {});
  const before = process.memoryUsage().rss;
  const chunk = Buffer.alloc(64 * 1024, 1);
  let sent = 0; const t0 = Date.now();
  while (sent < 512 * 1024 * 1024 && Date.now() - t0 < 10_000) {
    try { await p.cp.send(chunk, { timeout: 1000 }); sent += chunk.length; } catch (e) { break; }
  }
  const grew = (process.memoryUsage().rss - before) / 2 ** 20;
  console.log(p.cp.transport, `sent ${sent / 2 ** 20} MiB unread by the other side; rss +${grew.toFixed(0)} MiB`);
  await p.close();
}
