const cp=require('child_process');
const r=cp.spawnSync(process.execPath,['-p','"child says "+process.pid'],{encoding:'utf8'});
console.log('status',r.status,'stdout',JSON.stringify(r.stdout),'stderr',r.stderr&&r.stderr.slice(0,200));
