// messages() copies by default ("safe to pull ahead"). On a Peer in routed
// mode (after request()/requests()/serve()), a message that came as a loan is
// handed out as the loan itself and released by the next step: the "copy"
// the user collected reads as empty afterwards.
import { pair } from "./common.mjs";
const p = await pair();
try {
  const it = p.sp.requests(); it.next().catch(() => {}); // routed mode (as serve() would)
  for (let i = 0; i < 3; i++) {
    const l = await p.cp.loan(100);
    l.fill(65 + i);
    await p.cp.send(l);
  }
  const got = [];
  for await (const m of p.sp.messages({ timeout: 5000 })) { got.push(m); if (got.length === 3) break; }
  const lens = got.map((m) => m.length);
  console.log("lengths:", lens, lens.every((n) => n === 100) ? "OK" : "DEFECT: collected messages emptied");
  await it.return();
} finally { await p.close(); }
