// What differs on Windows, asserted where it differs (and the same
// behaviour asserted on Linux where it is the same): a name's lifetime, the
// wake of every sleeper of a line (a semaphore and a sleepers count there,
// a futex here), the event-loop wait mode, a hostile sleepers count, and
// what ls/sweep/stat say. Runs under Wine (npm run test:wine) and on Linux.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";

import { Channel, Segment, WaitLine, Waiter, layout } from "../../dist/lib/index.js";
import { ROOT, expectCode, sleep } from "../helpers.js";

const WIN = process.platform === "win32";
const CLI = path.join(ROOT, "dist", "lib", "cli.js");

const open: { close(): void }[] = [];
function keep<T extends { close(): void }>(x: T): T {
  open.push(x);
  return x;
}
afterEach(() => {
  for (const x of open.splice(0).reverse()) x.close();
});

describe("a segment's name", () => {
  it("is taken while it exists: a second create is EEXIST; attach of a missing name is ENOENT", () => {
    const seg = keep(Segment.create({ size: 4096 }));
    expectCode(() => Segment.create({ name: seg.name, size: 4096 }), "EEXIST");
    expectCode(() => Segment.attach(`${seg.name}x`), "ENOENT");
  });

  it("is gone for attach after the owner's close (ENOENT) while an attacher still uses the segment; free for create at once on Linux, once the last process lets go on Windows", () => {
    const seg = Segment.create({ size: 4096 });
    const attacher = keep(Segment.attach(seg.name));
    seg.close();
    expectCode(() => Segment.attach(seg.name), "ENOENT");
    attacher.data[0] = 1; // still mapped, still usable
    if (WIN) {
      // The mapping and its name live while any handle does: the attacher's.
      expectCode(() => Segment.create({ name: seg.name, size: 4096 }), "EEXIST");
      attacher.close();
      keep(Segment.create({ name: seg.name, size: 4096 })).close();
    } else {
      // Unlinked at close: the name is free, the attacher keeps the old object.
      keep(Segment.create({ name: seg.name, size: 4096 }));
    }
  });

  it("an explicit unlink() makes later attaches fail with ENOENT; the segment stays usable by those who have it", () => {
    const seg = keep(Segment.create({ size: 4096 }));
    const attacher = keep(Segment.attach(seg.name));
    seg.unlink();
    expectCode(() => Segment.attach(seg.name), "ENOENT");
    seg.data[7] = 42;
    expect(attacher.data[7]).toBe(42);
  });
});

// A worker thread that attaches the segment, announces a blocking sleep on
// its reader wait line, says "ready" and sleeps at most timeoutMs in one
// native wait (not waitSync, whose 50 ms slices would hide a lost wake).
const SLEEPER = `
  const { parentPort, workerData } = require("node:worker_threads");
  const { Segment, WaitLine, layout } = require(workerData.lib);
  const seg = Segment.attach(workerData.name);
  const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
  const seq = line.prepare("sync");
  parentPort.postMessage("ready");
  const result = seg.handle.wait(line.seqOffset, seq, workerData.timeoutMs);
  line.finish();
  seg.close();
  parentPort.postMessage(result === "not-equal" ? "ok" : result); // not-equal: woken before it slept
`;

describe("wait lines", () => {
  it("one notify wakes every thread sleeping on the line (Windows: a semaphore released once per counted sleeper)", async () => {
    const seg = keep(Segment.create({ size: 4096 }));
    // Generous: a missed wake shows as "timed-out" long before the test's
    // own limit; a busy machine only delays the "ok"s.
    const timeoutMs = 60_000;
    const lib = path.join(ROOT, "dist", "lib", "index.js");
    const workers = [0, 1, 2].map(() => new Worker(SLEEPER, { eval: true, workerData: { lib, name: seg.name, timeoutMs } }));
    try {
      const messages = workers.map((w) => {
        const got: unknown[] = [];
        return { got, next: () => new Promise<unknown>((resolve, reject) => (w.once("message", resolve), w.once("error", reject))) };
      });
      await Promise.all(messages.map((m) => m.next()));
      // "ready" comes just before waitSync: give the threads time to be in the
      // kernel wait. One that is not yet there finds seq moved ("ok" too).
      await sleep(200);
      const results = messages.map((m) => m.next());
      expect(new WaitLine(seg, layout.OFFSETS.reader_wait).notify()).toBe(true);
      expect(await Promise.all(results)).toEqual(["ok", "ok", "ok"]);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });

  it("an event-loop Waiter asked for the doorbell runs as the waiter thread on Windows, saying why; a doorbell on Linux", async () => {
    const seg = keep(Segment.create({ size: 4096 }));
    const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
    const waiter = keep(new Waiter(line, "doorbell"));
    if (WIN) {
      expect(waiter.mode).toBe("futex");
      expect(waiter.fallbackReason).toMatch(/no doorbell/);
    } else {
      expect(waiter.mode).toBe("doorbell");
    }
    const seq = line.prepare(waiter.mode);
    setTimeout(() => line.notify(), 20);
    // Generous limit: the wake comes after 20 ms; the limit only bounds a failure.
    expect(await waiter.wait(seq, 30_000)).toBe("ok");
    line.finish();
  });

  // A lost wake is not lost for good (the waits re-check every 100 ms), so
  // what fails here when wakes are lost is the test's time limit: 2,000
  // messages at 100 ms each take 200 s, against about 2 s under Wine.
  it("a hostile sleepers count (+8 of a wait line) costs spurious wakes, never a lost wake, message or hang", async () => {
    const tx = keep(Channel.create({ capacity: 1024, spin: 0 }));
    const rx = keep(Channel.attach(tx.name, { spin: 0 }));
    const header = new DataView(tx.segment.handle.buffer(), 0, layout.HEADER_SIZE); // the whole mapping, header first
    const scribble = (): void => {
      for (const line of [layout.OFFSETS.reader_wait, layout.OFFSETS.writer_wait]) header.setUint32(line + 8, 0xffffffff, true);
    };
    const count = 2_000;
    const received: number[] = [];
    const reader = (async () => {
      for (let i = 0; i < count; i++) {
        const m = await rx.recv({ timeout: 60_000 }); // generous: only bounds a failure
        received.push(new DataView(m.buffer, m.byteOffset, 4).getUint32(0, true));
      }
    })();
    const msg = new Uint8Array(100); // 10 per ring: the writer waits too
    for (let i = 0; i < count; i++) {
      if (i % 100 === 0) scribble();
      new DataView(msg.buffer).setUint32(0, i, true);
      await tx.send(msg, { timeout: 60_000 });
      if (i % 250 === 0) await sleep(2); // let the reader fall asleep now and then
    }
    await reader;
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
  });
});

describe("the command line", () => {
  it("ls and sweep say that Windows leaves nothing behind; stat shows one segment by name on both", () => {
    const seg = keep(Segment.create({ size: 4096 }));
    const run = (...args: string[]): string => execFileSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
    const stat = JSON.parse(run("stat", seg.name, "--json")) as { name: string; owner: { alive: boolean } };
    expect(stat.name).toBe(seg.name);
    expect(stat.owner.alive).toBe(true);
    if (WIN) {
      expect(run("ls")).toMatch(/on Windows a segment's named mapping goes with its last handle/);
      expect(run("sweep")).toMatch(/nothing is left to sweep/);
      expect(JSON.parse(run("ls", "--json"))).toEqual([]);
    } else {
      expect(run("ls")).toContain(seg.name);
    }
  });
});
