// Every example in examples/ runs on Windows as it does on Linux: exit code
// 0, nothing on stderr, and the line that says it did its job. Linux runs
// them with more checks in test/tools/examples.test.ts; here, under Wine,
// they show that a user's code needs no change (the few places where an
// example differs on Windows: a tcp loopback endpoint where Linux uses
// ipc://, the crash cleanup that has nothing left to sweep, loans copied to
// workers rather than moved, say so in the example).
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import { ROOT } from "../helpers.js";

// Generous: under Wine a process takes up to a second to start and every
// wait goes through wineserver; this only ends an example that hangs.
const RUN_TIMEOUT_MS = 100_000;

/** The line each example prints when it did what it shows. */
const DONE: Record<string, RegExp> = {
  agents: /^photogrammetry: scanner exited with 0$/m,
  "broadcast-ring": /^publisher: sent 5 messages and closed$/m,
  "three-agents": /^hub: agents exited with 0, 0, 0$/m,
  // over shm: the ring (its subscriber slots' locks are named mutexes too), not a fallback to ZeroMQ
  "tot-broadcast": /^explorer-A \(over shm\): 4 thoughts: A0 A1 A2 A3$[\s\S]*^planner: explorers exited with 0,0,0,0$/m,
  "verification-dialogue": /^planner: verifier exited with 0$/m,
  "crash-cleanup": process.platform === "win32" ? /^Windows: smsh-\S+ went with its last handle; attaching it now fails with ENOENT/m : /removed smsh-\S+: true/m,
  "point-cloud-loan": /^scanner: cloud 2 centroid .* matches$/m,
  "point-cloud-threads": /^main: 6 clouds computed in 2 threads, .*in flight now 0 bytes/m,
  "point-cloud": /^parent: matches the parent's own pass over the same memory$/m,
  receive: /^writer: done, reader exited with 0$/m,
  reconnect: /^scanner: 1 reconnect, state connected$/m,
  "telemetry-batch": /^sensor: the monitor exited with code 0$/m,
  "two-processes": /^parent: -> #1 add 2 3$/m,
  "worker-reader": /^main: worker 1 read 100000 readings, .*\(matches what was sent\)$/m,
};

function run(example: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = path.join(ROOT, "dist", "examples", `${example}.js`);
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { timeout: RUN_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

// On Linux test/tools/examples.test.ts runs them (with their own checks): not twice.
describe.runIf(process.platform === "win32")("the examples on Windows", () => {
  it("every example has a line to check here", () => {
    const examples = readdirSync(path.join(ROOT, "dist", "examples")).filter((f) => f.endsWith(".js")).map((f) => f.slice(0, -3));
    expect(examples.sort()).toEqual(Object.keys(DONE).sort());
  });

  for (const [example, done] of Object.entries(DONE)) {
    it(`${example} runs to the end`, async () => {
      const r = await run(example);
      expect({ code: r.code, stderr: r.stderr }, r.stdout).toEqual({ code: 0, stderr: "" });
      expect(r.stdout).toMatch(done);
      expect(r.stdout).not.toMatch(/CHANGED|mismatch/);
    }, RUN_TIMEOUT_MS + 20_000);
  }
});
