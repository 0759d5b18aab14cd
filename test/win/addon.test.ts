// (f) The addon this process loads is the one for its platform: on Windows
// the win32-x64 prebuild (there is no build/Release there), on Linux the
// local build or the linux-x64 prebuild; and it works (a segment is made).
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import { Segment, addonPath } from "../../dist/lib/index.js";
import { ROOT } from "../helpers.js";

describe("the addon for this platform", () => {
  it.runIf(process.platform === "win32")("on Windows it is prebuilds/win32-x64/@synaptic-mesh+shm.node of this package", () => {
    expect(addonPath).toBe(path.join(ROOT, "prebuilds", "win32-x64", "@synaptic-mesh+shm.node"));
  });

  it.runIf(process.platform === "linux")("on Linux it is build/Release or the linux-x64 prebuild of this package", () => {
    expect(addonPath).not.toBe(null);
    const rel = path.relative(ROOT, addonPath!).split(path.sep).join("/");
    expect(rel).toMatch(/^(build\/Release\/[^/]+\.node|prebuilds\/linux-x64\/[^/]+\.glibc\.node)$/);
  });

  it("loads, and makes a segment", () => {
    const seg = Segment.create({ size: 4096 });
    try {
      seg.data[4095] = 7;
      expect(seg.data[4095]).toBe(7);
    } finally {
      seg.close();
    }
  });
});
