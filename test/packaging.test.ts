// Test the binary we ship: pack the package, install the tarball into a
// fresh project with --ignore-scripts (what npm 11 does for a dependency's
// install script until the user approves it), and use it there with no
// compiler involved: the prebuild in the tarball must be what loads.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ROOT } from "./helpers.js";

const npm = (args: string[], cwd: string): string =>
  execFileSync("npm", args, { cwd, encoding: "utf8", timeout: 240_000, stdio: ["ignore", "pipe", "pipe"] });

describe("packaging", () => {
  let dir = "";
  let tarball = "";

  beforeAll(() => {
    const prebuilt = path.join(ROOT, "prebuilds", `${process.platform}-${process.arch}`);
    if (!existsSync(prebuilt) || readdirSync(prebuilt).length === 0) npm(["run", "prebuild"], ROOT);
    dir = mkdtempSync(path.join(tmpdir(), "smsh-pack-"));
    const out = npm(["pack", "--ignore-scripts", "--json", "--pack-destination", dir], ROOT);
    const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(dir, info!.filename);
    writeFileSync(path.join(dir, "files.json"), JSON.stringify(info!.files.map((f) => f.path)));
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("packs the prebuilt binary and the compiled library, and leaves the tests out", async () => {
    const files: string[] = JSON.parse((await import("node:fs")).readFileSync(path.join(dir, "files.json"), "utf8"));
    expect(files.some((f) => /^prebuilds\/linux-x64\/.+\.node$/.test(f))).toBe(true);
    expect(files).toContain("dist/lib/index.js");
    expect(files).toContain("dist/lib/index.d.ts");
    expect(files).toContain("binding.gyp");
    expect(files).toContain("dist/lib/cli.js");
    expect(files).toContain("dist/bench/run.js");
    expect(files.some((f) => f.startsWith("test/") || f.startsWith("dist/test/"))).toBe(false);
    expect(files.some((f) => f.startsWith("build/"))).toBe(false);
  });

  it("installs with --ignore-scripts and creates and attaches a segment from the prebuild", () => {
    const app = path.join(dir, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }));
    npm(["install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", tarball], app);
    const installed = path.join(app, "node_modules", "@synaptic-mesh", "shm");
    expect(existsSync(path.join(installed, "build"))).toBe(false); // nothing was compiled
    const script = `
      const shm = require("@synaptic-mesh/shm");
      const a = shm.Segment.create({ size: 4096 });
      const b = shm.Segment.attach(a.name);
      a.data[0] = 42;
      const seen = b.data[0];
      b.close(); a.close();
      console.log(JSON.stringify({ seen, addon: shm.addonPath }));`;
    const out = execFileSync(process.execPath, ["-e", script], {
      cwd: app,
      encoding: "utf8",
      env: { ...process.env, PREBUILDS_ONLY: "1" },
    });
    const r = JSON.parse(out) as { seen: number; addon: string };
    expect(r.seen).toBe(42);
    expect(r.addon.startsWith(path.join(installed, "prebuilds"))).toBe(true);
    // The command line is linked and the benchmark ships with it.
    const help = execFileSync(path.join(app, "node_modules", ".bin", "synaptic-shm"), ["bench", "--help"], { encoding: "utf8" });
    expect(help).toMatch(/usage: synaptic-shm bench/);
  });
});
