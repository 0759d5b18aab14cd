#!/usr/bin/env node
// Cross-builds the win32-x64 addon on Linux with MinGW-w64:
//
//   node scripts/build-win32.mjs            -> prebuilds/win32-x64/@synaptic-mesh+shm.node
//
// The sources are csrc/sources.json's core + core_win32 + binding +
// binding_win32. Node-API is imported from "node.exe" through a delay-load
// import library made from node-api-headers' def/node_api.def with dlltool
// (node.lib is not on npm; csrc/win32/win32_delay_hook.cc resolves the imports
// against the running executable whatever its name). The C++ runtime is
// linked statically: the binary imports only node.exe and system DLLs,
// which the script checks. Needs Debian's g++-mingw-w64-x86-64-posix.
import { execFileSync, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, renameSync } from "node:fs";
import { cpus } from "node:os";
import * as path from "node:path";

const require = createRequire(import.meta.url);
const root = path.join(path.dirname(new URL(import.meta.url).pathname), "..");
const triple = "x86_64-w64-mingw32";
const cxx = process.env.SMSH_MINGW_CXX ?? `${triple}-g++-posix`;
const dlltool = process.env.SMSH_MINGW_DLLTOOL ?? `${triple}-dlltool`;
const objdump = process.env.SMSH_MINGW_OBJDUMP ?? `${triple}-objdump`;
const outDir = path.join(root, "prebuilds", "win32-x64");
const out = path.join(outDir, "@synaptic-mesh+shm.node");
const work = path.join(root, "build-win32");

function have(cmd) {
  try {
    execFileSync(cmd, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

for (const tool of [cxx, dlltool, objdump]) {
  if (!have(tool)) {
    console.error(`build-win32: ${tool} not found. On Debian/Ubuntu: apt-get install g++-mingw-w64-x86-64-posix`);
    process.exit(2);
  }
}

const sources = JSON.parse(readFileSync(path.join(root, "csrc", "sources.json"), "utf8"));
const files = [...sources.core, ...sources.core_win32, ...sources.binding, ...sources.binding_win32];
const headers = path.dirname(require.resolve("node-api-headers/package.json"));
const addonApi = require("node-addon-api").include_dir;
const flags = [
  "-std=c++17",
  "-O2",
  "-fexceptions",
  "-Wall",
  "-Wextra",
  "-Wno-unused-parameter",
  "-Werror",
  "-DNAPI_VERSION=8",
  "-DNAPI_CPP_EXCEPTIONS",
  "-D_WIN32_WINNT=0x0A00", // Windows 10, as Node 20 requires
  "-DWIN32_LEAN_AND_MEAN",
  "-DNOMINMAX",
  `-I${path.join(headers, "include")}`,
  `-I${path.isAbsolute(addonApi) ? addonApi : path.join(root, addonApi)}`,
  ...[...sources.include, ...sources.include_win32].map((d) => `-I${path.join(root, d)}`),
];

mkdirSync(work, { recursive: true });
mkdirSync(outDir, { recursive: true });
const importLib = path.join(work, "node_api_delay.a");
execFileSync(dlltool, ["-d", path.join(headers, "def", "node_api.def"), "-y", importLib, "-D", "node.exe"], {
  stdio: "inherit",
});

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(args.at(-1))}: ${cmd} exited ${code}`))));
  });
}

const started = Date.now();
const objects = files.map((f) => path.join(work, path.basename(f).replace(/\.cc$/, ".o")));
const queue = files.map((f, i) => () => run(cxx, [...flags, "-c", path.join(root, f), "-o", objects[i]]));
const jobs = Math.max(1, process.env.JOBS === "max" ? cpus().length : Number(process.env.JOBS) || cpus().length);
const failures = [];
await Promise.all(
  Array.from({ length: jobs }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await next().catch((e) => failures.push(e.message));
  }),
);
if (failures.length > 0) {
  console.error(`build-win32: ${failures.join("; ")}`);
  process.exit(1);
}

const tmp = `${out}.tmp`;
await run(cxx, ["-shared", "-static", "-s", "-o", tmp, ...objects, importLib, "-ladvapi32", "-lbcrypt"]);
const imports = execFileSync(objdump, ["-p", tmp], { encoding: "utf8", maxBuffer: 64 << 20 })
  .split("\n")
  .filter((l) => /DLL Name:/.test(l))
  .map((l) => l.split("DLL Name:")[1].trim());
const allowed = /^(node\.exe|KERNEL32\.dll|msvcrt\.dll|ADVAPI32\.dll|bcrypt\.dll|api-ms-win-[\w-]+\.dll)$/i;
const foreign = imports.filter((d) => !allowed.test(d));
if (foreign.length > 0) {
  console.error(`build-win32: the binary would need DLLs a Windows machine may not have: ${foreign.join(", ")}`);
  process.exit(1);
}
renameSync(tmp, out);
console.log(`build-win32: ${path.relative(root, out)} (imports ${imports.join(", ")}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
