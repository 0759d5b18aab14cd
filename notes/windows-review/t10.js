const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Segment, WaitLine, Waiter } = shm;
(async () => {
  const seg = Segment.create({ size: 4096 });
  const line = new WaitLine(seg, 512);
  const N = +process.argv[2] || 70;
  const ws = Array.from({ length: N }, () => new Waiter(line));
  const seq = line.prepare("futex");
  let ok = 0;
  const ps = ws.map(w => w.wait(seq, 30000).then(r => { if (r === "ok") ok++; }));
  await new Promise(r => setTimeout(r, 300));
  line.notify();
  await new Promise(r => setTimeout(r, 2000));
  console.log(N, "waiters, one notify: woken within 2 s:", ok);
  process.exit(0);
})();
