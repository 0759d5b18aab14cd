#!/usr/bin/env bash
# Runs the test suite (npm test) on a busy machine: one busy-loop process per
# core (the benchmark's, dist/bench/busy.js), each pinned to its core with
# taskset, for as long as the tests run. For checking that the tests do not
# depend on an idle machine; CI does not run it.
#
#   npm run test:loaded [-- [--busy N] [vitest arguments...]]
#   bash scripts/test-loaded.sh [--busy N] [vitest arguments...]
#
# --busy N: N busy loops instead of one per core. Vitest arguments (a test
# file, -t NAME, ...) go to npm test. The busy loops are killed when the
# tests end, whatever happens: a trap on exit kills them (SIGINT, SIGTERM
# and SIGHUP also stop npm test), and they die by themselves within 50 ms if
# this script is killed with SIGKILL. Exits with npm test's status.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

busy=
if [[ "${1:-}" == "--busy" ]]; then
  busy=${2:-}
  if ! [[ "$busy" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [--busy N] [vitest arguments...]" >&2
    exit 2
  fi
  shift 2
elif [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,14p' "${BASH_SOURCE[0]}"
  exit 0
fi

# The cores we may run on (our affinity), e.g. "0-1" -> 0 1.
cores=()
list=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status 2>/dev/null)
IFS=, read -ra parts <<<"$list"
for part in "${parts[@]}"; do
  if [[ "$part" =~ ^([0-9]+)-([0-9]+)$ ]]; then
    for ((c = BASH_REMATCH[1]; c <= BASH_REMATCH[2]; c++)); do cores+=("$c"); done
  elif [[ "$part" =~ ^[0-9]+$ ]]; then
    cores+=("$part")
  fi
done
((${#cores[@]})) || mapfile -t cores < <(seq 0 $(($(nproc) - 1)))
busy=${busy:-${#cores[@]}}

pin=true
if ! command -v taskset >/dev/null || ! taskset -c "${cores[0]}" true 2>/dev/null; then
  pin=false
  echo "test-loaded: taskset not found: the busy loops are not pinned to cores" >&2
fi

# The busy-loop program is built with the benchmark (npm test builds again).
echo "test-loaded: npm run build:ts"
npm run build:ts --silent || exit 1
BUSY=dist/bench/busy.js

pids=()
stop_busy() {
  ((${#pids[@]})) || return 0
  kill -KILL "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
  pids=()
}
testpid=
on_signal() { # stop the tests too (their whole process group), then exit; the EXIT trap kills the busy loops
  [[ -n "$testpid" ]] && kill -"$1" -- -"$testpid" 2>/dev/null
  exit "$2"
}
trap stop_busy EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
where=()
for ((i = 0; i < busy; i++)); do
  core=${cores[i % ${#cores[@]}]}
  # taskset execs node: $! is the busy loop itself, and its parent is us.
  if $pin; then
    taskset -c "$core" node "$BUSY" --parent $$ >/dev/null &
    where+=("$core")
  else
    node "$BUSY" --parent $$ >/dev/null &
  fi
  pids+=($!)
done
if $pin; then
  echo "test-loaded: $busy busy loops pinned to cores $(IFS=,; echo "${where[*]}") (pids ${pids[*]}); load average at start $loadavg"
else
  echo "test-loaded: $busy busy loops, not pinned (pids ${pids[*]}); load average at start $loadavg"
fi

start=$SECONDS
# In the background, so that a signal runs its trap at once rather than
# after the tests, and in a process group of its own (set -m), so that the
# trap can stop npm, vitest and its workers together.
set -m
npm test -- "$@" &
testpid=$!
set +m
wait "$testpid"
status=$?
testpid=

# A busy loop that died early means part of the run was not loaded.
dead=0
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || dead=$((dead + 1)); done
((dead)) && echo "test-loaded: warning: $dead busy loop(s) had exited before the tests ended" >&2
stop_busy
echo "test-loaded: npm test exited $status after $((SECONDS - start)) s with $busy busy loops (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
exit "$status"
