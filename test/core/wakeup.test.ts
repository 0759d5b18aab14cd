import { describe, expect, it } from "vitest";

import { Segment, WaitLine, Waiter, layout } from "../../dist/lib/index.js";
import { collect, sleep, spawnFixture, waitForLine } from "../helpers.js";

function makeLine(): { seg: Segment; line: WaitLine } {
  const seg = Segment.create({ size: 4096 });
  return { seg, line: new WaitLine(seg, layout.OFFSETS.reader_wait) };
}

describe("futex wait and wake across processes", () => {
  it("wakes a process blocked in a futex wait from another process", async () => {
    const { seg, line } = makeLine();
    try {
      const child = spawnFixture("peer", ["sync-wait", seg.name, "10000"]);
      const done = collect(child);
      await waitForLine(child, /^waiting/);
      await sleep(100);
      expect(child.exitCode).toBe(null); // still blocked
      expect(line.notify()).toBe(true); // it announced itself as sleeping
      const r = await done;
      expect(r.code).toBe(0);
      const [, result, ms] = r.stdout.trim().split("\n").at(-1)!.split(" ");
      expect(result).toBe("ok");
      expect(Number(ms)).toBeLessThan(5000);
    } finally {
      seg.close();
    }
  });

  it("returns timed-out from a wait with a timeout, in time", async () => {
    const { seg } = makeLine();
    try {
      const r = await collect(spawnFixture("peer", ["sync-wait", seg.name, "200"]));
      const [, result, ms] = r.stdout.trim().split("\n").at(-1)!.split(" ");
      expect(result).toBe("timed-out");
      expect(Number(ms)).toBeGreaterThanOrEqual(195);
      expect(Number(ms)).toBeLessThan(2000);
    } finally {
      seg.close();
    }
  });

  it("does not sleep when the sequence already moved (no lost wakeup)", () => {
    const { seg, line } = makeLine();
    try {
      const seq = line.prepare("sync");
      line.notify(); // the waker came between prepare and wait
      expect(line.waitSync(seq, 5000)).toBe("not-equal");
      line.finish();
      expect(line.notify()).toBe(false); // nobody waits: no syscall, no change
      expect(line.seq).toBe((seq + 1) >>> 0);
    } finally {
      seg.close();
    }
  });
});

describe.each(["doorbell", "futex"] as const)("event-loop wakeup across processes (%s)", (mode) => {
  it("wakes a waiting event loop from another process while its timers keep firing", async () => {
    const { seg, line } = makeLine();
    try {
      const child = spawnFixture("peer", ["event-wait", seg.name, mode]);
      const done = collect(child);
      await waitForLine(child, /^armed/);
      await sleep(300);
      expect(child.exitCode).toBe(null);
      expect(line.notify()).toBe(true);
      const r = await done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const m = /woken ticks (\d+) ms (\d+)/.exec(r.stdout)!;
      expect(m).not.toBeNull();
      // A 10 ms interval ran throughout the ~300 ms wait: the loop was not blocked.
      expect(Number(m[1])).toBeGreaterThanOrEqual(10);
    } finally {
      seg.close();
    }
  });

  it("resolves at once when the peer notified before the wait was armed", async () => {
    const { seg, line } = makeLine();
    const waiter = new Waiter(line, mode);
    try {
      const seq = line.prepare(mode);
      line.notify();
      await waiter.wait(seq);
      line.finish();
    } finally {
      waiter.close();
      seg.close();
    }
  });

  it("times out a wait nobody notifies, and can wait again afterwards", async () => {
    const { seg, line } = makeLine();
    const waiter = new Waiter(line, mode);
    try {
      const t0 = performance.now();
      expect(await waiter.wait(line.prepare(mode), 100)).toBe("timed-out");
      expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
      const again = waiter.wait(line.prepare(mode), 5000);
      setTimeout(() => line.notify(), 20);
      expect(await again).toBe("ok");
      line.finish();
    } finally {
      waiter.close();
      seg.close();
    }
  });

  it("rejects a pending wait with ECLOSED when the waiter is closed, and lets the process exit", async () => {
    const { seg, line } = makeLine();
    const waiter = new Waiter(line, mode);
    const p = waiter.wait(line.prepare(mode));
    waiter.close();
    await expect(p).rejects.toMatchObject({ code: "ECLOSED" });
    line.finish();
    seg.close();
  });

  it("closing the segment ends its waiters", async () => {
    const { seg, line } = makeLine();
    const waiter = new Waiter(line, mode);
    seg.close();
    await expect(waiter.wait(0)).rejects.toMatchObject({ code: "ECLOSED" });
    waiter.close();
  });
});
