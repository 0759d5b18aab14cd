// Shared mapping + named auto-reset event across two node.exe processes.
const w = require('./winapi.node');
const cp = require('child_process');
const NAME = 'Local\\smsh-probe-' + (process.argv[2] === 'child' ? process.argv[3] : process.pid);
if (process.argv[2] === 'child') {
  const m = w.mapOpen(NAME, 65536);
  const ev = w.eventOpen(NAME + '-ev');
  const v = m.buffer.readUInt32LE(0);
  m.buffer.writeUInt32LE(v + 1, 4);
  m.buffer.write('hello from child pid ' + w.pid(), 16);
  w.eventSet(ev);
  console.log('child: read', v.toString(16), 'regionSize', m.regionSize);
  process.exit(0);
}
const tag = String(process.pid);
const m = w.mapCreate(NAME, 65536);
const ev = w.eventCreate(NAME + '-ev');
console.log('parent pid', w.pid(), 'alreadyExists', m.alreadyExists, 'regionSize', m.regionSize, 'ev handle', ev);
m.buffer.writeUInt32LE(0xC0FFEE, 0);
// event timeout path before the child runs
let r = w.wait(ev, 50); console.log('wait before child: code', r.code.toString(16), 'us', r.us.toFixed(0));
const t0 = Date.now();
const c = cp.spawn(process.execPath, [__filename, 'child', tag], { stdio: 'inherit' });
r = w.wait(ev, 10000);
console.log('wait for child SetEvent: code', r.code.toString(16), 'after ms', (Date.now() - t0), '(includes child startup)');
console.log('parent sees', m.buffer.readUInt32LE(4).toString(16), JSON.stringify(m.buffer.toString('utf8', 16, 60).replace(/\0+$/, '')));
// auto-reset: a second wait must time out
r = w.wait(ev, 20); console.log('second wait (auto-reset => timeout 102):', r.code.toString(16));
c.on('exit', (code) => console.log('child exit', code));
