// Another user cannot reach a writer's loans: a process of uid 65534 (via
// setpriv, so this needs root) can map neither the ring nor its pool slabs,
// nor open them for reading. Slabs are created 0600 / O_EXCL like rings.
// And a full /dev/shm (a 48 MiB tmpfs in a mount namespace of its own, via
// unshare, root too) is ENOSPC for a loan, never a SIGBUS later.
// Issue 8, review D1/D2: a slab that uid 65534 forges under the writer's
// slab name (after the writer removed it) is refused as absent, never
// delivered; a slab of the reader's own uid but mode 0644, or of another
// uid, is refused too; names squatted by uid 65534 (under the old, public
// token-derived scheme, or random ones) never make a loan fail.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, readdirSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import { Channel, Segment } from "../../dist/lib/index.js";
import { attachSlabObject, slabName } from "../../dist/lib/loan/slab.js";
import { channelSlabKey, collect, fixture, ROOT, track, waitForLine } from "../helpers.js";
import { forgeAsOther, imageOf, newSlabs, squatAsOther, squatNames, until } from "../other-users.js";

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
      const slab = slabName(channelSlabKey(tx.segment), 0);
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

describe.skipIf(!ready)("loans and other users: forged and squatted slabs (review D1, D2)", () => {
  it("a slab forged by uid 65534 under the writer's slab name, once the writer removed it, is ENOENT for the reader, never its bytes", async () => {
    const before = new Set(readdirSync("/dev/shm"));
    const tx = Channel.create({ capacity: 1 << 16, pool: { lingerMs: 50 } });
    const rx = Channel.attach(tx.name);
    let slab = "";
    try {
      tx.trySend(tx.tryLoan(50_000)!.fill(0x41)); // the writer's bytes: 'A'
      const made = newSlabs(before);
      expect(made).toHaveLength(1);
      slab = made[0]!;
      const { image, size } = imageOf(slab, 4096); // a header that passes every check
      tx.close(); // the reader has not mapped the slab: removed after lingerMs
      await until(() => !existsSync(`/dev/shm/${slab}`));
      expect(forgeAsOther(slab, image, size)).toBe("forged 65534");
      const got = await rx.recv({ timeout: 5000 }).then(
        (m) => `a message, first byte ${m[0]}`,
        (e: { code?: string }) => e.code,
      );
      expect(got).toBe("ENOENT"); // the writer closed: its loan is lost, as if the slab were gone
    } finally {
      rx.close();
      tx.close();
      if (slab !== "") rmSync(`/dev/shm/${slab}`, { force: true });
    }
  });

  it("names squatted by uid 65534 (the old token-derived ones, random ones, the next indices of a slab name it can see) never make a loan or a large send fail", async () => {
    const tx = Channel.create({ capacity: 1 << 16 });
    const rx = Channel.attach(tx.name);
    // A first slab, whose name anyone can read in /dev/shm.
    await tx.send((await tx.loan(10_000, { timeout: 2000 })).fill(7));
    expect((await rx.recv({ timeout: 2000 }))[0]).toBe(7);
    rx.release();
    const names = squatNames(tx.segment.token, 100, slabName(channelSlabKey(tx.segment), 0));
    try {
      expect(squatAsOther(names)).toBe(names.length);
      for (let k = 0; k < 3; k++) {
        const l = await tx.loan(100_000 << k, { timeout: 2000 });
        await tx.send(l.fill(k + 1));
        const m = await rx.recv({ timeout: 2000 });
        expect([m.byteLength, m[0]]).toEqual([100_000 << k, k + 1]);
        rx.release();
      }
      await tx.send(new Uint8Array(1 << 20).fill(9), { timeout: 2000 }); // above the ring: goes as a loan
      expect((await rx.recv({ timeout: 2000 }))[0]).toBe(9);
    } finally {
      rx.close();
      tx.close();
      for (const n of names) rmSync(`/dev/shm/${n}`, { force: true });
    }
  });

  it("a reader that is not root, meeting another user's 0600 object under a slab's name (it cannot even open it), gets ENOENT and reads on", async () => {
    const asUser = ["--reuid=1000", "--regid=1000", "--clear-groups"];
    const child = spawn("setpriv", [...asUser, process.execPath, fixture("loan-unreadable")], { stdio: ["pipe", "pipe", "pipe"], cwd: "/" });
    track(child);
    const done = collect(child, 30_000);
    const slab = (await waitForLine(child, /^slab /, 20_000)).slice(5);
    try {
      const made = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", `umask 077; head -c 8192 /dev/zero > /dev/shm/${slab}`]);
      expect(made.status).toBe(0);
      child.stdin!.write("go\n");
      const r = await done;
      expect(r.stderr).toBe("");
      // The loan is lost, as if the slab were gone (the writer closed); the stream goes on to its end.
      expect(r.stdout).toContain("recv ENOENT"); // EACCES before, and on every later receive
      expect(r.stdout).toContain("then ECLOSED");
    } finally {
      rmSync(`/dev/shm/${slab}`, { force: true });
    }
  }, 40_000);

  it("a slab of the ring's uid but mode 0644, or of another uid, is refused as absent (ECORRUPT while the writer lives)", async () => {
    for (const change of ["mode", "owner"] as const) {
      const tx = Channel.create({ capacity: 1 << 16 });
      const rx = Channel.attach(tx.name);
      try {
        tx.trySend(tx.tryLoan(10_000)!.fill(0x41));
        const slab = slabName(channelSlabKey(tx.segment), 0);
        if (change === "mode") chmodSync(`/dev/shm/${slab}`, 0o644);
        else chownSync(`/dev/shm/${slab}`, 65534, 65534);
        // Directly: the attach refuses it as if it did not exist.
        let code = "none";
        try {
          attachSlabObject(slab, rx.segment, {}).close();
        } catch (e) {
          code = (e as { code: string }).code;
        }
        expect(code).toBe("ENOENT");
        // Through the reader: the writer lives, so a missing slab is a corruption; never the bytes.
        const got = await rx.recv({ timeout: 2000 }).then(
          (m) => `a message, first byte ${m[0]}`,
          (e: { code?: string }) => e.code,
        );
        expect(got).toBe("ECORRUPT");
      } finally {
        rx.close();
        tx.close();
      }
    }
  });

  it("an object of another uid under a slab name is absent (ENOENT) even when its header would be refused first (not a pool slab)", () => {
    const tx = Channel.create({ capacity: 1 << 16 });
    const rx = Channel.attach(tx.name);
    const name = slabName(channelSlabKey(tx.segment), 7);
    const plain = Segment.create({ size: 4096, name }); // kind 0: ECORRUPT for a slab of ours
    try {
      let code = "none";
      try {
        attachSlabObject(name, rx.segment, {}, { kind: 2 }).close();
      } catch (e) {
        code = (e as { code: string }).code;
      }
      expect(code).toBe("ECORRUPT"); // ours (root, 0600): a corruption
      chownSync(`/dev/shm/${name}`, 65534, 65534);
      try {
        attachSlabObject(name, rx.segment, {}, { kind: 2 }).close();
      } catch (e) {
        code = (e as { code: string }).code;
      }
      expect(code).toBe("ENOENT"); // another user's: no slab of ours
    } finally {
      plain.close();
      rx.close();
      tx.close();
    }
  });

  it("Segment says its object's owner uid and mode (0600 for what it creates)", () => {
    const seg = Segment.create({ size: 4096 });
    try {
      expect([seg.ownerUid, seg.mode]).toEqual([0, 0o600]);
      const other = Segment.attach(seg.name);
      expect([other.ownerUid, other.mode]).toEqual([0, 0o600]);
      other.close();
    } finally {
      seg.close();
    }
  });
});
