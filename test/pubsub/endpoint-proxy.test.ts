// The proxy (XSUB/XPUB): 2 publishers, subscriber processes of the proxy (one
// "auto", one forced onto ZeroMQ) get exactly their topics from both, each
// publisher's messages in its order; the proxy subscribes upstream to the
// union of its subscribers' prefixes only (a publisher sends nothing nobody
// downstream wants), and follows changes; it dials a publisher that comes
// late or comes back. `synaptic-shm proxy` does the same from the command line.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { proxy, publish, subscribe, type Publisher } from "../../dist/lib/index.js";
import { TOPICS, expected, payload } from "../../dist/test/fixtures/pubsub-traffic.js";
import { ROOT, collect, killStrays, sleep, track, waitForLine } from "../helpers.js";
import { endpoints, spawnSubscriber } from "./endpoint-procs.js";

const eps = endpoints("smsh-pubsub-proxy-");
afterAll(() => eps.remove());
afterEach(killStrays);

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(5);
  }
}

/** Publisher k sends the even (k = 0) or odd (k = 1) messages of 0..n-1 (each subscriber checks the order of what it gets). */
async function sendHalf(pub: Publisher, k: number, n: number): Promise<void> {
  for (let i = k; i < n; i += 2) await pub.send(TOPICS[i % TOPICS.length]!, payload(i, 64));
}

describe("proxy", () => {
  it("2 publishers to local and remote subscribers through the proxy; subscriptions forwarded upstream", async () => {
    const [up1, up2, down] = [eps.next(), eps.next(), eps.next()];
    // One publisher before the proxy, one after: the proxy dials the late one until it is there.
    const p1 = await publish(up1, { name: "p1" });
    const px = await proxy({ subscribeTo: [up1, up2], publishOn: down, window: 100 });
    const p2 = await publish(up2, { name: "p2" });
    try {
      const local = spawnSubscriber(down, { topics: ["tot.exploration."] });
      const remote = spawnSubscriber(down, { topics: ["log.", "tot.plan"], transport: "zmq" });
      await Promise.all([local.ready, remote.ready]);
      // The union of the proxy's subscribers, forwarded to both publishers.
      const union = ["log.", "tot.exploration.", "tot.plan"];
      await until("the proxy subscribed upstream", () => [p1, p2].every((p) => JSON.stringify(p.subscribers.map((s) => s.topics)) === JSON.stringify([union])));
      expect(px.publisher.topics).toEqual(union);
      // The proxy wants subscriptions on one ordering: publisher 1 sends even indices, publisher 2 odd ones.
      const N = 1000;
      await Promise.all([sendHalf(p1, 0, N), sendHalf(p2, 1, N)]);
      // Upstream, the publishers sent the proxy only the union's topics (metrics.cpu, tot.eval.*, log nothing else went).
      const wanted = expected(union, N).count;
      await until("everything forwarded", () => px.publisher.stats.messages === wanted);
      expect(p1.stats.delivered + p1.stats.ring + p2.stats.delivered + p2.stats.ring).toBe(wanted);
      expect(p1.stats.messages + p2.stats.messages).toBe(N);
      expect(px.upstream.map((u) => [u.connected, u.missed])).toEqual([
        [true, 0],
        [true, 0],
      ]);
      await px.close();
      const [l, r] = await Promise.all([local.done, remote.done]);
      // Each subscriber: exactly its topics' messages. Order across the two publishers is arrival order,
      // so the fixture's order check (indices increase) holds only within one publisher: count and sum say "exactly".
      for (const [res, prefixes] of [[l, ["tot.exploration."]], [r, ["log.", "tot.plan"]]] as const) {
        const want = expected(prefixes, N);
        expect(res.count).toBe(want.count);
        expect(res.sum).toBe(want.sum);
        expect(res.missed).toBe(0);
        expect(res.code).toBe("end");
      }
    } finally {
      await px.close();
      await Promise.all([p1.close(), p2.close()]);
    }
  });

  it("the upstream subscription follows the proxy's subscribers: nothing while it has none, each change forwarded", async () => {
    const [up, down] = [eps.next(), eps.next()];
    const pub = await publish(up);
    const px = await proxy({ subscribeTo: [up], publishOn: down });
    try {
      await until("the proxy joined", () => pub.subscribers.length === 1);
      expect(pub.subscribers[0]!.topics).toEqual([]);
      await pub.send("a.1", Buffer.from("nobody downstream"));
      expect(pub.stats.delivered + pub.stats.ring).toBe(0);
      const s = await subscribe(down, { topics: ["a."] });
      await until("a. upstream", () => pub.topics.join() === "a.");
      await pub.send("a.1", Buffer.from("x"));
      await pub.send("b.1", Buffer.from("not wanted"));
      const m = await s.recv({ timeout: 10_000 });
      expect([m.topic, Buffer.from(m.data).toString()]).toEqual(["a.1", "x"]);
      expect(pub.stats.delivered + pub.stats.ring).toBe(1);
      s.subscribe("b.");
      await until("a. b. upstream", () => pub.topics.join() === "a.,b.");
      await s.close();
      await until("nothing upstream", () => pub.topics.length === 0);
      expect(pub.subscribers.length).toBe(1); // the proxy stays subscribed to nothing
    } finally {
      await px.close();
      await pub.close();
    }
  });

  it("an upstream publisher that goes and comes back is dialled again", async () => {
    const [up, down] = [eps.next(), eps.next()];
    let pub = await publish(up);
    const px = await proxy({ subscribeTo: [up], publishOn: down, retryMs: 20 });
    try {
      const s = await subscribe(down, { topics: [""] });
      const all = (): boolean => pub.subscribers.length === 1 && JSON.stringify(pub.subscribers[0]!.topics) === '[""]';
      await until("subscribed upstream to everything", all);
      await pub.send("t", Buffer.from("1"));
      expect(Buffer.from((await s.recv({ timeout: 10_000 })).data).toString()).toBe("1");
      await pub.close();
      await until("the proxy saw it go", () => !px.upstream[0]!.connected);
      pub = await publish(up);
      await until("the proxy is back", all);
      await pub.send("t", Buffer.from("2"));
      expect(Buffer.from((await s.recv({ timeout: 10_000 })).data).toString()).toBe("2");
      await s.close();
    } finally {
      await px.close();
      await pub.close();
    }
  });

  it("bad options are clear errors", async () => {
    await expect(proxy({ subscribeTo: [], publishOn: eps.next() })).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    await expect(proxy({ subscribeTo: ["nope"], publishOn: eps.next() })).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    const e = eps.next();
    await expect(proxy({ subscribeTo: [e], publishOn: e })).rejects.toMatchObject({ code: "EADDRINUSE" });
  });

  it("synaptic-shm proxy: forwards between publishers and subscribers until SIGTERM, then exits 0", async () => {
    const [up1, up2, down] = [eps.next(), eps.next(), eps.next()];
    const p1 = await publish(up1);
    const p2 = await publish(up2);
    const cli = track(spawn(process.execPath, [path.join(ROOT, "dist", "lib", "cli.js"), "proxy", "--publish-on", down, "--policy", "drop", "--quiet", up1, up2], { stdio: ["ignore", "pipe", "pipe"] }));
    const result = collect(cli, 60_000);
    try {
      await waitForLine(cli, /^proxy: publishing on /, 30_000);
      const s = await subscribe(down, { topics: ["x"] });
      await until("subscribed upstream", () => p1.topics.join() === "x" && p2.topics.join() === "x");
      await p1.send("x1", Buffer.from("from 1"));
      await p2.send("x2", Buffer.from("from 2"));
      await p2.send("y", Buffer.from("not wanted"));
      const got = [await s.recv({ timeout: 10_000 }), await s.recv({ timeout: 10_000 })].map((m) => `${m.topic}:${Buffer.from(m.data).toString()}`).sort();
      expect(got).toEqual(["x1:from 1", "x2:from 2"]);
      expect(s.policy).toBe("drop");
      cli.kill("SIGTERM");
      const r = await result;
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/subscribed upstream to "x"/);
      expect(r.stdout).toMatch(/proxy: closed/);
      await expect(s.recv({ timeout: 10_000 })).rejects.toMatchObject({ code: "ECLOSED" });
      await s.close();
    } finally {
      cli.kill("SIGKILL");
      await Promise.all([p1.close(), p2.close()]);
    }
  });

  it("synaptic-shm proxy: usage errors exit 2", async () => {
    const run = (args: string[]) => collect(track(spawn(process.execPath, [path.join(ROOT, "dist", "lib", "cli.js"), "proxy", ...args], { stdio: ["ignore", "pipe", "pipe"] })));
    for (const args of [[eps.next()], ["--publish-on", eps.next()], ["--publish-on", eps.next(), "--policy", "x", eps.next()], ["--publish-on", eps.next(), "--window", "0", eps.next()], ["--publish-on", "bad", eps.next()]]) {
      const r = await run(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(/usage: synaptic-shm proxy/);
    }
  });
});
