#!/bin/bash
# run.sh script.js [timeout]  -> prints output
s=$1; t=${2:-60}
export WINEDEBUG=-all WINEPREFIX=/tmp/review-wine/prefix
cd /tmp/rv && timeout -k 5 $t wine /tmp/review-wine/node-v20.20.2/node.exe "$s" > "/tmp/rv/out.$(basename $s).txt" 2>&1 </dev/null
echo "rc=$?"
cat "/tmp/rv/out.$(basename $s).txt"
