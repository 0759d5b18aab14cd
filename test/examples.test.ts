// Every example in examples/ runs as a user would run it (compiled, importing
// the package by its name) and says what it promises.
import { execFile } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import { ROOT } from "./helpers.js";

function run(example: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = path.join(ROOT, "dist", "examples", `${example}.js`);
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("examples", () => {
  it("receive: views, keep(), a timeout, then Readable.from across two processes", async () => {
    const r = await run("receive");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("reader: header: 3 parts follow; got 3000 bytes");
    expect(r.stdout).toContain("(ETIMEDOUT)");
    expect(r.stdout).toContain("reader: 1000 lines through Readable.from");
    expect(r.stdout).toContain("writer: done, reader exited with 0");
  });
});
