const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Segment, WaitLine, Waiter, layout } = shm;
(async () => {
  const seg = Segment.create({ size: 4096 });
  const line = new WaitLine(seg, 512);
  // 60 waiters on one line (one process): one notify must fire all
  const ws = Array.from({ length: 60 }, () => new Waiter(line));
  let t = performance.now();
  const seq = line.prepare("futex");
  const ps = ws.map(w => w.wait(seq, 10000));
  await new Promise(r => setTimeout(r, 100));
  line.notify();
  const rs = await Promise.all(ps);
  console.log("60 waiters:", rs.filter(r => r === "ok").length, "ok in", (performance.now() - t - 100).toFixed(1), "ms");
  line.finish();
  // 100 sleepers? more than the 64 cap
  const ws2 = Array.from({ length: 100 }, () => new Waiter(line));
  t = performance.now();
  const seq2 = line.prepare("futex");
  const ps2 = ws2.map(w => w.wait(seq2, 10000));
  await new Promise(r => setTimeout(r, 200));
  line.notify();
  const rs2 = await Promise.all(ps2);
  console.log("100 waiters:", rs2.filter(r => r === "ok").length, "ok in", (performance.now() - t - 200).toFixed(1), "ms (64 cap)");
  line.finish();
  for (const w of [...ws, ...ws2]) w.close();
  // arm/disarm churn
  const w = new Waiter(line);
  t = performance.now();
  for (let i = 0; i < 2000; i++) { await w.wait(line.prepare("futex"), i % 3 === 0 ? 0 : 1); line.finish(); }
  console.log("2000 timed-out waits in", (performance.now() - t).toFixed(0), "ms");
  // close while blocked
  t = performance.now();
  for (let i = 0; i < 200; i++) { const x = new Waiter(line); const p = x.wait(line.prepare("futex")); await new Promise(r => setImmediate(r)); x.close(); await p.catch(e => e.code); }
  console.log("200 close-while-blocked in", (performance.now() - t).toFixed(0), "ms");
  // segment close while waiters armed
  const s2 = Segment.create({ size: 100 }); const l2 = new WaitLine(s2, 640);
  const arr = Array.from({ length: 10 }, () => new Waiter(l2)); const pp = arr.map(x => x.wait(l2.prepare("futex")).then(r => r, e => e.code));
  await new Promise(r => setTimeout(r, 50));
  t = performance.now(); s2.close();
  console.log("segment close with 10 armed waiters:", (performance.now() - t).toFixed(1), "ms; results", JSON.stringify(await Promise.race([Promise.all(pp), new Promise(r => setTimeout(() => r("PENDING"), 2000))])));
  w.close(); seg.close();
})();
