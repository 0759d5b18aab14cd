// Plain ZeroMQ subscribers (zeromq.js SUB sockets, no handshake of ours):
// they cannot join publish()'s endpoint, but a publisher's (or a proxy's)
// zmqPublishOn XPUB gives them the stream as two frames [topic, data],
// filtered by their prefixes; their subscriptions join the publisher's topic
// union, so a proxy forwards them upstream.
import { afterAll, describe, expect, it } from "vitest";

import { proxy, publish } from "../../dist/lib/index.js";
import { sleep } from "../helpers.js";
import { endpoints } from "./endpoint-procs.js";

const eps = endpoints("smsh-pubsub-interop-");
afterAll(() => eps.remove());

async function until(what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`not within 10 s: ${what}`);
    await sleep(5);
  }
}

describe("plain ZeroMQ SUB sockets", () => {
  it("receive [topic, data] from a publisher's zmqPublishOn, by prefix; their subscriptions join the union", async () => {
    const zmq = await import("zeromq");
    const [endpoint, zep] = [eps.next(), eps.next()];
    const pub = await publish(endpoint, { zmqPublishOn: zep });
    const sub = new zmq.Subscriber({ linger: 0 });
    try {
      expect(pub.zmqEndpoint).toBe(zep);
      sub.connect(zep);
      sub.subscribe("tot.");
      await until("the SUB's subscription", () => pub.topics.join() === "tot.");
      await pub.send("log.x", Buffer.from("not for it"));
      await pub.send("tot.a", Buffer.from("one"));
      await pub.send("tot.b", Buffer.from("two"));
      const got: string[] = [];
      for (let i = 0; i < 2; i++) {
        const [t, d] = await sub.receive();
        got.push(`${t!.toString()}=${d!.toString()}`);
      }
      expect(got).toEqual(["tot.a=one", "tot.b=two"]);
      sub.unsubscribe("tot.");
      await until("the SUB's unsubscription", () => pub.topics.length === 0);
    } finally {
      sub.close();
      await pub.close();
    }
  });

  it("a proxy's zmqPublishOn: a plain SUB's prefix is forwarded upstream", async () => {
    const zmq = await import("zeromq");
    const [up, down, zep] = [eps.next(), eps.next(), eps.next()];
    const pub = await publish(up);
    const px = await proxy({ subscribeTo: [up], publishOn: down, zmqPublishOn: zep });
    const sub = new zmq.Subscriber({ linger: 0 });
    try {
      sub.connect(zep);
      sub.subscribe("a");
      await until("forwarded upstream", () => pub.topics.join() === "a");
      await pub.send("b", Buffer.from("nobody"));
      await pub.send("a1", Buffer.from("x"));
      const [t, d] = await sub.receive();
      expect(`${t!.toString()}=${d!.toString()}`).toBe("a1=x");
      expect(pub.stats.delivered + pub.stats.ring).toBe(1);
    } finally {
      sub.close();
      await px.close();
      await pub.close();
    }
  });

  it("zmqPublishOn: a bad endpoint is a clear error, and nothing stays bound", async () => {
    const endpoint = eps.next();
    await expect(publish(endpoint, { zmqPublishOn: "nope" })).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    await expect(publish(endpoint, { zmqPublishOn: "tcp://8.8.8.8:5555" })).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    const pub = await publish(endpoint); // the endpoint was released
    await pub.close();
  });
});
