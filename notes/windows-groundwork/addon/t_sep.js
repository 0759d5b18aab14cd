// Two node.exe started by separate `wine` invocations from the Linux shell (same WINEPREFIX => same wineserver)
const w = require('./winapi.node');
const name = 'Local\\smsh-sep-probe';
if (process.argv[2] === 'server') {
  const m = w.mapCreate(name, 4096), ev = w.eventCreate(name + '-ev');
  m.buffer.write('server was here', 0);
  const r = w.wait(ev, 20000);
  console.log('server: event code', r.code, 'buffer now:', m.buffer.toString('utf8', 0, 40).replace(/\0/g, ' ').trimEnd());
} else {
  const m = w.mapOpen(name, 4096), ev = w.eventOpen(name + '-ev');
  console.log('client read:', m.buffer.toString('utf8', 0, 20).replace(/\0+$/, ''));
  m.buffer.write('client was here', 20); w.eventSet(ev);
}
