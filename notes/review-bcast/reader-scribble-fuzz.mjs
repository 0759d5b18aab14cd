// Scribble the ring's control block, frame headers and the reader's slot while a reader
// reads: every failure must be a typed error (string code), never a TypeError/RangeError or a hang.
import { Broadcast } from "../../dist/lib/index.js";
const rnd = () => { const r = Math.random(); return r < 0.2 ? 0 : r < 0.3 ? -1 : r < 0.4 ? 0x7fffffff : r < 0.5 ? 16 : r < 0.6 ? 3 : (Math.random() * 2 ** 32) | 0; };
const codes = {};
for (let trial = 0; trial < 300; trial++) {
  const policy = trial % 2 ? "drop" : "block";
  const w = Broadcast.create({ capacity: 4096, policy, blockTimeout: 50 });
  const r = Broadcast.attach(w.name);
  const ctl = new Int32Array(w.segment.buffer, w.segment.dataOffset, 1024);
  const ring = new Int32Array(w.segment.buffer, w.segment.dataOffset + 12288, 1024);
  let code = "none";
  for (let k = 0; k < 200 && code === "none"; k++) {
    if (!w.trySend("t" + (k % 3), new Uint8Array(1 + (k * 13) % 300).fill(k))) { for (let m; (m = r.tryRecv()) !== null;); continue; }
    if (k % 20 === 10) {
      const where = Math.floor(Math.random() * 3);
      if (where === 0) ctl[[4, 5, 6, 7, 8, 16, 17, 32, 33][Math.floor(Math.random() * 9)]] = rnd(); // policy..published_seq, write_pos, claim_pos words
      else if (where === 1) ring[Math.floor(Math.random() * 1024)] = rnd();
      else ctl[(256 + 128 * r.slot) >> 2] = rnd(); // its state
    }
    if (k % 5 === 0) w.flushHeld();
    try { for (let m; (m = r.tryRecv()) !== null;); } catch (e) { code = e.code ?? `UNTYPED ${e.constructor.name}: ${e.message}`; }
  }
  codes[code] = (codes[code] ?? 0) + 1;
  try { w.close(); } catch (e) { codes["close " + (e.code ?? e.message)] = 1; }
  r.close();
}
console.log(codes);
