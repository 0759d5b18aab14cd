// prepack (npm pack, npm publish): the tarball must carry the linux-x64
// and win32-x64 prebuilds, or a dependent installed with --ignore-scripts
// has no binary. Builds them (npm run build:prebuild: prebuildify, and the
// MinGW-w64 cross-build for Windows) when one is missing or older than the
// native sources, checks that the Linux one loads, and exits non-zero with
// the reason when it cannot. A prebuild for another platform found in prebuilds/ must be
// as fresh as the sources too: it cannot be rebuilt here, so a stale one
// stops the pack instead of being shipped.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** The prebuilds every tarball must have: prebuilds/<tuple>/*<suffix>, all built on BUILDS_ON. */
const REQUIRED = [
  { tuple: "linux-x64", suffix: ".glibc.node" },
  { tuple: "win32-x64", suffix: ".node" }, // cross-built: scripts/build-win32.mjs
];
const BUILDS_ON = "linux-x64";
const here = `${process.platform}-${process.arch}`;

function fail(message) {
  console.error(`prepack: ${message}`);
  process.exit(1);
}

function list(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Newest modification time of binding.gyp and the files of csrc/ and its folders (not csrc/test/). */
function sourcesTime() {
  const dirs = ["csrc", ...list(path.join(root, "csrc")).filter((d) => d !== "test").map((d) => path.join("csrc", d))];
  const files = ["binding.gyp", ...dirs.flatMap((d) => list(path.join(root, d)).map((f) => path.join(d, f)))];
  let newest = 0;
  for (const f of files) {
    const s = statSync(path.join(root, f));
    if (s.isFile()) newest = Math.max(newest, s.mtimeMs);
  }
  return newest;
}

/** prebuilds/<tuple>/*.node files, with their times. */
function prebuilds() {
  const out = [];
  for (const tuple of list(path.join(root, "prebuilds"))) {
    for (const file of list(path.join(root, "prebuilds", tuple)).filter((f) => f.endsWith(".node"))) {
      const p = path.join(root, "prebuilds", tuple, file);
      out.push({ tuple, file, path: p, mtimeMs: statSync(p).mtimeMs });
    }
  }
  return out;
}

const isRequired = (b) => REQUIRED.some((r) => b.tuple === r.tuple && b.file.endsWith(r.suffix));

/** What is wrong with the required prebuilds ("prebuilds/linux-x64 has no binary", ...), and the stale others. */
function check() {
  const sources = sourcesTime();
  const all = prebuilds();
  const stale = all.filter((b) => b.mtimeMs < sources);
  const problems = [];
  for (const r of REQUIRED) {
    const found = all.filter((b) => b.tuple === r.tuple && b.file.endsWith(r.suffix));
    if (found.length === 0) problems.push(`prebuilds/${r.tuple} has no *${r.suffix} binary`);
    else if (found.every((b) => b.mtimeMs < sources)) problems.push(`prebuilds/${r.tuple} is older than csrc/ or binding.gyp`);
  }
  return { stale, problems };
}

let state = check();
const others = state.stale.filter((b) => !isRequired(b));
if (others.length > 0) {
  fail(
    `${others.map((b) => path.relative(root, b.path)).join(", ")} ${others.length > 1 ? "are" : "is"} older than the native ` +
      `sources (csrc/, binding.gyp) and cannot be rebuilt on ${here}: rebuild ${others.length > 1 ? "them" : "it"} on ` +
      `${others.length > 1 ? "their platforms" : "its platform"} (npm run build:prebuild) or delete ${others.length > 1 ? "them" : "it"}.`,
  );
}

if (state.problems.length > 0) {
  const why = state.problems.join("; ");
  if (here !== BUILDS_ON) {
    fail(`${why}, and they are built on ${BUILDS_ON} (this is ${here}). Pack on ${BUILDS_ON}, or copy fresh prebuilds there first.`);
  }
  console.error(`prepack: ${why}: building it (npm run build:prebuild)`);
  // npm sets npm_execpath for lifecycle scripts; run the same npm.
  const npm = process.env.npm_execpath;
  const r = npm
    ? spawnSync(process.execPath, [npm, "run", "build:prebuild"], { cwd: root, stdio: "inherit", env: { JOBS: "max", ...process.env } })
    : spawnSync("npm", ["run", "build:prebuild"], { cwd: root, stdio: "inherit", shell: process.platform === "win32", env: { JOBS: "max", ...process.env } });
  if (r.status !== 0) {
    fail(
      `building the prebuilds failed (${r.error ? r.error.message : `exit code ${r.status}`}); the tarball would lack ` +
        `a binary. It needs a C++17 compiler, make, python3 and MinGW-w64 (apt-get install g++ make python3 ` +
        `g++-mingw-w64-x86-64-posix); the output above says what failed.`,
    );
  }
  state = check();
  if (state.problems.length > 0) fail(`npm run build:prebuild succeeded but ${state.problems.join("; ")}`);
}

// The binary for this machine must load here, or users would get it broken
// (the Windows one is loaded by the tests under Wine: npm run test:wine).
const shipped = prebuilds().filter(isRequired);
const binary = shipped.find((b) => b.tuple === here) ?? shipped[0];
if (binary.tuple === here) {
  try {
    const b = createRequire(import.meta.url)(binary.path);
    if (typeof b.SegmentHandle !== "function") throw new Error("it does not export SegmentHandle");
  } catch (e) {
    fail(`${path.relative(root, binary.path)} does not load: ${e.message}`);
  }
}
console.error(`prepack: shipping ${shipped.map((b) => path.relative(root, b.path)).join(", ")}`);
