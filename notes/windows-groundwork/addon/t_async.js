// Event-loop integration: JS callback fired (via thread + uv_async_send) when another process SetEvent()s.
const aw = require('./asyncwake.node'); const w = require('./winapi.node'); const cp = require('child_process');
const N = Number(process.env.ROUNDS || 2000);
if (process.argv[2] === 'child') {
  const [, , , A, B] = process.argv;
  const evB = w.eventOpen(B);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) { aw.signal(A); const r = w.wait(evB, 5000); if (r.code !== 0) { console.log('child timeout at', i); process.exit(1); } }
  const us = Number(process.hrtime.bigint() - t0) / 1000;
  console.log(`child: ${N} round trips (SetEvent -> watcher thread -> uv_async_send -> JS callback -> SetEvent back -> sync wait): ${(us / N).toFixed(1)} us each`);
  process.exit(0);
}
const A = 'Local\\smsh-async-A-' + process.pid, B = 'Local\\smsh-async-B-' + process.pid;
const evB = w.eventCreate(B);
let calls = 0, coalesced = 0, threadToJs = 0;
const watch = aw.watchEvent(A, (n, us) => { calls++; coalesced += n; threadToJs += us; w.eventSet(evB); });
const c = cp.spawn(process.execPath, [__filename, 'child', A, B], { stdio: 'inherit' });
c.on('exit', (code) => {
  console.log(`parent: ${calls} JS callbacks for ${coalesced} wakes; mean watcher-thread->JS-callback ${(threadToJs / calls).toFixed(1)} us; child exit ${code}`);
  watch.stop();   // loop must then be able to exit (handle closed)
});
