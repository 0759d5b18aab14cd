const fs=require('fs');
const st=fs.readFileSync('Z:\\proc\\self\\stat','utf8');
console.log('win pid', process.pid, 'linux /proc/self/stat pid', st.split(' ')[0], 'comm', st.split(' ')[1]);
const cp=require('child_process');
const r=cp.spawnSync('Z:\\bin\\echo',['unix echo from wine'],{encoding:'utf8'});
console.log('spawn unix binary: status', r.status, 'err', r.error&&r.error.code, 'out', JSON.stringify(r.stdout));
const r2=cp.spawnSync('/bin/sh',['-c','echo sh ok; ps -o pid,comm,args -C node.exe | head -5'],{encoding:'utf8'});
console.log('spawn /bin/sh: status', r2.status, 'err', r2.error&&r2.error.code, 'out', JSON.stringify(r2.stdout));
