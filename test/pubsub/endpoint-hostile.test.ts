// Hostile conversations: a "subscriber" that sends nonsense, out-of-order or
// oversized messages is refused (REFUSED, then the connection ends) and the
// publisher goes on serving the others; one that never says what it wants
// is dropped after subscribeTimeout. A "publisher" that answers nonsense
// makes subscribe() or recv() fail with EPROTO, never crash or hang.
import { afterAll, describe, expect, it } from "vitest";

import { connect, listen, publish, subscribe, type Peer } from "../../dist/lib/index.js";
import * as wire from "../../dist/lib/pubsub/wire.js";
import { firstPeer, sleep } from "../helpers.js";
import { endpoints, subscribersJoined } from "./endpoint-procs.js";

const eps = endpoints("smsh-pubsub-hostile-");
afterAll(() => eps.remove());

/** What the publisher answered a raw peer that sent `frames`: REFUSED's reason, and how the conversation ended. */
async function answer(peer: Peer): Promise<{ refused: string | null; end: string }> {
  let refused: string | null = null;
  for (;;) {
    try {
      const m = await peer.recv({ timeout: 10_000 });
      const d = wire.decodeFromPublisher(m);
      if ("kind" in d && d.kind === wire.Kind.Refused) refused = d.reason;
    } catch (e) {
      return { refused, end: (e as { code: string }).code };
    }
  }
}

const json = (kind: number, body: string): Buffer => Buffer.concat([Buffer.from([kind, 0, 0, 0]), Buffer.from(body)]);

describe("hostile subscribers", () => {
  const cases: [string, Buffer[], RegExp][] = [
    ["garbage", [Buffer.from("hello?")], /kind 104/],
    ["a MESSAGE from a subscriber", [wire.encodeMessage(Buffer.from("t"), Buffer.from("x"))], /kind 17/],
    ["SUBSCRIBE that is not JSON", [json(1, "{nope")], /not JSON/],
    ["SUBSCRIBE with topics not an array", [json(1, '{"topics":"a","shm":false}')], /topics must be/],
    ["SUBSCRIBE with a number for a topic", [json(1, '{"topics":[1],"shm":false}')], /topics must be/],
    ["SUBSCRIBE with too many topics", [wire.encodeSubscribe(Array.from({ length: 1025 }, (_, i) => `t${i}`), false)], /topics must be/],
    ["SUBSCRIBE without shm", [json(1, '{"topics":[]}')], /shm/],
    ["SUBSCRIBE with header bytes set", [Buffer.concat([Buffer.from([1, 1, 0, 0]), Buffer.from('{"topics":[],"shm":false}')])], /bad header/],
    ["a JSON body over the limit", [json(1, `{"topics":[],"shm":false,"x":"${"x".repeat(300_000)}"}`)], /JSON body of/],
    ["SUBSCRIBE twice", [wire.encodeSubscribe([""], false), wire.encodeSubscribe([""], false)], /SUBSCRIBE twice/],
    ["TOPICS before SUBSCRIBE", [wire.encodeTopics(["a"])], /TOPICS before SUBSCRIBE/],
    ["CONSUMED before SUBSCRIBE", [wire.encodeConsumed(0)], /CONSUMED 0/],
    ["CONSUMED more than it was sent", [wire.encodeSubscribe([""], false), wire.encodeConsumed(5)], /CONSUMED 5: 0 consumed before, 0 sent/],
    ["CONSUMED of a bad size", [wire.encodeSubscribe([""], false), Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 1])], /CONSUMED: bad frame/],
    ["ATTACHED without a ring offered", [wire.encodeSubscribe([""], false), wire.encodeAttached(0)], /ATTACHED without a ring offered/],
    ["ATTACHED with a bad slot", [wire.encodeSubscribe([""], true), json(5, '{"slot":999}')], /ATTACHED: bad slot/],
    ["ATTACHED twice", [wire.encodeSubscribe([""], true), wire.encodeAttached(0), wire.encodeAttached(1)], /or twice/],
    ["FALLBACK without a ring offered", [wire.encodeSubscribe([""], false), wire.encodeFallback("x")], /FALLBACK without a ring offered/],
    ["CONSUMED from a subscriber of the ring", [wire.encodeSubscribe([""], true), wire.encodeConsumed(1)], /CONSUMED 1: 0 consumed before, 0 sent/],
    ["CONSUMED above 2^53", [wire.encodeSubscribe([""], false), Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255])], /CONSUMED: bad frame/],
  ];

  it.each(cases)("%s: refused, and the publisher goes on serving the others", async (_what, frames, reason) => {
    const endpoint = eps.next();
    const pub = await publish(endpoint);
    try {
      const good = await subscribe(endpoint, { topics: ["t"] });
      await subscribersJoined(pub, 1);
      const bad = await connect(endpoint, { name: "hostile", transport: "zmq", reconnect: false });
      for (const f of frames) await bad.send(f);
      const a = await answer(bad);
      expect(a.refused).toMatch(reason);
      expect(a.end).toBe("ECLOSED");
      await bad.close();
      expect(pub.subscribers.length).toBe(1);
      await pub.send("t", Buffer.from("still here"));
      expect(Buffer.from((await good.recv({ timeout: 10_000 })).data).toString()).toBe("still here");
      await good.close();
    } finally {
      await pub.close();
    }
  });

  it("a peer that never says what it wants is refused after subscribeTimeout", async () => {
    const endpoint = eps.next();
    const pub = await publish(endpoint, { subscribeTimeout: 100 });
    try {
      const idle = await connect(endpoint, { name: "idle", transport: "zmq", reconnect: false });
      const a = await answer(idle);
      expect(a.refused).toMatch(/no SUBSCRIBE within 100 ms/);
      await idle.close();
    } finally {
      await pub.close();
    }
  });

  it("a raw ZeroMQ socket sending junk to the endpoint gets nothing and harms nothing", async () => {
    const zmq = await import("zeromq");
    const endpoint = eps.next();
    const pub = await publish(endpoint);
    const sock = new zmq.Dealer({ linger: 0 });
    try {
      sock.connect(endpoint);
      await sock.send([Buffer.from("GET / HTTP/1.0")]);
      await sock.send([Buffer.alloc(100_000, 0xff)]);
      await sleep(50);
      const sub = await subscribe(endpoint, { topics: [""] });
      await subscribersJoined(pub, 1);
      expect(pub.subscribers.length).toBe(1);
      await pub.send("t", Buffer.from("ok"));
      expect((await sub.recv({ timeout: 10_000 })).topic).toBe("t");
      await sub.close();
    } finally {
      sock.close();
      await pub.close();
    }
  });
});

describe("hostile publishers", () => {
  /** A listener that answers SUBSCRIBE with `reply` (then, if given, sends `after`). */
  async function fakePublisher(reply: Buffer, after: Buffer[] = []): Promise<{ endpoint: string; close(): Promise<void> }> {
    const endpoint = eps.next();
    const server = await listen(endpoint, { name: "fake", transport: "zmq" });
    void (async () => {
      const p = await firstPeer(server).catch(() => null);
      if (p === null) return;
      await p.recv({ timeout: 10_000 }).catch(() => {});
      for (const f of [reply, ...after]) await p.send(f).catch(() => {});
    })();
    return { endpoint, close: () => server.close() };
  }

  const welcome = wire.encodeWelcome({ policy: "block", blockTimeout: 100, window: 10, transport: "zmq", ring: null, reason: "" });
  const ringWelcome = json(16, '{"policy":"drop","blockTimeout":1,"window":1,"transport":"shm","ring":"smsh-aaaaaaaaaaaaaaaa","reason":""}');
  const bad: [string, Buffer, RegExp][] = [
    ["garbage", Buffer.from("nonsense"), /EPROTO/],
    ["a WELCOME with a bad policy", json(16, '{"policy":"fast","blockTimeout":1,"window":1,"transport":"zmq","ring":null,"reason":""}'), /bad policy/],
    ["a WELCOME with window 0", json(16, '{"policy":"drop","blockTimeout":1,"window":0,"transport":"zmq","ring":null,"reason":""}'), /bad window/],
    ["a WELCOME with a ring that is not a ring name", json(16, '{"policy":"drop","blockTimeout":1,"window":1,"transport":"shm","ring":"../../etc/passwd","reason":""}'), /bad ring/],
    ["a MESSAGE first", wire.encodeMessage(Buffer.from("t"), Buffer.from("x")), /answered SUBSCRIBE with message kind 17/],
    ["REFUSED", wire.encodeRefused("go away"), /ECONNREFUSED.*go away/],
    ["a WELCOME naming a ring that does not exist, then a ring again after FALLBACK", ringWelcome, /offered a ring again after FALLBACK/],
  ];
  it.each(bad)("%s: subscribe() fails clearly", async (_what, reply, re) => {
    const f = await fakePublisher(reply, reply === ringWelcome ? [reply] : []);
    try {
      const e = await subscribe(f.endpoint, { timeout: 10_000 }).catch((x: Error) => x);
      expect(e).toBeInstanceOf(Error);
      expect(String((e as Error).message)).toMatch(re);
    } finally {
      await f.close();
    }
  });

  const later: [string, Buffer, string][] = [
    ["a MESSAGE whose topic runs past its end", Buffer.from([17, 0, 200, 0, 1, 2]), "EPROTO"],
    ["a MISSED of 0", wire.encodeMissed(0), "EPROTO"],
    ["a second WELCOME", welcome, "EPROTO"],
    ["EVICTED", wire.encodeEvicted("too slow"), "ESLOW"],
  ];
  it.each(later)("%s after WELCOME: recv() fails with %s", async (_what, frame, code) => {
    const f = await fakePublisher(welcome, [frame]);
    try {
      const sub = await subscribe(f.endpoint, { timeout: 10_000 });
      await expect(sub.recv({ timeout: 10_000 })).rejects.toMatchObject({ code });
      await expect(sub.recv({ timeout: 10_000 })).rejects.toMatchObject({ code }); // and stays failed
      await sub.close();
    } finally {
      await f.close();
    }
  });
});
