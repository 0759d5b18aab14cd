// The ground the other test/win tests stand on, under Wine as on Linux: the
// platform is what the run claims, and a child started with process.execPath
// talks to its parent over stdin/stdout pipes, exits with its own exit
// code, and ends when its stdin ends (the fixtures' self-destruct relies on
// that).
import { spawn } from "node:child_process";
import { release } from "node:os";
import { describe, expect, it } from "vitest";

import { collect, track } from "../helpers.js";

describe("the platform the test/win tests run on", () => {
  it("is Linux, or Windows 10 or later (Wine's prefix must report win10: node 20 refuses older)", () => {
    expect(["linux", "win32"]).toContain(process.platform);
    expect(process.arch).toBe("x64");
    if (process.platform === "win32") {
      expect(process.execPath.toLowerCase()).toMatch(/node\.exe$/);
      expect(Number(release().split(".")[0])).toBeGreaterThanOrEqual(10);
    }
  });

  it("a child node process echoes its stdin to its parent, exits with its own code, and ends when its stdin ends", async () => {
    const script = `
      let n = 0;
      process.stdin.setEncoding("utf8");
      process.stdin.on("data", (d) => { n += d.length; process.stdout.write(d.toUpperCase()); });
      process.stdin.on("end", () => { process.stdout.write("end " + n + " " + process.platform + "\\n"); process.exitCode = 7; });
    `;
    const child = track(spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "pipe"] }));
    const done = collect(child, 60_000);
    child.stdin!.write("hello\n");
    child.stdin!.end("world\n");
    const r = await done;
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`HELLO\nWORLD\nend 12 ${process.platform}\n`);
    expect(r.code).toBe(7);
  });
});
