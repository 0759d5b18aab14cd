// The tarball a user gets, made the way a release is made: a fresh checkout
// with no binary in it, `npm ci --ignore-scripts`, `npm pack` (its prepack
// must build the linux-x64 and win32-x64 prebuilds, or fail), then installed into a new
// project with --ignore-scripts (npm runs no install script there, as it
// will not for unreviewed dependencies) and used there with no compiler
// involved: the binary must be the one from the tarball's prebuilds/.
//
// The "fresh clone" is the files a clone would have, copied from the
// working tree: what git tracks plus untracked files it does not ignore.
// In CI, which runs on a clean clone, that is exactly a clone; locally it
// also tests uncommitted changes, which a `git clone` of HEAD would not.
// Nothing ignored comes along: no node_modules, build/, dist/, prebuilds/*.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ROOT } from "../helpers.js";

const NPM_FLAGS = ["--no-audit", "--no-fund", "--prefer-offline"];

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): { status: number | null; out: string } {
  const r = spawnSync("npm", args, { cwd, env, encoding: "utf8", timeout: 300_000, stdio: ["ignore", "pipe", "pipe"] });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function npmOk(args: string[], cwd: string): string {
  const r = npm(args, cwd);
  if (r.status !== 0) throw new Error(`npm ${args.join(" ")} failed (${r.status}):\n${r.out.slice(-4000)}`);
  return r.out;
}

/** Copies what a clone of ROOT would contain, as it is in the working tree now. */
function freshCheckout(dest: string): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);
  for (const f of files) {
    const from = path.join(ROOT, f);
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
    cpSync(from, path.join(dest, f));
  }
}

describe("packaging: fresh checkout -> npm pack -> a dependent installed with --ignore-scripts", () => {
  const started = performance.now();
  let dir = "";
  let repo = "";
  let tarball = "";
  let files: string[] = [];
  let failedPack = { status: null as number | null, out: "" };
  const steps: string[] = [];
  const step = (name: string, t0: number): void => void steps.push(`${name} ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "smsh-pack-"));
    repo = path.join(dir, "repo");
    let t = performance.now();
    freshCheckout(repo);
    expect(existsSync(path.join(repo, "prebuilds", "linux-x64"))).toBe(false);
    npmOk(["ci", "--ignore-scripts", ...NPM_FLAGS], repo);
    step("copy + npm ci", t);

    // A machine that cannot compile: prepack must stop the pack, not ship a tarball without a binary.
    t = performance.now();
    failedPack = npm(["pack", "--pack-destination", dir], repo, { ...process.env, CXX: "false", CC: "false" });
    step("failing pack", t);

    t = performance.now();
    npmOk(["pack", "--pack-destination", dir], repo);
    step("npm pack", t);
    const tgz = readdirSync(dir).filter((f) => f.endsWith(".tgz"));
    expect(tgz).toHaveLength(1);
    tarball = path.join(dir, tgz[0]!);
    files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ""));
  }, 600_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`packaging test: ${((performance.now() - started) / 1000).toFixed(1)} s (${steps.join(", ")})`);
  });

  it("prepack fails loudly, and packs nothing, when the prebuild cannot be built", () => {
    expect(failedPack.status).not.toBe(0);
    expect(failedPack.out).toMatch(/prepack: building the prebuilds failed .*the tarball would lack a binary/);
  });

  it("packs both prebuilds it built, the compiled library, the native sources, the license and the examples; no tests, no build/", () => {
    expect(files.some((f) => /^prebuilds\/linux-x64\/.+\.glibc\.node$/.test(f))).toBe(true);
    // The Windows one (cross-built with MinGW-w64); test/win loads it under Wine.
    expect(files).toContain("prebuilds/win32-x64/@synaptic-mesh+shm.node");
    for (const dir of ["core", "linux", "win32", "binding"]) expect(files.some((f) => f.startsWith(`csrc/${dir}/`) && f.endsWith(".cc"))).toBe(true);
    expect(files.some((f) => f.startsWith("csrc/test/"))).toBe(false);
    for (const f of ["dist/lib/index.js", "dist/lib/index.d.ts", "dist/lib/cli.js", "dist/bench/run.js", "binding.gyp", "LICENSE", "scripts/install.js"]) {
      expect(files).toContain(f);
    }
    expect(files.some((f) => /^examples\/.+\.ts$/.test(f))).toBe(true);
    expect(files.some((f) => f.startsWith("test/") || f.startsWith("dist/test/") || f.startsWith("build/"))).toBe(false);
    expect(files.some((f) => f.endsWith(".map") || f.startsWith("scripts/prepack"))).toBe(false);
  });

  it("installs with --ignore-scripts and creates and attaches a channel with the tarball's prebuild", () => {
    const t = performance.now();
    const app = path.join(dir, "app");
    mkdirSync(app);
    writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }));
    npmOk(["install", "--ignore-scripts", ...NPM_FLAGS, tarball], app);
    const installed = path.join(app, "node_modules", "@synaptic-mesh", "shm");
    expect(existsSync(path.join(installed, "build"))).toBe(false); // nothing was compiled
    // As an ES module, by name: the CommonJS exports must be importable by name.
    const script = `
      import { existsSync } from "node:fs";
      import { Channel, addonPath } from "@synaptic-mesh/shm";
      const tx = Channel.create({ capacity: 4096 });
      const rx = Channel.attach(tx.name);
      await tx.send(Buffer.from("hello from the tarball"));
      const got = Buffer.from(await rx.recv()).toString();
      rx.close();
      tx.close();
      console.log(JSON.stringify({ got, addonPath, removed: !existsSync("/dev/shm/" + tx.name) }));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: app, encoding: "utf8", timeout: 30_000 });
    const r = JSON.parse(out) as { got: string; addonPath: string; removed: boolean };
    expect(r.got).toBe("hello from the tarball");
    expect(r.removed).toBe(true);
    expect(r.addonPath.startsWith(path.join(installed, "prebuilds", "linux-x64") + path.sep)).toBe(true);
    expect(r.addonPath.endsWith(".glibc.node")).toBe(true);
    // The command line is linked and the benchmark ships with it.
    const help = execFileSync(path.join(app, "node_modules", ".bin", "synaptic-shm"), ["bench", "--help"], { encoding: "utf8" });
    expect(help).toMatch(/usage: synaptic-shm bench/);
    step("install + use", t);
  });
});

// The working tree's own prebuilds, as npm would pack them now: every
// platform's binary that was built goes into the tarball, the Windows one
// (built with mingw-w64 by npm run build:prebuild) as well as Linux's.
describe("packaging: the prebuilds of this working tree", () => {
  const built = (tuple: string): string[] => {
    try {
      return readdirSync(path.join(ROOT, "prebuilds", tuple)).filter((f) => f.endsWith(".node"));
    } catch {
      return [];
    }
  };

  it("npm pack lists both the linux-x64 and the win32-x64 prebuild", (ctx) => {
    const linux = built("linux-x64");
    const win32 = built("win32-x64");
    ctx.skip(win32.length === 0, "no prebuilds/win32-x64/*.node: the Windows prebuild was not built here (npm run build:prebuild)");
    ctx.skip(linux.length === 0, "no prebuilds/linux-x64/*.node: the Linux prebuild was not built here (npm run build:prebuild)");
    // --ignore-scripts: list what is there, without prepack building anything.
    const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts", ...NPM_FLAGS], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(r.status, r.stderr).toBe(0);
    const listed = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const f of linux) expect(listed).toContain(`prebuilds/linux-x64/${f}`);
    for (const f of win32) expect(listed).toContain(`prebuilds/win32-x64/${f}`);
    expect(listed).toContain("prebuilds/win32-x64/@synaptic-mesh+shm.node");
  }, 150_000);
});
