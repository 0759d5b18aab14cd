// A subscriber process killed with -9 stops holding its publisher at once
// (the Peer's pidfd watch sees the exit in a few ms): under "block" a send
// waiting for it resolves, and under "drop" its entry goes. The bound
// asserted is generous (2,000 ms, for a loaded 2-core CI machine; the issue
// asks 250 ms and the measured figure is printed: typically 30-60 ms here).
// A SIGSTOPped subscriber is no different from a slow one: evicted after
// blockTimeout, and told (ESLOW) once it runs again.
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { publish } from "../../dist/lib/index.js";
import { TOPICS, expected, payload, publishTraffic } from "../../dist/test/fixtures/pubsub-traffic.js";
import { subscribe } from "../../dist/lib/index.js";
import { killStrays, sleep, spawnFixture, waitForLine } from "../helpers.js";
import { endpoints, spawnSubscriber, subscribersJoined } from "./endpoint-procs.js";

const eps = endpoints("smsh-pubsub-death-");
afterAll(() => eps.remove());
afterEach(killStrays);

const BOUND_MS = 2000;

describe.each(["auto", "zmq"] as const)("dead subscribers (transport %s)", (transport) => {
  it("block: a subscriber killed with -9 while the publisher waits for it releases the publisher", async () => {
    const endpoint = eps.next();
    const pub = await publish(endpoint, { policy: "block", blockTimeout: 60_000, window: 10, capacity: 4096 });
    try {
      const other = spawnSubscriber(endpoint, { topics: [""], transport });
      const victim = spawnSubscriber(endpoint, { topics: [""], transport, stopAfter: 1 });
      await Promise.all([other.ready, victim.ready]);
      await subscribersJoined(pub, 2);
      let finished = 0;
      const sending = publishTraffic(pub, 200).then(() => (finished = performance.now()));
      await victim.line(/^stopped /);
      await sleep(300); // the publisher fills the victim's window and waits for it
      expect(finished).toBe(0);
      const killed = performance.now();
      victim.child.kill("SIGKILL");
      await sending;
      const stall = finished - killed;
      console.log(`block: the publisher went on ${stall.toFixed(1)} ms after the kill`);
      expect(stall).toBeLessThan(BOUND_MS);
      // Its control connection's end follows (the Peer's own pidfd watch).
      while (pub.subscribers.length > 1 && performance.now() - killed < BOUND_MS) await sleep(1);
      expect(pub.subscribers.length).toBe(1);
      await pub.close();
      expect(await other.done).toMatchObject({ count: 200, sum: expected([""], 200).sum, missed: 0, bad: null, code: "end" });
    } finally {
      await pub.close();
    }
  });

  it("drop: a killed subscriber's entry goes at once", async () => {
    const endpoint = eps.next();
    const pub = await publish(endpoint, { policy: "drop", window: 10, capacity: 4096 });
    try {
      const victim = spawnSubscriber(endpoint, { topics: [""], transport, stopAfter: 1 });
      await victim.ready;
      await subscribersJoined(pub, 1);
      // Paced, so that it reads one (an unpaced drop publisher may lap it past everything it published).
      let i = 0;
      const pacing = setInterval(() => void pub.send(TOPICS[i % TOPICS.length]!, payload(i++, 64)).catch(() => {}), 5);
      try {
        await victim.line(/^stopped /);
      } finally {
        clearInterval(pacing);
      }
      const killed = performance.now();
      victim.child.kill("SIGKILL");
      while (pub.subscribers.length > 0 && performance.now() - killed < 10_000) await sleep(1);
      const gone = performance.now() - killed;
      console.log(`drop: the killed subscriber was forgotten ${gone.toFixed(1)} ms after the kill`);
      expect(gone).toBeLessThan(BOUND_MS);
    } finally {
      await pub.close();
    }
  });

  it.skipIf(process.platform !== "linux")("block: a SIGSTOPped subscriber is evicted after blockTimeout and told ESLOW when it runs again", async () => {
    const endpoint = eps.next();
    const pub = await publish(endpoint, { policy: "block", blockTimeout: 300, window: 10, capacity: 4096 });
    try {
      const stopped = spawnSubscriber(endpoint, { topics: ["log."], transport });
      await stopped.ready;
      await subscribersJoined(pub, 1);
      stopped.child.kill("SIGSTOP");
      await publishTraffic(pub, 200);
      while (pub.stats.evicted === 0) await sleep(5); // the ring reports its evictions on the next turn of the loop
      expect(pub.stats.evicted).toBe(1);
      stopped.child.kill("SIGCONT");
      const r = await stopped.done;
      expect(r).toMatchObject({ bad: null, code: "ESLOW" });
      if (transport === "zmq") expect(r.count).toBe(10); // its window
      expect(r.count).toBeLessThan(expected(["log."], 200).count);
    } finally {
      await pub.close();
    }
  });

  it("a publisher killed with -9: its subscribers' waits end with EPEERDEAD, not a hang", async () => {
    const endpoint = eps.next();
    const pub = spawnFixture("pubsub-publisher", [endpoint]);
    await waitForLine(pub, /^ready$/, 30_000);
    const sub = await subscribe(endpoint, { topics: ["tick"], transport, timeout: 30_000 });
    try {
      await sub.recv({ timeout: 10_000 }); // it publishes
      const killed = performance.now();
      pub.kill("SIGKILL");
      let code = "";
      for (;;) {
        try {
          await sub.recv({ timeout: 10_000 }); // what it sent before dying, then its death
        } catch (e) {
          code = (e as { code: string }).code;
          break;
        }
      }
      const took = performance.now() - killed;
      console.log(`${transport}: the subscriber learnt of the publisher's death ${took.toFixed(1)} ms after the kill`);
      expect(code).toBe("EPEERDEAD");
      expect(took).toBeLessThan(BOUND_MS);
    } finally {
      await sub.close();
    }
  });
});
