// (a) One segment, two processes: the parent creates it, a child attaches by
// name; each reads what the other wrote, including writes made after the
// attach (one memory, not a copy). Once both closed it, the name is gone:
// on Linux the creator unlinked it, on Windows its last handle went.
import { afterEach, describe, expect, it } from "vitest";

import { Segment } from "../../dist/lib/index.js";
import { checkBytes, fillBytes } from "../../dist/test/win/fixtures/bytes.js";
import { killStrays } from "../helpers.js";
import { codeOf, spawnPeer } from "./helpers.js";

afterEach(killStrays);

describe("a segment shared by two processes", () => {
  it("the child attaches by name and reads the parent's bytes; the parent reads the child's; later writes are seen both ways", async () => {
    const SIZE = 1 << 20;
    const seg = Segment.create({ size: SIZE });
    const name = seg.name;
    try {
      expect(seg.owner).toBe(true);
      const half = SIZE / 2;
      fillBytes(seg.data.subarray(0, half), 1);
      const peer = spawnPeer(["segment", name, String(SIZE)]);
      // The child checked contents 1 in the first half and wrote contents 2 into the second.
      await peer.line(/^attached$/);
      expect(checkBytes(seg.data.subarray(half), 2)).toBe(null);
      // Written after the child mapped the segment: it must see these too.
      for (const seed of [3, 4]) {
        fillBytes(seg.data.subarray(0, half), seed);
        peer.write(`check ${seed}`);
        await peer.line(new RegExp(`^ok ${seed}$`));
      }
      peer.write("close");
      const r = await peer.done;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      // The child's close() left this process's mapping alone.
      expect(checkBytes(seg.data.subarray(half), 2)).toBe(null);
    } finally {
      seg.close();
    }
    expect(codeOf(() => Segment.attach(name).close())).toBe("ENOENT");
  });
});
