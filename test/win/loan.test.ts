// (d) Loans across two processes: memory the writer lends is read in place
// by a reader in another process, every byte checked, and comes back to the
// writer's pool when the reader releases it (the pool holds under a quarter
// of what goes through it, so the writer only gets through by reusing memory
// the other process gave back).
import { afterEach, describe, expect, it } from "vitest";

import { Channel, Segment } from "../../dist/lib/index.js";
import { fillLoan, loanSize } from "../../dist/test/win/fixtures/bytes.js";
import { killStrays } from "../helpers.js";
import { codeOf, spawnPeer } from "./helpers.js";

afterEach(killStrays);

describe("loans across two processes", () => {
  it("300 loans of 1 B to 1 MiB arrive intact, checked byte by byte, and their memory comes back to the writer's pool", async () => {
    const COUNT = 300;
    const MiB = 1 << 20;
    let total = 0;
    for (let i = 0; i < COUNT; i++) total += loanSize(i);
    const tx = Channel.create({ capacity: 1 << 16, pool: { maxBytes: 4 * MiB } });
    const name = tx.name;
    try {
      expect(total).toBeGreaterThan(4 * 4 * MiB); // the pool must be reused to get through
      const peer = spawnPeer(["loans", name, String(COUNT)], 200_000);
      for (let i = 0; i < COUNT; i++) {
        const loan = await tx.loan(loanSize(i), { timeout: 60_000 }).catch(peer.explain);
        expect(loan.byteLength).toBe(loanSize(i));
        fillLoan(loan, i);
        await tx.send(loan, { timeout: 60_000 }).catch(peer.explain);
        expect(loan.byteLength).toBe(0); // handed over: the writer's view is detached
      }
      const r = await peer.done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`ok ${COUNT} ${total}`);
      expect(tx.poolStats.loansSent).toBe(COUNT);
      console.log(`loans: ${COUNT} sent, ${(total / MiB).toFixed(1)} MiB through a 4 MiB pool, ${tx.poolStats.slabsCreated} slabs created`);
    } finally {
      tx.close();
    }
    expect(codeOf(() => Segment.attach(name).close())).toBe("ENOENT");
  }, 240_000);
});
