// Cross-process wake mechanisms: WaitOnAddress/WakeByAddressSingle vs named events.
const w = require('./winapi.node'); const cp = require('child_process');
const N = Number(process.env.ROUNDS || 5000);
if (process.argv[2] === 'child') {
  const name = process.argv[3];
  const m = w.mapOpen(name, 4096), ready = w.eventOpen(name + '-ready');
  const evA = w.eventOpen(name + '-A'), evB = w.eventOpen(name + '-B');
  // 1. WaitOnAddress on the shared word at offset 8 (currently 0), parent wakes after 200 ms
  w.eventSet(ready);
  const r = w.waitAddr(m.buffer, 8, 0, 1500);
  console.log(`child: cross-process WaitOnAddress: woken=${r.woken} err=${r.err} value=${r.value} after ${(r.us / 1000).toFixed(1)} ms (parent wakes at ~200 ms; 1500 = timed out)`);
  // 2. event ping-pong (C++ loop)
  w.eventSet(ready);
  w.pingPong(evB, evA, N, false);
  // 3. event ping-pong driven from JS
  for (let i = 0; i < N; i++) { w.wait(evB, 5000); w.eventSet(evA); }
  process.exit(0);
}
const name = 'Local\\smsh-wake-' + process.pid;
const m = w.mapCreate(name, 4096), ready = w.eventCreate(name + '-ready');
const evA = w.eventCreate(name + '-A'), evB = w.eventCreate(name + '-B');
// same-process sanity: WaitOnAddress timeout path
let s = w.waitAddr(m.buffer, 8, 0, 30);
console.log(`parent: same-process WaitOnAddress timeout: woken=${s.woken} err=${s.err} (1460=ERROR_TIMEOUT) ${(s.us/1000).toFixed(1)} ms`);
const c = cp.spawn(process.execPath, [__filename, 'child', name], { stdio: 'inherit' });
w.wait(ready, 10000);
const t = Date.now(); while (Date.now() - t < 200) {}
w.wakeAddr(m.buffer, 8, 1);
w.wait(ready, 10000);
let us = w.pingPong(evA, evB, N, true);
console.log(`parent: event ping-pong (C++ loop, SetEvent->WaitForSingleObject) ${N} round trips: ${(us/1000).toFixed(0)} ms = ${(us / N).toFixed(1)} us/round trip, ${(us / N / 2).toFixed(1)} us/one-way wake`);
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) { w.eventSet(evB); w.wait(evA, 5000); }
us = Number(process.hrtime.bigint() - t0) / 1000;
console.log(`parent: event ping-pong (JS loop) ${N} round trips: ${(us / N).toFixed(1)} us/round trip`);
