// prepack (npm pack, npm publish): the tarball must carry the linux-x64
// prebuild, or a dependent installed with --ignore-scripts has no binary.
// Builds it (npm run build:prebuild) when it is missing or older than the
// native sources, checks that it loads, and exits non-zero with the reason
// when it cannot. A prebuild for another platform found in prebuilds/ must be
// as fresh as the sources too: it cannot be rebuilt here, so a stale one
// stops the pack instead of being shipped.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** The prebuild every tarball must have: prebuilds/<REQUIRED>/*.<LIBC>.node */
const REQUIRED = "linux-x64";
const LIBC = "glibc";
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

/** Newest modification time of binding.gyp and the files of csrc/ (not csrc/test/). */
function sourcesTime() {
  const files = ["binding.gyp", ...list(path.join(root, "csrc")).map((f) => path.join("csrc", f))];
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

const isRequired = (b) => b.tuple === REQUIRED && b.file.endsWith(`.${LIBC}.node`);

function check() {
  const sources = sourcesTime();
  const all = prebuilds();
  const stale = all.filter((b) => b.mtimeMs < sources);
  const required = all.filter(isRequired);
  return { stale, missing: required.length === 0, requiredStale: required.length > 0 && required.every((b) => b.mtimeMs < sources) };
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

if (state.missing || state.requiredStale) {
  const why = state.missing ? `prebuilds/${REQUIRED} has no ${LIBC} binary` : `prebuilds/${REQUIRED} is older than csrc/ or binding.gyp`;
  if (here !== REQUIRED) {
    fail(`${why}, and it can only be built on ${REQUIRED} (this is ${here}). Pack on ${REQUIRED}, or copy a fresh prebuild there first.`);
  }
  console.error(`prepack: ${why}: building it (npm run build:prebuild)`);
  // npm sets npm_execpath for lifecycle scripts; run the same npm.
  const npm = process.env.npm_execpath;
  const r = npm
    ? spawnSync(process.execPath, [npm, "run", "build:prebuild"], { cwd: root, stdio: "inherit", env: { JOBS: "max", ...process.env } })
    : spawnSync("npm", ["run", "build:prebuild"], { cwd: root, stdio: "inherit", shell: process.platform === "win32", env: { JOBS: "max", ...process.env } });
  if (r.status !== 0) {
    fail(
      `building the ${REQUIRED} prebuild failed (${r.error ? r.error.message : `exit code ${r.status}`}); the tarball would have ` +
        `no binary. It needs a C++17 compiler, make and python3 (apt-get install g++ make python3); the output above says what failed.`,
    );
  }
  state = check();
  if (state.missing || state.requiredStale) fail(`npm run build:prebuild succeeded but prebuilds/${REQUIRED} has no fresh ${LIBC} binary`);
}

// The binary must load here, or users would get it broken.
const [binary] = prebuilds().filter(isRequired);
if (here === REQUIRED) {
  try {
    const b = createRequire(import.meta.url)(binary.path);
    if (typeof b.SegmentHandle !== "function") throw new Error("it does not export SegmentHandle");
  } catch (e) {
    fail(`${path.relative(root, binary.path)} does not load: ${e.message}`);
  }
}
console.error(`prepack: shipping ${path.relative(root, binary.path)}`);
