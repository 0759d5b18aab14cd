// Named-mutex abandonment + process-handle liveness across two node.exe processes.
// usage: node t_mutex.js <kill|terminate|exit|sigkill>
const w = require('./winapi.node');
const cp = require('child_process');
const fs = require('fs');
if (process.argv[2] === 'holder') {
  const [, , , name, how] = process.argv;
  const mx = w.mutexOpen(name);
  const r = w.wait(mx, 5000);            // acquire
  w.eventSet(w.eventOpen(name + '-ready'));
  if (how === 'exit') { setTimeout(() => w.hardExit(7), 100); }  // ExitProcess while owning
  setInterval(() => {}, 1000);           // hold ...
  setTimeout(() => process.exit(3), 30000);  // ... but never outlive a broken test run
  return;
}
const how = process.argv[2] || 'kill';
const name = 'Local\\smsh-mx-' + process.pid + '-' + how;
const mx = w.mutexCreate(name, false);
const ready = w.eventCreate(name + '-ready');
const child = cp.spawn(process.execPath, [__filename, 'holder', name, how], { stdio: 'inherit' });
let r = w.wait(ready, 10000);
if (r.code !== 0) { console.log('holder never became ready', r); process.exit(1); }
const ph = w.procOpen(child.pid);
const pi = w.procInfo(ph);
console.log(`[${how}] holder win pid ${child.pid}, OpenProcess handle ${ph}, creation ${pi.creation}, exitCode ${pi.exitCode} (259=STILL_ACTIVE)`);
r = w.wait(mx, 50); console.log(`[${how}] mutex while held: code 0x${r.code.toString(16)} (102=timeout)`);
r = w.wait(ph, 20); console.log(`[${how}] process handle while alive: code 0x${r.code.toString(16)}`);
let tKill;
if (how === 'kill') { tKill = Date.now(); child.kill('SIGKILL'); }
else if (how === 'terminate') { tKill = Date.now(); console.log('procTerminate ->', w.procTerminate(child.pid)); }
else if (how === 'exit') { tKill = Date.now(); /* holder exits itself ~100ms after ready */ }
else if (how === 'sigkill' || how === 'taskkill') {
  fs.writeFileSync('sigkill-request.txt', name + ' ' + child.pid);          // driver script does kill -9 and writes the time
  while (!fs.existsSync('sigkill-done.txt')) w.wait(ready, 5);
  tKill = Number(fs.readFileSync('sigkill-done.txt', 'utf8'));
}
r = w.wait(mx, 10000);
const tAb = Date.now();
if (r.code === 0x102) child.kill();  // test failed: don't leave the holder behind
console.log(`[${how}] mutex wait after holder death: code 0x${r.code.toString(16)} (80=WAIT_ABANDONED) ms since kill ${tAb - tKill}`);
if (r.code === 0x80 || r.code === 0) console.log(`[${how}] release ok:`, w.mutexRelease(mx));
r = w.wait(ph, 5000); console.log(`[${how}] process handle after death: code 0x${r.code.toString(16)} ms since kill ${Date.now() - tKill}`);
const pi2 = w.procInfo(ph);
console.log(`[${how}] via held handle: exitCode ${pi2.exitCode}, creation same: ${pi2.creation === pi.creation}, exit time ${pi2.exit}`);
w.close(ph);
const ph2 = w.procOpen(child.pid);
console.log(`[${how}] OpenProcess(pid) after death & handle closed: ${ph2 < 0 ? 'error ' + (-ph2) + ' (87=ERROR_INVALID_PARAMETER)' : 'handle ' + ph2 + ' ' + JSON.stringify(w.procInfo(ph2), (k, v) => typeof v === 'bigint' ? String(v) : v)}`);
if (ph2 > 0) w.close(ph2);
const self = w.procOpen(w.pid());
console.log(`[${how}] self creation via OpenProcess == GetCurrentProcess: ${w.procInfo(self).creation === w.selfCreation()}`);
child.on('exit', (c, s) => {
  console.log(`[${how}] child exit event code ${c} signal ${s}`);
  setTimeout(() => {  // libuv has closed its process handle by now
    const ph3 = w.procOpen(child.pid);
    console.log(`[${how}] OpenProcess(pid) after all handles closed: ${ph3 < 0 ? 'error ' + (-ph3) + ' (87=ERROR_INVALID_PARAMETER)' : 'handle ' + ph3 + ' exitCode ' + w.procInfo(ph3).exitCode}`);
    process.exit(0);
  }, 50);
});
