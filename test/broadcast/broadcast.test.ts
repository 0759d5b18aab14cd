// The broadcast ring across processes (docs/PROTOCOL.md §6): one writer in
// this process, subscribers in child processes (test/fixtures/broadcast-sub.ts)
// that check every message they get: its topic against their prefixes, its
// order, and every byte of its body.
import { afterEach, describe, expect, it } from "vitest";

import { Broadcast } from "../../dist/lib/index.js";
import { bodyOf, matchesAny, topicOf, TOPICS } from "../../dist/test/fixtures/broadcast-pattern.js";
import { killStrays } from "../helpers.js";
import { startSub } from "./broadcast-helpers.js";

afterEach(() => killStrays());

/** The message numbers a subscriber of `prefixes` must get out of 0..n-1. */
function expectedFor(prefixes: string[], n: number): number {
  let c = 0;
  for (let k = 0; k < n; k++) if (matchesAny(topicOf(k), prefixes)) c++;
  return c;
}

describe("broadcast ring across processes", () => {
  it("delivers to 8 subscriber processes exactly their topics' messages, in order, every byte checked", async () => {
    // A small ring: the writer laps it many times and is held by the slowest subscriber.
    const w = Broadcast.create({ capacity: 1 << 16, policy: "block" });
    try {
      const filters = ["*", "tot.a", "tot.b.1,other", "tot", "other.y", "tot.c", "tot.a.2", "nothing"];
      const subs = filters.map((f) => startSub(w.name, f));
      await Promise.all(subs.map((s) => s.ready));
      const n = 16_000;
      for (let k = 0; k < n; k++) await w.send(topicOf(k), bodyOf(k));
      w.close();
      const results = await Promise.all(subs.map((s) => s.result));
      results.forEach((r, i) => {
        const prefixes = filters[i] === "*" ? [] : filters[i]!.split(",");
        expect(r.errors, filters[i]).toEqual([]);
        expect(r.code).toBe("ECLOSED"); // the end of the stream, after everything
        expect(r.got, filters[i]).toBe(expectedFor(prefixes, n));
        expect(r.missed).toBe(0);
      });
      expect(results[7]!.got).toBe(0);
      expect(TOPICS.length).toBe(8);
    } finally {
      w.close();
    }
  });

  it("drop: a slow subscriber is lapped, told exactly how many it missed, and never given a torn message", async () => {
    const w = Broadcast.create({ capacity: 1 << 14, policy: "drop" });
    try {
      // One slow reader (sleeps 200 us per message), one normal one.
      const slow = startSub(w.name, "*", "perUs=200");
      const fast = startSub(w.name, "*");
      await Promise.all([slow.ready, fast.ready]);
      const n = 40_000;
      for (let k = 0; k < n; k++) {
        expect(w.trySend(topicOf(k), bodyOf(k))).toBe(true); // drop never refuses
        if ((k & 255) === 0) await new Promise((r) => setImmediate(r));
      }
      w.close();
      const s = await slow.result;
      expect(s.errors).toEqual([]);
      expect(s.code).toBe("ECLOSED"); // not ECORRUPT: a lapped batch is a lap
      expect(s.laps).toBeGreaterThan(0);
      expect(s.missed).toBeGreaterThan(0);
      // Exact: every message is either delivered (and checked) or counted as missed.
      expect(s.got + s.missed).toBe(n);
      expect(s.missedSeen).toBeLessThanOrEqual(s.missed); // the per-message field adds up to at most the counter
      const f = await fast.result;
      expect(f.errors).toEqual([]);
      expect(f.got + f.missed).toBe(n);
    } finally {
      w.close();
    }
  });

  it("block: a stalled subscriber holds the writer, then is evicted after blockTimeout with ESLOW; the writer and the others go on", async () => {
    const w = Broadcast.create({ capacity: 1 << 14, policy: "block", blockTimeout: 1000 });
    const evicted: number[] = [];
    w.on("evict", (s: { slot: number }) => evicted.push(s.slot));
    try {
      const stalled = startSub(w.name, "*", "pauseAfter=1", "pauseMs=2000");
      const other = startSub(w.name, "tot");
      const slot = await stalled.ready;
      await other.ready;
      const n = 4000;
      let heldAt = -1;
      const t0 = performance.now();
      for (let k = 0; k < n; k++) {
        if (heldAt < 0 && !w.trySend(topicOf(k), bodyOf(k))) {
          heldAt = k; // the ring is full: the stalled subscriber holds the writer
          await w.send(topicOf(k), bodyOf(k));
        } else if (heldAt >= 0) await w.send(topicOf(k), bodyOf(k));
      }
      const elapsed = performance.now() - t0;
      w.close();
      expect(heldAt).toBeGreaterThan(0);
      // Held until the eviction (blockTimeout, 1 s); timers can fire early by
      // a little only, so this bound is safe on a loaded machine too.
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(evicted).toEqual([slot]);
      const s = await stalled.result;
      expect(s.code).toBe("ESLOW");
      expect(s.evictedMissed).toBeGreaterThan(0);
      expect(s.errors).toEqual([]);
      const o = await other.result;
      expect(o.errors).toEqual([]);
      expect(o.got).toBe(expectedFor(["tot"], n));
      expect(w.stats.evictions).toBe(1);
    } finally {
      w.close();
    }
  });

  it("a subscriber killed with -9 while it holds the writer releases it without waiting for blockTimeout", async () => {
    // blockTimeout 60 s: only the death can free the writer within the test.
    const w = Broadcast.create({ capacity: 1 << 14, policy: "block", blockTimeout: 60_000 });
    const left: string[] = [];
    w.on("leave", (_s: unknown, reason: string) => left.push(reason));
    try {
      const stuck = startSub(w.name, "*", "pauseAfter=1", "pauseMs=60000");
      await stuck.ready;
      let k = 0;
      while (w.trySend(topicOf(k), bodyOf(k))) {
        k++;
        if ((k & 63) === 0) await new Promise((r) => setTimeout(r, 1));
      }
      const sending = w.send(topicOf(k), bodyOf(k)); // held by the stuck subscriber
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      stuck.child.kill("SIGKILL");
      await sending;
      const freedMs = performance.now() - t0;
      // The pidfd watch frees it in a few ms, the 100 ms probe otherwise (250 ms is
      // the goal, measured: docs/ARCHITECTURE.md). The bound here is generous
      // for a loaded 2-core machine (the kill itself and a scheduler that runs
      // neither process for a while); a writer stalled until blockTimeout fails it.
      expect(freedMs).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 50));
      expect(left).toEqual(["died"]);
      expect(w.subscribers).toEqual([]);
    } finally {
      w.close();
    }
  });

  it.skipIf(process.platform !== "linux")("a subscriber stopped with SIGSTOP is evicted after blockTimeout, and after SIGCONT learns it (ESLOW); subscribers killed meanwhile free the writer", async () => {
    const w = Broadcast.create({ capacity: 1 << 14, policy: "block", blockTimeout: 500 });
    const events: string[] = [];
    w.on("evict", () => events.push("evict"));
    w.on("leave", (_s: unknown, why: string) => events.push(`leave ${why}`));
    try {
      const keep = startSub(w.name, "*");
      const stopped = startSub(w.name, "*");
      const killed = startSub(w.name, "tot");
      await Promise.all([keep.ready, stopped.ready, killed.ready]);
      const n = 20_000;
      for (let k = 0; k < n; k++) {
        if (k === 2000) stopped.child.kill("SIGSTOP");
        if (k === 4000) killed.child.kill("SIGKILL");
        if (k === 15_000) stopped.child.kill("SIGCONT");
        if (k % 500 === 0) await new Promise((r) => setImmediate(r));
        await w.send(topicOf(k), bodyOf(k), { timeout: 10_000 });
      }
      w.close();
      const k = await keep.result;
      expect(k.errors).toEqual([]);
      expect(k.got).toBe(n);
      const s = await stopped.result;
      expect(s.code).toBe("ESLOW");
      expect(s.errors).toEqual([]);
      expect(events.filter((e) => e === "evict")).toHaveLength(1);
      expect(events).toContain("leave died");
    } finally {
      w.close();
    }
  });

  it("subscribers join and leave while the writer sends: a joiner gets an unbroken run to the end, a leaver stops holding the writer", async () => {
    const w = Broadcast.create({ capacity: 1 << 14, policy: "block", blockTimeout: 30_000 });
    try {
      const n = 30_000;
      const early = startSub(w.name, "*");
      const leaver = startSub(w.name, "*", "stopAfter=3000");
      await Promise.all([early.ready, leaver.ready]);
      let late: ReturnType<typeof startSub> | null = null;
      for (let k = 0; k < n; k++) {
        if (k === 5000) late = startSub(w.name, "*");
        if (k > 5000 && k % 1000 === 0) await new Promise((r) => setTimeout(r, 1)); // let the joiner start
        await w.send(topicOf(k), bodyOf(k));
      }
      w.close();
      const e = await early.result;
      expect(e.errors).toEqual([]);
      expect(e.got).toBe(n);
      const l = await leaver.result;
      expect(l.got).toBe(3000);
      const j = await late!.result;
      expect(j.errors).toEqual([]);
      // Everything from its first message on, none missed, to the last one.
      expect(j.got).toBeGreaterThan(0);
      expect(j.last).toBe(n - 1);
      expect(j.got).toBe(n - j.first);
    } finally {
      w.close();
    }
  });
});
