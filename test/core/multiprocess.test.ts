import { describe, expect, it } from "vitest";

import { Segment } from "../../dist/lib/index.js";
import { runFixture, LINUX_ONLY } from "../helpers.js";

describe("two processes, one segment", () => {
  it("A creates and writes, B attaches and sees the bytes, B writes back, A sees them", async () => {
    const a = Segment.create({ size: 1 << 20 });
    try {
      a.data.set(Buffer.from("ping"), 0);
      const r = await runFixture("peer", ["echo", a.name]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`got ping size ${1 << 20}`);
      expect(Buffer.from(a.data.subarray(8, 12)).toString()).toBe("pong");
    } finally {
      a.close();
    }
  });

  // Windows: no /dev/shm (a section commits its size at creation: ENOSPC there too, which Wine cannot reproduce)
  it.skipIf(LINUX_ONLY)("turns a full /dev/shm into ENOSPC at create, not SIGBUS later", async () => {
    // A private mount namespace with a 1 MiB tmpfs on /dev/shm (needs root and
    // unshare; containers default /dev/shm to 64 MB, the same failure).
    const { execFileSync } = await import("node:child_process");
    const { fixture } = await import("../helpers.js");
    let out: string;
    try {
      out = execFileSync(
        "unshare",
        ["-m", "sh", "-c", `mount -t tmpfs -o size=1m tmpfs /dev/shm && "${process.execPath}" "${fixture("peer")}" create smsh-enospc-test 8388608`],
        { encoding: "utf8", timeout: 20_000 },
      );
    } catch (e) {
      const err = e as { status?: number; stderr?: string };
      if (/Operation not permitted|not found/i.test(String(err.stderr))) {
        console.warn("skipping ENOSPC check: cannot create a mount namespace here");
        return;
      }
      throw e;
    }
    expect(out).toMatch(/^error ENOSPC /);
  });
});

describe("garbage collection", () => {
  it("keeps the mapping while a view is alive after the handle (its name given up) is collected", async () => {
    const { spawn } = await import("node:child_process");
    const { existsSync } = await import("node:fs");
    const { collect, fixture } = await import("../helpers.js");
    const { randomName } = await import("../../dist/lib/index.js");
    const name = randomName();
    const child = spawn(process.execPath, ["--expose-gc", fixture("peer"), "gc", name], { stdio: ["ignore", "pipe", "pipe"] });
    const r = await collect(child);
    expect(r.stderr).toBe("");
    expect(r.signal).toBe(null);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("view 4096 1 2 named false\ncollected\n");
    expect(existsSync(`/dev/shm/${name}`)).toBe(false);
  });
});
