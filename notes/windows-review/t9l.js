const shm = require("/work/wt-review/dist/lib/index.js");
const { Segment, WaitLine, Waiter } = shm;
(async () => {
  for (const mode of ["futex", "doorbell"]) {
  const s2 = Segment.create({ size: 100 }); const l2 = new WaitLine(s2, 640);
  const arr = Array.from({ length: 3 }, () => new Waiter(l2, mode)); const pp = arr.map(x => x.wait(l2.prepare(x.mode)).then(r => r, e => e.code));
  await new Promise(r => setTimeout(r, 50));
  s2.close();
  console.log(mode, "segment close with armed waiters:", JSON.stringify(await Promise.race([Promise.all(pp), new Promise(r => setTimeout(() => r("PENDING"), 1000))])));
  }
})();
