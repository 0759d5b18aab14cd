// A 100 MB loan published with pub.loan()/pub.send() to 4 local subscriber
// processes (subscribe(), transport "shm") is not copied: the shared memory
// in use while all 4 hold their view stays about one payload (the ring's
// test shows the same at its level, test/broadcast/broadcast-loans). A remote
// subscriber (forced ZeroMQ) gets the same bytes as a copy on the wire.
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { publish } from "../../dist/lib/index.js";
import { fillPayload } from "../../dist/test/fixtures/pubsub-traffic.js";
import { killStrays } from "../helpers.js";
import { sharedBytesOf } from "../broadcast/broadcast-helpers.js";
import { endpoints, spawnSubscriber, subscribersJoined } from "./endpoint-procs.js";

const eps = endpoints("smsh-pubsub-loan-");
afterAll(() => eps.remove());
afterEach(killStrays);

describe.skipIf(process.platform !== "linux")("loans through publish/subscribe", () => {
  it("a 100 MB loan to 4 local subscriber processes is not copied; a remote one gets a copy", async () => {
    const endpoint = eps.next();
    const pub = await publish(endpoint, { capacity: 1 << 16 });
    try {
      const local = [0, 1, 2, 3].map(() => spawnSubscriber(endpoint, { topics: ["tot."], stopAfter: 1 }));
      const remote = spawnSubscriber(endpoint, { topics: ["tot."], transport: "zmq", stopAfter: 1 });
      expect(await Promise.all([...local, remote].map((s) => s.ready))).toEqual(["shm", "shm", "shm", "shm", "zmq"]);
      await subscribersJoined(pub, 5);
      const size = 100_000_000;
      const loan = await pub.loan(size, { timeout: 20_000 });
      fillPayload(loan.data, 0); // message 0: topic tot.exploration.branch_A
      await pub.send("tot.exploration.branch_A", loan);
      const stopped = await Promise.all([...local, remote].map((s) => s.line(/^stopped 1 /, 60_000)));
      const got = stopped.map((l) => JSON.parse(l.slice("stopped 1 ".length)) as { bad: string | null; loan: boolean; bytes: number; transport: string });
      // Every byte checked by each subscriber (pubsub-traffic's check).
      expect(got).toEqual([
        ...[0, 1, 2, 3].map(() => ({ bad: null, loan: true, bytes: size, transport: "shm" })),
        { bad: null, loan: false, bytes: size, transport: "zmq" },
      ]);
      // While the 4 hold their views: one slab of the 100,663,296-byte class, the ring and 4 cursor segments
      // (a few hundred KiB). A copy per subscriber would be 5x.
      const used = sharedBytesOf([process.pid, ...local.map((s) => s.child.pid!)]);
      expect(used).toBeGreaterThanOrEqual(size);
      expect(used).toBeLessThan(size * 1.1);
      expect(pub.stats.ring).toBe(1);
      expect(pub.stats.delivered).toBe(1); // the remote one's copy
      // They end by a signal (their segments go with them: the package's exit cleanup), then the publisher.
      await Promise.all([...local, remote].map((s) => new Promise((r) => (s.child.once("exit", r), s.child.kill("SIGTERM")))));
    } finally {
      await pub.close();
    }
  });
});
