// Another user cannot reach a writer's loans: a process of uid 65534 (via
// setpriv, so this needs root) can map neither the ring nor its pool slabs,
// nor open them for reading. Slabs are created 0600 / O_EXCL like rings.
import { execFileSync, spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import { Channel } from "../dist/lib/index.js";
import { slabName } from "../dist/lib/loan/slab.js";
import { ROOT } from "./helpers.js";

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
});
