// sleepers scribbled with random values during traffic; afterwards, does the idle reader spin on surplus semaphore counts?
const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Channel, layout } = shm;
(async () => {
  const tx = Channel.create({ capacity: 1024, spin: 0 });
  const rx = Channel.attach(tx.name, { spin: 0 });
  const hdr = new DataView(tx.segment.handle.buffer(), 0, 4096);
  const scribble = process.argv[2] === 'none' ? () => {} : () => { for (const l of [512, 640]) hdr.setUint32(l + 8, (Math.random() * 2 ** 32) >>> 0, true); };
  const N = 3000; let got = 0;
  const reader = (async () => { for (;;) { const m = await rx.recv({ timeout: 60000 }); if (m === null) return; got++; } })();
  const t0 = Date.now();
  for (let i = 0; i < N; i++) { if (i % 10 === 0) scribble(); await tx.send(new Uint8Array(100), { timeout: 60000 }); }
  while (got < N) await new Promise(r => setTimeout(r, 1));
  console.log("traffic", N, "msgs in", Date.now() - t0, "ms; reader sleeps", rx.stats.sleeps, "writer waits", tx.stats.writerWaits);
  hdr.setUint32(512 + 8, 0, true); hdr.setUint32(640 + 8, 0, true);
  for (let k = 0; k < 8; k++) {
  const s0 = rx.stats.sleeps, c0 = process.cpuUsage();
  await new Promise(r => setTimeout(r, 3000));
  const c1 = process.cpuUsage(c0);
  console.log("idle 3 s: reader sleeps +", rx.stats.sleeps - s0, "cpu ms", ((c1.user + c1.system) / 1000).toFixed(0));
  }
  tx.close(); await reader.catch(e => e.code); rx.close();
})();
