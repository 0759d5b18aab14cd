#!/usr/bin/env bash
# Runs the Windows tests (test/win, vitest.win.config.mts) under Wine with
# the win32-x64 prebuild, on Debian 12 as root (npm run test:wine).
#
#   bash scripts/test-wine.sh [vitest arguments, e.g. a file filter]
#
# 1. scripts/wine/setup.sh: packages, Wine prefix, node.exe, win32 node_modules.
# 2. A stage in the cache directory (${SMSH_WINE_HOME:-/var/cache/synaptic-shm-wine}/stage):
#    copies of dist/ (built here first), lib/ (for source maps), test/,
#    prebuilds/, package.json and
#    vitest.win.config.mts, test/win/fixtures/rawmap.exe built with mingw-w64,
#    and the win32 node_modules as hard links (plain files to Wine: a symlink
#    would make node resolve the modules to their real path, outside the stage).
# 3. node.exe runs vitest there, its output going to files: node.exe under
#    Wine cannot write to a Unix pipe. The output is shown as it comes.
#    WINEDEBUG=-all; a persistent wineserver for the run (saves ~0.6 s per
#    process start), killed with everything left in the prefix at the end;
#    a hard limit of ${SMSH_WINE_TIMEOUT:-600} s on the whole vitest run.
#
# Prints "wine: N passed, N failed" last. Exit code 0 when everything passed,
# 1 when anything failed (or did not run), 2 when there is no Windows prebuild.
# With SMSH_WINE_RESULTS=<file>, vitest's JSON results are copied there (and
# nothing is, when the run made none: .ci/run counts that as a failure).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
home=${SMSH_WINE_HOME:-/var/cache/synaptic-shm-wine}
limit=${SMSH_WINE_TIMEOUT:-600}
t_start=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
summary() {
  echo "wine: $1 passed, $2 failed"
}
fail() {
  echo "test-wine: $*" >&2
  summary 0 1
  exit 1
}

if [ -n "${SMSH_WINE_RESULTS:-}" ]; then rm -f "$SMSH_WINE_RESULTS"; fi

prebuild="prebuilds/win32-x64/@synaptic-mesh+shm.node"
if [ ! -f "$prebuild" ]; then
  echo "test-wine: no Windows prebuild: $prebuild does not exist (npm run build:prebuild builds it)" >&2
  summary 0 1
  exit 2
fi

echo "== test-wine: setup"
bash scripts/wine/setup.sh || fail "scripts/wine/setup.sh failed"
# shellcheck disable=SC1091
. "$home/env" # WINEPREFIX, NODE_EXE, DEPS
export WINEPREFIX WINEDEBUG=-all WINEARCH=win64

# One run at a time per cache directory: the stage and the wineserver are shared.
exec 8>"$home/run.lock"
flock -w "$limit" 8 || fail "another test-wine run held $home/run.lock for $limit s"

echo "== test-wine: build:ts and stage"
t=$(date +%s.%N)
npm run --silent build:ts || fail "npm run build:ts failed"
stage="$home/stage"
rm -rf "$stage"
mkdir -p "$stage/prebuilds"
cp -a dist lib test package.json vitest.win.config.mts "$stage/" || fail "copying into $stage failed"
cp -a prebuilds/win32-x64 "$stage/prebuilds/" || fail "copying the prebuild failed"
cp -al "$DEPS" "$stage/node_modules" 2>/dev/null || cp -a "$DEPS" "$stage/node_modules" || fail "copying $DEPS failed"
# The raw file mappings of test/win/foreign-mapping.test.ts (Windows side).
x86_64-w64-mingw32-gcc-posix -std=c11 -O2 -Wall -Werror -municode -static -s \
  -o "$stage/test/win/fixtures/rawmap.exe" test/win/fixtures/rawmap.c || fail "building rawmap.exe failed"
echo "staged $stage ($(elapsed "$t"))"

echo "== test-wine: vitest under Wine (node.exe $(basename "$(dirname "$NODE_EXE")"), limit $limit s)"
out="$stage/vitest.out"
results="$stage/vitest-results.json"
: >"$out"
rm -f "$results"
wineserver -k 2>/dev/null # a server left over from an interrupted run
wineserver -w
wineserver -p || fail "wineserver -p failed"
t=$(date +%s.%N)
(cd "$stage" && exec timeout -k 10 "$limit" wine "$NODE_EXE" node_modules/vitest/vitest.mjs run \
  --config vitest.win.config.mts --reporter=default --reporter=json --outputFile="$results" "$@" \
  >"$out" 2>&1 </dev/null) &
run=$!
tail -n +1 -f --pid="$run" "$out"
wait "$run"
rc=$?
run_time=$(elapsed "$t")
# Whatever is still running in the prefix (a stray child) goes with the server.
wineserver -k 2>/dev/null
wineserver -w
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "test-wine: vitest did not finish within $limit s: stopped" >&2; fi

read -r passed failed skipped < <(node -e '
  const [file, rc] = process.argv.slice(1);
  try {
    const r = require(file);
    // A failed suite (a file that did not load, an error outside any test),
    // a run that found no tests, or a non-zero exit with nothing failed:
    // each counts as one failure, never as a silent pass.
    let failed = r.numFailedTests;
    if (failed === 0 && (!r.success || Number(rc) !== 0 || r.numTotalTests === 0)) failed = 1;
    console.log(r.numPassedTests, failed, r.numPendingTests + (r.numTodoTests ?? 0));
  } catch {
    console.log(0, 1, 0);
  }' "$results" "$rc")
if [ -n "${SMSH_WINE_RESULTS:-}" ] && [ -f "$results" ]; then cp "$results" "$SMSH_WINE_RESULTS"; fi
if [ "${skipped:-0}" -gt 0 ]; then echo "test-wine: $skipped skipped"; fi
echo "test-wine: vitest took $run_time, everything $(elapsed "$t_start")"
summary "$passed" "$failed"
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
