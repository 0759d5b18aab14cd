// A slow subscriber process under each policy (README "Publish/subscribe"),
// local (the ring, its smallest capacity so that it fills) and remote:
// block: one that takes nothing for blockTimeout is evicted (ESLOW on its
// side, after what it was sent) while the others get everything; one
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
    const pub = await publish(endpoint, { policy: "block", blockTimeout, window: 20, capacity: 4096 });
    try {
      // stallMs far past blockTimeout: it reads nothing while the publisher waits for it. The stall starts at
      // its "ready"; the eviction needs the other's start, the join, the ring filling, blockTimeout without
      // progress and the writer's next scan: 1.5 s was not always enough with both cores busy (test:loaded).
      const fast = spawnSubscriber(endpoint, { topics: [""], transport });
      const stalled = spawnSubscriber(endpoint, { topics: ["tot."], transport, stallMs: 6000 });
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
      // What it was sent before the eviction (remote: its window, the first 20 of its messages; local: what the
      // ring held, as far as it read it before learning of the eviction), in order and intact, then ESLOW.
      expect(s).toMatchObject({ missed: 0, bad: null, code: "ESLOW" });
      if (transport === "zmq") expect(s.count).toBe(20);
      expect(s.count).toBeLessThan(expected(["tot."], 300).count);
    } finally {
      await pub.close();
    }
  });

  it("block: a slow subscriber that goes on holds the publisher and loses nothing", async () => {
    const endpoint = eps.next();
    const pub = await publish(endpoint, { policy: "block", blockTimeout: 5000, window: 10, capacity: 4096 });
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
    const pub = await publish(endpoint, { policy: "drop", window: 20, capacity: 4096 });
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
      for (const r of [f, s]) {
        expect(r.bad).toBeNull();
        expect(r.code).toBe("end");
      }
      // Exact: what it got plus what it was told it missed is every message of its topics.
      expect(f.count + f.missed).toBe(N);
      const want = expected(["tot.", "log.info"], N).count;
      if (transport === "zmq") {
        expect(s.count + s.missed).toBe(want);
        expect(pub.stats.missed).toBe(f.missed + s.missed);
        expect(infos.reduce((a, i) => a + i.missed, 0)).toBe(f.missed + s.missed);
      } else {
        // The ring counts lapped messages of every topic (it cannot know an overwritten message's topic):
        // at least the ones of its topics it did not get, at most all it did not get.
        expect(s.count + s.missed).toBeGreaterThanOrEqual(want);
        expect(s.count + s.missed).toBeLessThanOrEqual(N);
      }
      // The stalled one was lapped, and told.
      expect(s.missed).toBeGreaterThan(0);
    } finally {
      await pub.close();
    }
  });
});
