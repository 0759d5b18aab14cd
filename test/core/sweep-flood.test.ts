// Another user fills /dev/shm with "smsh-" files: the automatic sweep
// (opening a channel, a peer's death) must not stall this process's event
// loop for them (200,000 empty files stalled it 4.6 s, again every 30 s), and
// must still remove this user's dead segments. Runs in a private mount
// namespace with its own tmpfs on /dev/shm, so nothing shared is touched;
// the junk is made by uid 65534.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

import { fixture } from "../helpers.js";

const root = process.platform === "linux" && process.geteuid?.() === 0;
const tools = root && spawnSync("sh", ["-c", "command -v unshare && command -v setpriv && test -x /usr/bin/python3"]).status === 0;

// 100,000 files: with the defect the sweep inspected each on the event loop
// (about a second here when idle; several on a loaded machine).
const JUNK = 100_000;

describe.skipIf(!tools)("the automatic sweep against a /dev/shm full of another user's files", () => {
  it("keeps the event loop turning (no gap near a second) and still removes this user's dead segment", () => {
    const env = { ...process.env, JUNK: String(JUNK), FIXTURE: fixture("sweep-flood"), NODE: process.execPath };
    delete env.SYNAPTIC_SHM_NO_AUTOSWEEP; // the automatic sweep is what is tested
    const script = [
      "mount -t tmpfs -o mode=1777 tmpfs /dev/shm",
      `setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c 'import os
for i in range(int(os.environ["JUNK"])): os.close(os.open("/dev/shm/smsh-%016x.%d" % (0xabc, i), os.O_CREAT | os.O_WRONLY, 0o600))'`,
      '"$NODE" "$FIXTURE" measure',
    ].join("\n");
    const r = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-ec", script], { env, encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const f = JSON.parse(r.stdout.trim().split("\n").pop()!) as { maxGap: number; createMs: number; goneMs: number | null };
    console.log(`sweep among ${JUNK} junk files: longest event-loop gap ${f.maxGap.toFixed(1)} ms, create ${f.createMs.toFixed(1)} ms, dead segment gone after ${f.goneMs?.toFixed(0)} ms`);
    expect(f.goneMs).not.toBeNull();
    // The sweep works in slices of 2 ms; 250 ms leaves room for a loaded
    // machine's scheduling and is far from the defect's second.
    expect(f.maxGap).toBeLessThan(250);
    expect(f.createMs).toBeLessThan(250);
  }, 150_000);
});
