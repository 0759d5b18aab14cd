#!/bin/bash
# kill9.sh ROLE MODE: run t4.js, kill -9 the Linux pid of the child node.exe at a random moment
cd /tmp/rv; rm -f killme.flag
export WINEDEBUG=-all WINEPREFIX=/tmp/review-wine/prefix
timeout 60 wine /tmp/review-wine/node-v20.20.2/node.exe t4.js $1 $2 > out.t4.txt 2>&1 &
bg=$!
for i in $(seq 200); do [ -f killme.flag ] && break; sleep 0.05; done
sleep 0.$((RANDOM % 5))
pid=$(pgrep -f "child.js (writer|reader)" | head -1)
kill -9 $pid; t=$(date +%s.%N)
wait $bg; echo "rc=$? total $(awk -v a=$t -v b=$(date +%s.%N) 'BEGIN{print b-a}')s after kill -9 $pid"; cat out.t4.txt
