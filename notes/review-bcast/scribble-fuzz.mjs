// A hostile subscriber scribbles random values into its slot (every field) and its
// cursor segment (position, counters, topics_len, held table) while the writer sends
// (block). The writer must not throw or crash; the honest subscriber gets everything.
import { Broadcast } from "../../dist/lib/index.js";
const rnd = () => { const r = Math.random(); return r < 0.2 ? 0 : r < 0.3 ? -1 : r < 0.4 ? 0x7fffffff : r < 0.5 ? 2 : (Math.random() * 2 ** 32) | 0; };
for (let trial = 0; trial < 30; trial++) {
  const w = Broadcast.create({ capacity: 8192, policy: "block", blockTimeout: 50, maxSubscribers: 4 });
  const good = Broadcast.attach(w.name);
  const bad = Broadcast.attach(w.name);
  const ring = new Int32Array(w.segment.buffer, w.segment.dataOffset);
  const cur = new Int32Array(bad.cursor.buffer, bad.cursor.dataOffset, 1024);
  const slot = (256 + 128 * bad.slot) >> 2;
  let got = 0, sent = 0, errs = [];
  const N = 3000;
  const t0 = performance.now();
  const reader = (async () => { for (;;) { try { const m = await good.recv({ timeout: 10000 }); if (m.data[0] !== (got & 255)) errs.push(`got ${m.data[0]} for ${got}`); got++; } catch (e) { if (e.code !== "ECLOSED") errs.push("reader " + e.code); return; } } })();
  for (; sent < N; sent++) {
    if (sent % 7 === 0) {
      const which = Math.floor(Math.random() * 3);
      if (which === 0) ring[slot + Math.floor(Math.random() * 32)] = rnd(); // any slot word, incl. state, epoch, pid, cursor_name
      else if (which === 1) cur[Math.floor(Math.random() * 8)] = rnd(); // position, messages, missed
      else cur[(1024 >> 2) + Math.floor(Math.random() * 128)] = rnd(); // held table
      if (Math.random() < 0.1) cur[6] = rnd(); // topics_len
    }
    try { await w.send("t", new Uint8Array(64).fill(sent & 255), { timeout: 10000 }); w.subscribers; } catch (e) { errs.push(`send ${sent}: ${e.code ?? e.constructor.name + " " + e.message}`); break; }
  }
  w.close();
  await reader;
  if (got !== N || errs.length) console.log(`trial ${trial}: DEFECT got ${got}/${N}`, errs.slice(0, 3));
  try { bad.close(); } catch (e) { console.log("bad.close", e.code ?? e.message); }
  good.close();
}
console.log("done");
