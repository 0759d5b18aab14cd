#!/usr/bin/env bash
# Builds the native core and its tests (csrc/test) with CMake + Ninja under
# each sanitizer and runs them with ctest.
#
#   bash scripts/test-native.sh [address|thread|all]     (default: all)
#
# address = AddressSanitizer + UndefinedBehaviorSanitizer, thread =
# ThreadSanitizer. Build directories: build-native-<sanitizer>. Exits nonzero
# if any build or test fails, or if a test leaves an object in /dev/shm.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

which=${1:-all}
case "$which" in
  address | thread) sanitizers=("$which") ;;
  all) sanitizers=(address thread) ;;
  -h | --help)
    sed -n '2,9p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  *)
    echo "usage: $0 [address|thread|all]" >&2
    exit 2
    ;;
esac

for tool in cmake ninja ctest; do
  if ! command -v "$tool" >/dev/null; then
    echo "test-native: $tool is required" >&2
    exit 2
  fi
done

# halt_on_error: the first report fails the test. A caller's own options
# come last, so they win.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

jobs=$(nproc 2>/dev/null || echo 2)
failed=()
start=$SECONDS

# Objects the tests name "smsh-ntest-<pid>-<n>"; report (and remove) any
# whose creating process is gone.
check_shm_leftovers() {
  local leftovers=() f base pid
  for f in /dev/shm/smsh-ntest-*; do
    [[ -e "$f" ]] || continue
    base=${f#/dev/shm/smsh-ntest-}
    pid=${base%%-*}
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      continue # still in use by a running test (another run?)
    fi
    leftovers+=("$f")
  done
  if ((${#leftovers[@]} > 0)); then
    echo "test-native: tests left shared-memory objects behind:" >&2
    printf '  %s\n' "${leftovers[@]}" >&2
    rm -f -- "${leftovers[@]}"
    return 1
  fi
  return 0
}

for san in "${sanitizers[@]}"; do
  dir="$root/build-native-$san"
  echo "=== $san: configure + build ($dir)"
  mkdir -p "$dir"
  if ! cmake -S "$root" -B "$dir" -G Ninja -DSMSH_SANITIZE="$san" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMSH_BUILD_TESTS=ON >"$dir/configure.log" 2>&1; then
    cat "$dir/configure.log" >&2
    failed+=("$san: configure")
    continue
  fi
  if ! cmake --build "$dir" -j "$jobs"; then
    failed+=("$san: build")
    continue
  fi

  # ThreadSanitizer (GCC 12's runtime) aborts at startup with "unexpected
  # memory mapping" when the kernel randomises mmap with more entropy than
  # it expects; running without ASLR avoids that.
  launcher=()
  if [[ "$san" == thread ]]; then
    probe=$("$dir/smsh_layout_test" --list 2>&1)
    if [[ $? -ne 0 ]]; then
      if grep -q "unexpected memory mapping" <<<"$probe" && command -v setarch >/dev/null &&
          setarch "$(uname -m)" -R true 2>/dev/null; then
        echo "test-native: ThreadSanitizer needs ASLR off here; running the tests under setarch -R"
        launcher=(setarch "$(uname -m)" -R)
      else
        echo "$probe" >&2
        failed+=("$san: test executables do not start")
        continue
      fi
    fi
  fi

  echo "=== $san: ctest"
  if ! (cd "$dir" && "${launcher[@]}" ctest --output-on-failure --timeout 120 -j "$jobs"); then
    failed+=("$san: tests")
  fi
  if ! check_shm_leftovers; then
    failed+=("$san: /dev/shm leftovers")
  fi
done

elapsed=$((SECONDS - start))
if ((${#failed[@]} > 0)); then
  echo "test-native: FAILED (${elapsed}s):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "test-native: all passed (${sanitizers[*]}; ${elapsed}s)"
