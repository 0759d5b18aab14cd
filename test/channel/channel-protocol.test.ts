// What docs/PROTOCOL.md asks of a ring that a foreign writer made: the
// liveness lock flag, the smallest capacity, and a writer_state left at 0.
import { afterEach, describe, expect, it } from "vitest";

import { Channel, Segment, layout, randomName } from "../../dist/lib/index.js";
import { expectCode, killStrays, spawnFixture, waitForLine } from "../helpers.js";

afterEach(killStrays);

describe("rings as docs/PROTOCOL.md specifies them", () => {
  it("a ring whose header lacks the LOCKS flag is ECORRUPT at attach (its writer's death could not be told)", () => {
    const tx = Channel.create({ capacity: 1024 });
    try {
      const raw = Segment.attach(tx.name);
      const hdr = new Int32Array(raw.buffer, 0, layout.HEADER_SIZE / 4);
      hdr[layout.OFFSETS.flags >> 2] = 0;
      raw.close();
      expectCode(() => Channel.attach(tx.name), "ECORRUPT");
    } finally {
      tx.close();
    }
  });

  it("a ring smaller than 1 KiB is ECORRUPT at attach", () => {
    const seg = Segment.create({ size: 512 }, { kind: layout.KIND_RING, capacity: 512 });
    try {
      expectCode(() => Channel.attach(seg.name), "ECORRUPT");
    } finally {
      seg.close();
    }
  });

  it("a dead writer that left writer_state at 0 is EPEERDEAD, not an endless wait", async () => {
    const name = randomName();
    const child = spawnFixture("lifecycle", ["writer", name]);
    await waitForLine(child, /^ready/);
    const rx = Channel.attach(name);
    try {
      const raw = Segment.attach(name);
      Atomics.store(new Int32Array(raw.buffer, 0, layout.HEADER_SIZE / 4), layout.OFFSETS.writer_state >> 2, 0);
      raw.close();
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      // 5 s: the reader re-checks every 100 ms without a pidfd watch; room for a loaded machine.
      await expect(rx.recv({ timeout: 5000 })).rejects.toMatchObject({ code: "EPEERDEAD" });
    } finally {
      rx.close();
      // The dead writer's name (Windows: the mapping went with our handle, the last one).
      if (process.platform === "linux") Segment.attach(name).unlink();
    }
  });
});
