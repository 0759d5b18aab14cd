// Another user cannot reach a writer's loans: a process of uid 65534 (via
// setpriv, so this needs root) can map neither the ring nor its pool slabs,
// nor open them for reading. Slabs are created 0600 / O_EXCL like rings.
// And a full /dev/shm (a 48 MiB tmpfs in a mount namespace of its own, via
// unshare, root too) is ENOSPC for a loan, never a SIGBUS later.
import { execFileSync, spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import { Channel } from "../../dist/lib/index.js";
import { slabName } from "../../dist/lib/loan/slab.js";
import { ROOT } from "../helpers.js";

const LIB = path.join(ROOT, "dist", "lib", "index.js");
const asOther = ["--reuid=65534", "--regid=65534", "--clear-groups"];
const ready = ((): boolean => {
  if (process.geteuid?.() !== 0) return false;
  try {
    execFileSync("setpriv", [...asOther, process.execPath, "-e", `require(${JSON.stringify(LIB)})`], { stdio: "ignore", cwd: "/" });
    return true;
  } catch {
    return false;
  }
})();
if (!ready) console.warn("loan-security: skipped (needs root, setpriv, and node usable by uid 65534)");

describe.skipIf(!ready)("loans and other users", () => {
  it("uid 65534 can map neither the ring nor its slabs (EACCES), nor read them; slabs are 0600", () => {
    const tx = Channel.create({ capacity: 4096 });
    try {
      tx.trySend(tx.tryLoan(100_000)!.fill(7)); // a slab with a loan in flight
      const slab = slabName(tx.segment.token, 0);
      expect(statSync(`/dev/shm/${slab}`).mode & 0o777).toBe(0o600);
      const script = `
        const { Channel, Segment } = require(${JSON.stringify(LIB)});
        const fs = require("node:fs");
        const code = (f) => { try { f(); return "none"; } catch (e) { return e.code; } };
        console.log([
          code(() => Channel.attach(${JSON.stringify(tx.name)})),
          code(() => Segment.attach(${JSON.stringify(slab)})),
          code(() => fs.openSync("/dev/shm/${slab}", "r")),
        ].join(" "));`;
      // 20 s: a child Node process on a loaded machine.
      const r = spawnSync("setpriv", [...asOther, process.execPath, "-e", script], { encoding: "utf8", cwd: "/", timeout: 20_000 });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("EACCES EACCES EACCES");
    } finally {
      tx.close();
    }
  });

  it("a full /dev/shm: a loan is ENOSPC (memory is reserved when a slab is made), cancelled loans lend again, copy-in rejects", () => {
    const script = `
      const { Channel } = require(${JSON.stringify(LIB)});
      const tx = Channel.create({ capacity: 4096 });
      const rx = Channel.attach(tx.name);
      const held = [];
      let code = "none";
      try {
        for (let i = 0; i < 100; i++) { const l = tx.tryLoan(8 << 20); if (l === null) break; l.fill(1); held.push(l); }
      } catch (e) { code = e.code; }
      console.log("loans " + held.length + " " + code);
      for (const l of held) tx.cancelLoan(l);
      const l = tx.tryLoan(8 << 20);
      tx.trySend(l.fill(3));
      const m = rx.tryRecv();
      console.log("again " + m.length + " " + m[m.length - 1]);
      rx.release();
      tx.send(Buffer.alloc(100 << 20)).then(() => console.log("copy-in sent"), (e) => {
        console.log("copy-in " + e.code);
        rx.close(); tx.close();
        console.log("left " + require("node:fs").readdirSync("/dev/shm").length);
      });`;
    // 30 s: a child Node process on a loaded machine.
    const r = spawnSync("unshare", ["-m", "sh", "-c", 'mount -t tmpfs -o size=48m tmpfs /dev/shm && exec "$0" -e "$1"', process.execPath, script], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, SYNAPTIC_SHM_NO_AUTOSWEEP: "1" },
    });
    expect(r.stderr).toBe("");
    expect(r.signal).toBe(null);
    expect(r.stdout).toMatch(/^loans [1-5] ENOSPC$/m); // 48 MiB: the ring and a few 8 MiB slabs, then no room
    expect(r.stdout).toMatch(/^again 8388608 3$/m);
    expect(r.stdout).toMatch(/^copy-in ENOSPC$/m);
    expect(r.stdout).toMatch(/^left 0$/m);
  });
});
