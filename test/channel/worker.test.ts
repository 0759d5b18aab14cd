import { existsSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";

import { Segment, WaitLine, layout, randomName } from "../../dist/lib/index.js";
import { fixture } from "../helpers.js";

function runWorker(data: object, onMessage?: (m: Record<string, unknown>, w: Worker) => void): Promise<Record<string, unknown>[]> {
  const w = new Worker(fixture("worker"), { workerData: data });
  const messages: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    w.on("message", (m: Record<string, unknown>) => {
      messages.push(m);
      onMessage?.(m, w);
    });
    w.on("error", reject);
    w.on("exit", (code) => (code === 0 ? resolve(messages) : reject(new Error(`worker exited with ${code}`))));
  });
}

describe("worker threads", () => {
  it("attach and read a segment created on the main thread, by name", async () => {
    const seg = Segment.create({ size: 4096 });
    try {
      seg.data.set([1, 2, 3, 4], 0);
      const [m] = await runWorker({ name: seg.name });
      expect(m!.seen).toEqual([1, 2, 3, 4]);
      expect(seg.data[4]).toBe(99);
    } finally {
      seg.close();
    }
  });

  it("a segment a worker created and left open is unmapped and unlinked when the worker exits", async () => {
    const seg = Segment.create({ size: 4096 });
    const leaked = randomName();
    try {
      await runWorker({ name: seg.name, createAndLeak: leaked });
      expect(existsSync(`/dev/shm/${leaked}`)).toBe(false);
    } finally {
      seg.close();
    }
  });

  it("a worker blocked in a futex wait is woken by the main thread", async () => {
    const seg = Segment.create({ size: 4096 });
    const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
    try {
      const msgs = await runWorker({ name: seg.name, waitSync: true }, (m) => {
        if (m.waiting) setTimeout(() => line.notify(), 50);
      });
      expect(msgs.at(-1)!.result).toBe("ok");
    } finally {
      seg.close();
    }
  });
});
