#!/bin/bash
# Driver for t_mutex.js sigkill|taskkill: the Windows-side parent asks (via a file)
# for its mutex-holding child to be killed from outside:
#   sigkill : Linux `kill -9` of the child's Unix process (found by its command line)
#   taskkill: `wine taskkill /F /PID <windows pid>`
# and the time of the kill is handed back in a file (same wall clock).
METHOD=${1:-sigkill}
cd /work/scratch-win/addon
export WINEDEBUG=-all WINEPREFIX=/work/scratch-win/prefix
rm -f sigkill-request.txt sigkill-done.txt
wine ../node.exe t_mutex.js $METHOD > o-$METHOD.txt 2>&1 &
W=$!
for i in $(seq 1 200); do [ -s sigkill-request.txt ] && break; sleep 0.05; done
read -r NAME WINPID < sigkill-request.txt
if [ "$METHOD" = sigkill ]; then
  LPID=$(pgrep -f "holder.*${NAME##*\\}" | head -1)
  echo "linux pid of holder: $LPID ($(tr '\0' ' ' < /proc/$LPID/cmdline | cut -c1-90))"
  date +%s%3N > sigkill-done.txt.tmp; kill -9 "$LPID"
else
  date +%s%3N > sigkill-done.txt.tmp; S=$(date +%s%N)
  wine taskkill /F /PID "$WINPID" > taskkill.out 2>&1; echo "taskkill rc=$? took $(( ($(date +%s%N)-S)/1000000 ))ms: $(cat taskkill.out | tr -d '\r')"
fi
mv sigkill-done.txt.tmp sigkill-done.txt
wait $W; cat o-$METHOD.txt; rm -f sigkill-request.txt sigkill-done.txt taskkill.out
