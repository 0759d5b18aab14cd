// Another local user against a broadcast ring's loans (review 8, D1 and
// D2): uid 65534 (through setpriv; the tests run as root) forges a loan
// slab under the writer's slab name once the writer removed it, or squats
// slab names first (the old names derived from the ring's public token,
// and random ones). The subscriber refuses a slab that is not the ring
// owner's (another uid, or a mode open to group/other) as if it were
// gone: never the forged bytes. Squatted names never make a loan fail.
import { chmodSync, chownSync, existsSync, readdirSync, rmSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { Broadcast } from "../../dist/lib/index.js";
import { slabName } from "../../dist/lib/loan/slab.js";
import { broadcastSlabKey } from "../helpers.js";
import { forgeAsOther, imageOf, newSlabs, otherUserUnavailable, squatAsOther, squatNames, until } from "../other-users.js";

const why = process.platform !== "linux" ? "not Linux" : otherUserUnavailable();
if (why !== null) console.warn(`broadcast-other-users: skipped (${why}; needs root, setpriv, and node usable by uid 65534)`);

describe.skipIf(why !== null)("broadcast loans and other users", () => {
  it("a slab forged by uid 65534 under the writer's slab name, once the writer removed it, is ENOENT for the subscriber, never its bytes", async () => {
    const before = new Set(readdirSync("/dev/shm"));
    const w = Broadcast.create({ capacity: 1 << 16, lingerMs: 50 });
    const a = Broadcast.attach(w.name);
    let slab = "";
    try {
      const l = await w.loan(50_000, { timeout: 2000 });
      l.data.fill(0x41); // the writer's bytes: 'A'
      await w.send("t", l);
      w.flushHeld();
      const made = newSlabs(before);
      expect(made).toHaveLength(1);
      slab = made[0]!;
      const { image, size } = imageOf(slab, 8192); // header and loan meta page: every check passes
      w.close(); // the subscriber has not mapped the slab: removed after lingerMs
      await until(() => !existsSync(`/dev/shm/${slab}`));
      expect(forgeAsOther(slab, image, size)).toBe("forged 65534");
      const got = await a.recv({ timeout: 5000 }).then(
        (m) => `a message, first byte ${m.data[0]}`,
        (e: { code?: string }) => e.code,
      );
      expect(got).toBe("ENOENT");
    } finally {
      a.close();
      w.close();
      if (slab !== "") rmSync(`/dev/shm/${slab}`, { force: true });
    }
  });

  it("names squatted by uid 65534 (the old token-derived ones, random ones, the next indices of a slab name it can see) never make a loan or a large send fail", async () => {
    const w = Broadcast.create({ capacity: 1 << 16 });
    const a = Broadcast.attach(w.name);
    // A first slab, whose name anyone can read in /dev/shm.
    const first = await w.loan(10_000, { timeout: 2000 });
    await w.send("t", first);
    (await a.recv({ timeout: 2000 })).release();
    const names = squatNames(w.segment.token, 100, slabName(broadcastSlabKey(w.segment), 0));
    try {
      expect(squatAsOther(names)).toBe(names.length);
      for (let k = 0; k < 5; k++) {
        const l = await w.loan(100_000 << (k % 3), { timeout: 2000 });
        l.data.fill(k + 1);
        await w.send("t", l);
        const m = await a.recv({ timeout: 2000 });
        expect([m.loan, m.data.byteLength, m.data[0]]).toEqual([true, 100_000 << (k % 3), k + 1]);
        m.release();
      }
    } finally {
      a.close();
      w.close();
      for (const n of names) rmSync(`/dev/shm/${n}`, { force: true });
    }
  });

  it("a slab of the ring's uid but mode 0644, or of another uid, is refused (ECORRUPT while the writer lives), never its bytes", async () => {
    for (const change of ["mode", "owner"] as const) {
      const w = Broadcast.create({ capacity: 1 << 16 });
      const a = Broadcast.attach(w.name);
      try {
        const l = await w.loan(10_000, { timeout: 2000 });
        l.data.fill(0x41);
        await w.send("t", l);
        w.flushHeld();
        const slab = `/dev/shm/${slabName(broadcastSlabKey(w.segment), 0)}`;
        if (change === "mode") chmodSync(slab, 0o644);
        else chownSync(slab, 65534, 65534);
        const got = await a.recv({ timeout: 2000 }).then(
          (m) => `a message, first byte ${m.data[0]}`,
          (e: { code?: string }) => e.code,
        );
        expect(got).toBe("ECORRUPT");
      } finally {
        a.close();
        w.close();
      }
    }
  });
});
