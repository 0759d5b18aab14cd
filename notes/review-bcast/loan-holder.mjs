// Child for loan-stress.mjs: takes loans, checks them, holds some for a while and
// checks them again before release (a slab reused under a held view shows here).
import { Broadcast } from "../../dist/lib/index.js";
const r = Broadcast.attach(process.argv[2]);
console.log("ready");
const held = [];
let got = 0, errors = [], code = "";
const check = (m, when) => {
  const k = Number(m.topic.split(".")[1]);
  const d = m.data;
  for (let i = 0; i < d.length; i += 512) if (d[i] !== ((k * 13 + (i >> 9)) & 255)) { errors.push(`${when} ${k} byte ${i}=${d[i]} len ${d.length}`); return; }
};
for (;;) {
  let m;
  try { m = await r.recv({ timeout: 20000 }); } catch (e) { code = e.code ?? String(e.stack); break; }
  got++;
  check(m, "recv");
  if (Math.random() < 0.3 && held.length < 6) { const h = { m }; held.push(h); setTimeout(() => { const i = held.indexOf(h); if (i >= 0) { check(m, "held"); m.release(); held.splice(i, 1); } }, Math.random() * 30); } else m.release();
  if (Math.random() < 0.01) await new Promise((res) => setTimeout(res, Math.random() * 20));
}
for (const h of held) { check(h.m, "held"); h.m.release(); }
r.close();
console.log(JSON.stringify({ got, code, errors: errors.slice(0, 5) }));
