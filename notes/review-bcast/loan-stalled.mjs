// A subscriber that does not read (idle, or SIGSTOPped) holds every loan slab whose
// frame it has not passed. send() evicts such a subscriber after blockTimeout; loan() does not:
// it waits forever (here: until its 3 s timeout), under block and under drop.
import { Broadcast } from "../../dist/lib/index.js";
for (const policy of ["block", "drop"]) {
  const w = Broadcast.create({ capacity: 65536, policy, blockTimeout: 200, maxLoanBytes: 4 * 4096 });
  const idle = Broadcast.attach(w.name);
  const t0 = performance.now();
  let n = 0;
  try {
    for (; n < 20; n++) {
      const l = await w.loan(4096, { timeout: 3000 });
      l.data.fill(n);
      await w.send("t", l);
    }
    console.log(policy, "OK: 20 loans sent; idle subscriber state", w.subscribers.map((s) => s.state));
  } catch (e) {
    console.log(policy, `DEFECT: loan #${n} failed after ${Math.round(performance.now() - t0)} ms: ${e.code}; subscriber`, w.subscribers.map((s) => s.state));
  }
  idle.close();
  w.close();
}
