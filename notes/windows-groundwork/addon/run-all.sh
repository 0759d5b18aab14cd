#!/bin/bash
# Run every probe under Wine. Output goes to files first: node.exe under Wine
# cannot write to a Unix pipe (EBADF), only to a file or a terminal.
cd /work/scratch-win/addon
export WINEDEBUG=-all WINEPREFIX=/work/scratch-win/prefix
NODE=/work/scratch-win/node.exe
wineserver -p 60          # keep the server up between runs: node.exe start 0.35 s instead of ~0.9 s
run() { local f=$(mktemp -p . out.XXXX); timeout 120 wine $NODE "$@" > $f 2>&1; local rc=$?; cat $f; rm -f $f; echo "   (rc=$rc)"; }
echo "== hello";     run -e "const a=require('./hello.node');console.log(process.platform,process.version,a.hello());try{a.throws()}catch(e){console.log('JS caught:',e.message)}"
echo "== no-exc";    run -e "console.log(require('./hello_noexc.node').hello())"
echo "== delay-load hook, renamed host exe"; cp $NODE nodehost.exe; timeout 60 wine nodehost.exe -e "console.log(require('./hello_delay.node').hello())" > out.d 2>&1; cat out.d; rm -f out.d nodehost.exe
echo "== mapping+event"; run t_map.js
echo "== separate wine invocations"; timeout 60 wine $NODE t_sep.js server > out.s 2>&1 & sleep 1.5; timeout 30 wine $NODE t_sep.js client > out.c 2>&1; wait; cat out.c out.s; rm -f out.s out.c
echo "== lifetime";  run t_persist.js
for m in kill terminate exit; do echo "== mutex/$m"; run t_mutex.js $m; done
for m in sigkill taskkill; do echo "== mutex/$m"; timeout 120 ./run_extkill.sh $m; done
echo "== pid reuse / OpenProcess after exit"; run t_reopen.js
echo "== WaitOnAddress in-process"; run -e "console.log(JSON.stringify(require('./winapi.node').selfWakeTest()))"
echo "== wake (WaitOnAddress cross-process, event ping-pong)"; ROUNDS=10000 run t_wake.js
echo "== async wake into the JS loop"; run t_async.js
echo "== vitest 4.1.12 under wine"; (cd ../vt && timeout 120 wine $NODE node_modules/vitest/vitest.mjs run > out.v 2>&1; sed 's/\x1b\[[0-9;]*m//g' out.v | grep -E 'Tests|passed|failed|Error'; rm -f out.v)
wineserver -k
