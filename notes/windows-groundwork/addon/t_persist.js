// Lifetime semantics of a named pagefile-backed section (differs from POSIX shm_open).
const w = require('./winapi.node'); const cp = require('child_process');
const name = 'Local\\smsh-persist-' + process.pid;
const r = cp.spawnSync(process.execPath, ['-e', `const w=require(${JSON.stringify(require.resolve('./winapi.node'))});const m=w.mapCreate(${JSON.stringify(name)},4096);m.buffer.write('left by dead creator');`], { encoding: 'utf8' });
console.log('creator exited', r.status);
try { w.mapOpen(name, 4096); console.log('open after creator exit: SUCCEEDED (section persisted)'); }
catch (e) { console.log('open after creator exit:', e.message, '(2=ERROR_FILE_NOT_FOUND => section died with its last handle)'); }
const a = w.mapCreate(name, 4096); let b; try { w.mapCreate(name, 8192); } catch (e) { console.log('CreateFileMapping(existing 4096 section, size 8192) then MapViewOfFile(8192):', e.message, '(5=ERROR_ACCESS_DENIED)'); } b = w.mapCreate(name, 4096);
console.log('create twice: first alreadyExists', a.alreadyExists, 'second alreadyExists', b.alreadyExists, '(second gets the existing 4096-byte section)');
const t0 = Date.now(); const big = w.mapCreate(name + '-big', 1024 * 1024 * 1024);
big.buffer[big.buffer.length - 1] = 1;
console.log(`1 GiB section create+map+touch last page: ${Date.now() - t0} ms, buffer length ${big.buffer.length}`);
