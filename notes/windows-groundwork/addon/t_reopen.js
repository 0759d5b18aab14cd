const w = require('./winapi.node'); const cp = require('child_process');
const r = cp.spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
const pid = Number(r.stdout.trim());
for (const delay of [0, 200, 1000]) {
  const t = Date.now(); while (Date.now() - t < delay) {}
  const h = w.procOpen(pid);
  console.log(`spawnSync child pid ${pid}, +${delay}ms: OpenProcess -> ${h < 0 ? 'error ' + -h : 'handle, exitCode ' + w.procInfo(h).exitCode}`);
  if (h > 0) w.close(h);
}
console.log('OpenProcess(never-used pid 99996) ->', w.procOpen(99996));
