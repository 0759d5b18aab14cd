#!/bin/bash
# Cross-build the probe addons (needs ../setup.sh done). ~1 s per small file, ~3 s for winapi.cc.
set -e
cd /work/scratch-win/addon
HDR=../node_modules/node-api-headers
NAA=${NAA:-/work/main/node_modules/node-addon-api}     # node-addon-api 8.9.2, read-only
FLAGS="-shared -std=c++17 -O2 -Wall -Wextra -Wno-unused-parameter -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -fexceptions -I$HDR/include -I$NAA"
CXX="nice -n 19 x86_64-w64-mingw32-g++-posix"
$CXX $FLAGS hello.cc -o hello.node ../node_api.a -static -s
$CXX $FLAGS winapi.cc -o winapi.node ../node_api.a -lsynchronization -static -s
$CXX $FLAGS -I../uvinc asyncwake.cc -o asyncwake.node ../node_exe_c.a -static -s
$CXX $FLAGS hello.cc delayhook.cc -o hello_delay.node ../node_api_delay.a -static -s 2>/dev/null
$CXX -shared -std=c++17 -O2 -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -I$HDR/include -I$NAA hello_noexc.cc -o hello_noexc.node ../node_api.a -static -s
ls -la *.node
