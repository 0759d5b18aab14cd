// publish()/subscribe() by endpoint, 1 publisher to 8 subscriber processes
// with different topic prefixes (test/fixtures/pubsub-subscriber.ts): every
// subscriber receives exactly its topics' messages (count and sum of
// indices), in order, each byte checked; the same with every subscriber
// forced onto ZeroMQ.
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { publish } from "../../dist/lib/index.js";
import { expected, publishTraffic } from "../../dist/test/fixtures/pubsub-traffic.js";
import { killStrays } from "../helpers.js";
import { endpoints, spawnSubscriber, subscribersJoined } from "./endpoint-procs.js";

const eps = endpoints("smsh-pubsub-fanout-");
afterAll(() => eps.remove());
afterEach(killStrays);

const PREFIXES = [["tot."], ["tot.exploration."], ["tot.exploration.branch_A"], ["log."], ["log.info", "tot.plan"], [""], ["nothing."], ["tot.eval", "log.debug", "metrics."]];

describe.each(["auto", "zmq"] as const)("1 publisher, 8 subscriber processes (transport %s)", (transport) => {
  it("every subscriber receives exactly its topics' messages, in order, checked", async () => {
    const endpoint = eps.next();
    const pub = await publish(endpoint, { window: 200 });
    try {
      const subs = PREFIXES.map((topics) => spawnSubscriber(endpoint, { topics, transport }));
      const transports = await Promise.all(subs.map((s) => s.ready));
      // Same host and user: "auto" reads the publisher's broadcast ring.
      for (const t of transports) expect(t).toBe(transport === "auto" ? "shm" : "zmq");
      await subscribersJoined(pub, 8);
      const N = 4000;
      await publishTraffic(pub, N, 100);
      await pub.close(); // the end of every stream, after what was sent
      const results = await Promise.all(subs.map((s) => s.done));
      results.forEach((r, k) => {
        const want = expected(PREFIXES[k]!, N);
        expect({ k, ...r }).toEqual({ k, count: want.count, sum: want.sum, missed: 0, first: r.first, last: r.last, bad: null, code: "end" });
      });
      expect(results[6]!.count).toBe(0);
      if (transport === "zmq") {
        // The publisher sent each subscriber only its topics (filtering at the publisher, as ZeroMQ >= 3 PUB).
        expect(pub.stats.delivered).toBe(results.reduce((a, r) => a + r.count, 0));
        expect(pub.stats.ring).toBe(0);
      } else {
        // Written once into the ring for all 8 (each reads it through its own cursor), nothing over ZeroMQ.
        expect(pub.stats.ring).toBe(N);
        expect(pub.stats.delivered).toBe(0);
      }
    } finally {
      await pub.close();
    }
  });
});
