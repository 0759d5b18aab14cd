// Memory of 100,000 pending requests (the other side takes them and never answers), each with a timeout.
import { pair } from "./common.mjs";
for (const transport of ["auto", "zmq"]) {
  const p = await pair({}, transport);
  const held = [];
  const drain = (async () => { try { for await (const r of p.sp.requests()) held.push(r); } catch {} })();
  global.gc?.(); const h0 = process.memoryUsage().heapUsed; const rss0 = process.memoryUsage().rss;
  const all = [];
  for (let i = 0; i < 100_000; i++) { const q = p.cp.request(Buffer.from("x"), { timeout: 120_000 }); q.catch(() => {}); all.push(q); if (i % 1000 === 0) await new Promise(setImmediate); }
  while (held.length < 100_000) await new Promise((r) => setTimeout(r, 50));
  global.gc?.();
  const h1 = process.memoryUsage().heapUsed, rss1 = process.memoryUsage().rss;
  console.log(p.cp.transport, `100k pending: heap +${((h1 - h0) / 2 ** 20).toFixed(1)} MiB (both sides: requester's pending + server's 100k PeerRequests), rss +${((rss1 - rss0) / 2 ** 20).toFixed(1)} MiB`);
  const t0 = Date.now(); await p.cp.close(); const codes = new Set((await Promise.allSettled(all)).map((s) => s.reason?.code));
  console.log("  close settles all in", Date.now() - t0, "ms with", [...codes]);
  await p.close(); await drain;
}
