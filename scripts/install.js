// npm's install hook. On Linux and Windows: node-gyp-build, which keeps the
// prebuild that fits this machine (linux-x64, win32-x64) or compiles the
// addon (Linux: g++, make, python3; Windows: only a GCC-compatible
// compiler such as MinGW-w64 or clang-cl, MSVC lacks the __atomic builtins
// the core uses). It never fails the install: a package that depends on
// this one must install everywhere, and where there is no binary,
// importing still works and the first native call throws ENOTSUP saying
// what to do. Elsewhere (macOS) there is nothing to build yet.
"use strict";
const { spawnSync } = require("node:child_process");

const name = "@synaptic-mesh/shm";
if (process.platform !== "linux" && process.platform !== "win32") {
  console.warn(`${name}: shared memory IPC is supported on Linux and Windows; on ${process.platform} its native features throw ENOTSUP.`);
  process.exit(0);
}
const r = spawnSync(process.execPath, [require.resolve("node-gyp-build/bin.js")], { stdio: "inherit" });
if (r.status !== 0) {
  console.warn(
    `${name}: no prebuilt binary fits ${process.platform}-${process.arch} and building one failed (see above); ` +
      `its native features will throw ENOTSUP. Install g++, make and python3, then run \`npm rebuild ${name}\`.`,
  );
}
