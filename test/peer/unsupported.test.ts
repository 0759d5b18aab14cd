// Where no binary fits, the package still imports and every native feature
// throws ENOTSUP at first use, saying what is prebuilt and how to build, so
// a dependent can catch it and fall back. Simulated in child processes:
//   - a Linux with no fitting binary: the compiled package copied without
//     build/ and without a prebuild for this platform (two for others);
//   - a binary that does not load (not an ELF file where one is expected);
//   - macOS: the real package with process.platform reported as "darwin".
import { execFile, execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ROOT, firstPeer } from "../helpers.js";

interface Outcome {
  code?: string;
  message?: string;
  cause?: string;
  returned?: boolean;
}

/** Imports the package at `pkg` (CommonJS and ES module) and calls each native feature once. */
const PROBE = `
  const pkg = process.argv[1];
  const shm = require(pkg);
  const call = (fn) => {
    try { fn(); return { returned: true }; }
    catch (e) { return { code: e.code, message: e.message, cause: e.cause && String(e.cause.message) }; }
  };
  const out = {
    addonPath: shm.addonPath,
    exports: Object.keys(shm).sort(),
    name: shm.randomName().startsWith(shm.NAME_PREFIX),
    calls: {
      "Segment.create": call(() => shm.Segment.create({ size: 4096 })),
      "Segment.attach": call(() => shm.Segment.attach("smsh-absent")),
      "Channel.create": call(() => shm.Channel.create({ capacity: 1024 })),
      "Channel.attach": call(() => shm.Channel.attach("smsh-absent")),
      sweep: call(() => shm.sweep()),
      listSegments: call(() => shm.listSegments()),
      inspectSegment: call(() => shm.inspectSegment("smsh-absent")),
      "Segment.create again": call(() => shm.Segment.create({ size: 4096 })),
    },
  };
  import(require("node:url").pathToFileURL(require.resolve(pkg)).href).then((m) => {
    out.esm = typeof m.Channel.create === "function" && typeof m.Segment === "function";
    console.log(JSON.stringify(out));
  });`;

function probe(pkg: string, nodeArgs: string[] = []): { addonPath: string | null; exports: string[]; name: boolean; esm: boolean; calls: Record<string, Outcome> } {
  const env = { ...process.env };
  delete env.PREBUILDS_ONLY;
  return JSON.parse(execFileSync(process.execPath, [...nodeArgs, "-e", PROBE, pkg], { encoding: "utf8", env, timeout: 20_000 }));
}

function expectAllEnotsup(calls: Record<string, Outcome>, message: RegExp): void {
  for (const [what, o] of Object.entries(calls)) {
    expect(o.code, what).toBe("ENOTSUP");
    expect(o.message, what).toMatch(/^ENOTSUP: @synaptic-mesh\/shm: /);
    expect(o.message, what).toMatch(message);
  }
}

describe("a platform without a binary", () => {
  let dir = "";
  const here = `${process.platform}-${process.arch}`;

  /** The compiled package, node-gyp-build beside it, no build/, prebuilds only for other platforms. */
  function copyPackage(name: string): string {
    const pkg = path.join(dir, name);
    cpSync(path.join(ROOT, "dist", "lib"), path.join(pkg, "dist", "lib"), { recursive: true });
    cpSync(path.join(ROOT, "package.json"), path.join(pkg, "package.json"));
    mkdirSync(path.join(pkg, "node_modules"));
    symlinkSync(path.join(ROOT, "node_modules", "node-gyp-build"), path.join(pkg, "node_modules", "node-gyp-build"));
    for (const other of ["darwin-arm64", "win32-x64"]) {
      mkdirSync(path.join(pkg, "prebuilds", other), { recursive: true });
      writeFileSync(path.join(pkg, "prebuilds", other, "@synaptic-mesh+shm.node"), "not for this platform");
    }
    return pkg;
  }

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "smsh-unsupported-"));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(process.platform === "linux")("Linux, no fitting binary: imports; each native call throws ENOTSUP with the prebuilt platforms and how to build", () => {
    const r = probe(copyPackage("none"));
    expect(r.addonPath).toBe(null);
    expect(r.exports).toEqual(expect.arrayContaining(["Channel", "Segment", "WaitLine", "Waiter", "sweep", "addonPath", "layout"]));
    expect(r.name).toBe(true);
    expect(r.esm).toBe(true);
    expectAllEnotsup(r.calls, new RegExp(`no native binary fits ${here} .*Prebuilt binaries: darwin-arm64, win32-x64\\. .*C\\+\\+17 compiler, make and python3 \\(Debian/Ubuntu: apt-get install g\\+\\+ make python3.*\`npm rebuild @synaptic-mesh/shm\``));
    expect(r.calls["Segment.create"]!.cause).toMatch(/No native build was found for platform=linux/);
  });

  it.runIf(process.platform === "linux")("a binary that does not load: ENOTSUP naming it, with the loader's error as cause", () => {
    const pkg = copyPackage("broken");
    mkdirSync(path.join(pkg, "build", "Release"), { recursive: true });
    const binary = path.join(pkg, "build", "Release", "synaptic_shm.node");
    writeFileSync(binary, "not an ELF file");
    const r = probe(pkg);
    expect(r.addonPath).toBe(binary);
    expectAllEnotsup(r.calls, new RegExp(`the native binary ${binary} does not load here: .*\`npm rebuild @synaptic-mesh/shm\``));
    expect(r.calls["Channel.create"]!.cause).toMatch(/invalid ELF header|file too short/);
  });

  it.runIf(process.platform === "linux")("Linux, no fitting binary: listen() and connect() still work, over transport zmq, saying why", async () => {
    const pkg = copyPackage("peer");
    symlinkSync(path.join(ROOT, "node_modules", "zeromq"), path.join(pkg, "node_modules", "zeromq"));
    const { listen } = await import("../../dist/lib/index.js");
    const ep = `ipc://${path.join(dir, "peer.sock")}`;
    const server = await listen(ep, { name: "with-addon" });
    const CHILD = `
      const { connect, listen } = require(process.argv[1]);
      (async () => {
        const peer = await connect(process.argv[2], { name: "no-addon" });
        await peer.send(Buffer.from("hello"));
        const answer = Buffer.from(await peer.recv({ timeout: 20000 })).toString();
        // And a listener of its own, without the addon either.
        const own = await listen(process.argv[2] + "-own", { name: "own" });
        await own.close();
        console.log(JSON.stringify({ transport: peer.transport, reason: peer.reason, answer }));
        await peer.close();
      })().catch((e) => { console.error(e); process.exit(1); });`;
    try {
      const accepted = firstPeer(server);
      const child = new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ["-e", CHILD, pkg, ep], { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
      );
      const peer = await accepted;
      expect(peer.transport).toBe("zmq");
      expect(peer.reason).toBe("no-addon: no native addon on this side");
      expect(Buffer.from(await peer.recv({ timeout: 20_000 })).toString()).toBe("hello");
      await peer.send(Buffer.from("welcome"));
      const out = JSON.parse(await child) as { transport: string; reason: string; answer: string };
      expect(out).toEqual({ transport: "zmq", reason: expect.stringMatching(/no native addon on this side/), answer: "welcome" });
      await peer.close();
    } finally {
      await server.close();
    }
  });

  it("macOS: imports; each native call throws ENOTSUP saying where it runs and what is prebuilt", () => {
    const preload = path.join(dir, "darwin.cjs");
    writeFileSync(preload, 'Object.defineProperty(process, "platform", { value: "darwin" });\n');
    const r = probe(ROOT, ["--require", preload]);
    expect(r.addonPath).toBe(null);
    expect(r.esm).toBe(true);
    expectAllEnotsup(r.calls, new RegExp(`supported on Linux and Windows, and this is darwin-${process.arch}\\. Prebuilt binaries: .*catch code "ENOTSUP"`));
  });
});
