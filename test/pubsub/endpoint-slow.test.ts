// A slow subscriber process under each policy (README "Publish/subscribe"):
// block: one that takes nothing for blockTimeout is evicted (ESLOW on its
// side, after the window it was sent) while the others get everything; one
// that is slow but goes on holds the publisher and loses nothing. drop: the
// publisher never waits; each subscriber gets, in order and intact, a subset
// of its messages and is told exactly how many it missed (count + missed ==
// its topics' messages).
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { publish } from "../../dist/lib/index.js";
import { expected, publishTraffic } from "../../dist/test/fixtures/pubsub-traffic.js";
import { killStrays } from "../helpers.js";
import { endpoints, spawnSubscriber, subscribersJoined } from "./endpoint-procs.js";

const eps = endpoints("smsh-pubsub-slow-");
afterAll(() => eps.remove());
afterEach(killStrays);

describe.each(["auto", "zmq"] as const)("slow subscribers (transport %s)", (transport) => {
  it("block: a subscriber that takes nothing for blockTimeout is evicted with ESLOW; the others get everything", async () => {
    const endpoint = eps.next();
    const blockTimeout = 400;
    const pub = await publish(endpoint, { policy: "block", blockTimeout, window: 20 });
    try {
      // stallMs well past blockTimeout: it reads nothing while the publisher waits for it.
      const fast = spawnSubscriber(endpoint, { topics: [""], transport });
      const stalled = spawnSubscriber(endpoint, { topics: ["tot."], transport, stallMs: 1500 });
      await Promise.all([fast.ready, stalled.ready]);
      await subscribersJoined(pub, 2);
      const t0 = performance.now();
      await publishTraffic(pub, 300);
      const held = performance.now() - t0;
      expect(pub.stats.evicted).toBe(1);
      expect(pub.subscribers.map((s) => s.topics)).toEqual([[""]]);
      // It was held by the stalled one (a lower bound: the eviction comes after blockTimeout without progress).
      expect(held).toBeGreaterThanOrEqual(blockTimeout - 5);
      await pub.close();
      const [f, s] = await Promise.all([fast.done, stalled.done]);
      expect(f).toMatchObject({ count: 300, sum: expected([""], 300).sum, missed: 0, bad: null, code: "end" });
      // What it was sent before the eviction (its window: the first 20 of its messages), then ESLOW.
      const first20 = expected(["tot."], 300);
      expect(s).toMatchObject({ count: 20, missed: 0, bad: null, code: "ESLOW" });
      expect(first20.count).toBeGreaterThan(20);
    } finally {
      await pub.close();
    }
  });

  it("block: a slow subscriber that goes on holds the publisher and loses nothing", async () => {
    const endpoint = eps.next();
    const pub = await publish(endpoint, { policy: "block", blockTimeout: 5000, window: 10 });
    try {
      const slow = spawnSubscriber(endpoint, { topics: ["tot.exploration."], transport, slowMs: 2 });
      await slow.ready;
      await subscribersJoined(pub, 1);
      await publishTraffic(pub, 400);
      await pub.close();
      const want = expected(["tot.exploration."], 400);
      expect(await slow.done).toMatchObject({ count: want.count, sum: want.sum, missed: 0, bad: null, code: "end" });
      expect(pub.stats.evicted).toBe(0);
    } finally {
      await pub.close();
    }
  });

  it("drop: the publisher never waits; a lapped subscriber is told exactly how many it missed, never given a torn message", async () => {
    const endpoint = eps.next();
    const pub = await publish(endpoint, { policy: "drop", window: 20 });
    try {
      const fast = spawnSubscriber(endpoint, { topics: [""], transport });
      const stalled = spawnSubscriber(endpoint, { topics: ["tot.", "log.info"], transport, stallMs: 1000 });
      await Promise.all([fast.ready, stalled.ready]);
      await subscribersJoined(pub, 2);
      const N = 3000;
      await publishTraffic(pub, N, 256);
      // Every send returned at once: nobody held it (no timing asserted; the counts say it).
      const infos = pub.subscribers;
      await pub.close();
      const [f, s] = await Promise.all([fast.done, stalled.done]);
      for (const [r, prefixes] of [[f, [""]], [s, ["tot.", "log.info"]]] as const) {
        expect(r.bad).toBeNull();
        expect(r.code).toBe("end");
        // Exact: what it got plus what it was told it missed is every message of its topics.
        expect(r.count + r.missed).toBe(expected(prefixes, N).count);
      }
      // The stalled one was lapped: the first window's worth, then a gap it was told about.
      expect(s.missed).toBeGreaterThan(0);
      expect(s.count).toBeGreaterThanOrEqual(20);
      expect(pub.stats.missed).toBe(f.missed + s.missed);
      expect(infos.reduce((a, i) => a + i.missed, 0)).toBe(f.missed + s.missed);
    } finally {
      await pub.close();
    }
  });
});
