import { describe, it, expect } from "vitest";
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
const require = createRequire(import.meta.url);
const w = require("../../addon/winapi.node");

describe("win32 probe under wine", () => {
  it("loads the cross-built addon", () => {
    expect(process.platform).toBe("win32");
    expect(w.hello()).toBe(42);
  });
  it("shares a Local\\ mapping with a child node.exe", () => {
    const name = "Local\\smsh-vt-" + process.pid;
    const m = w.mapCreate(name, 4096);
    m.buffer.writeUInt32LE(1234, 0);
    const r = spawnSync(process.execPath, ["-e",
      `const w=require(${JSON.stringify(require.resolve("../../addon/winapi.node"))});` +
      `const m=w.mapOpen(${JSON.stringify(name)},4096);m.buffer.writeUInt32LE(m.buffer.readUInt32LE(0)+1,4)`], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(m.buffer.readUInt32LE(4)).toBe(1235);
  });
});
