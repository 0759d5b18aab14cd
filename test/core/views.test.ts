// Views over shared memory and the garbage collector (csrc/binding/uncounted_buffer.h,
// csrc/core/buffer_table.h): on this runtime views are made so that V8 does not
// count them as external memory (a view of a large loan cost a garbage
// collection before), the Node-API way still works when chosen, and a
// mapping lives exactly as long as some buffer can reach it. Each case runs in
// a child (test/fixtures/views.ts): SMSH_COUNTED_VIEWS is read once per
// process, and /proc/self/maps must hold only that process's mappings.
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";

import { collect, fixture, killStrays, track, type ChildResult, LINUX_ONLY } from "../helpers.js";

afterEach(killStrays);

/** Runs views.js MODE ARGS (under SMSH_COUNTED_VIEWS=1 if `counted`); 60 s: a loaded machine fills 300 MiB slowly. */
async function run(args: string[], counted = false): Promise<ChildResult> {
  const env = { ...process.env };
  if (counted) env.SMSH_COUNTED_VIEWS = "1";
  else delete env.SMSH_COUNTED_VIEWS;
  const r = await collect(track(spawn(process.execPath, [fixture("views"), ...args], { stdio: ["ignore", "pipe", "pipe"], env })), 60_000);
  expect(r.stderr).toBe("");
  expect(r.signal).toBe(null);
  expect(r.code).toBe(0);
  return r;
}

const lines = (r: ChildResult, key: string): string[] =>
  r.stdout
    .split("\n")
    .filter((l) => l.startsWith(`${key} `))
    .map((l) => l.slice(key.length + 1));

// Windows: views are counted there and a transfer copies them (loanTransfer() is "copy"); the fixture reads /proc/self/maps
describe.skipIf(LINUX_ONLY)("views over shared memory", () => {
  it("are uncounted on this runtime (Node 20 on Linux), counted under SMSH_COUNTED_VIEWS=1", async () => {
    expect(lines(await run(["kind"]), "kind")).toEqual(["uncounted"]);
    expect(lines(await run(["kind"], true), "kind")).toEqual(["counted"]);
  });

  for (const counted of [false, true]) {
    it(`${counted ? "counted" : "uncounted"}: loans above 64 MiB (V8's external-memory step) arrive intact; sent and released views read as length 0`, async () => {
      const r = await run(["loans", String(100 * 1024 * 1024), "3"], counted);
      expect(lines(r, "sent-length")).toEqual(["0", "0", "0"]);
      expect(lines(r, "released-length")).toEqual(["0", "0", "0"]);
      expect(lines(r, "ok")).toHaveLength(0);
      expect(r.stdout).toContain("ok\n");
    });
  }

  it("close() unmaps at once when every view was detached by it or before it", async () => {
    const r = await run(["unmap"]);
    expect(lines(r, "mapped-before")).toEqual(["yes"]);
    expect(lines(r, "live-length")).toEqual(["0"]);
    expect(lines(r, "mapped-after")).toEqual(["no"]);
  });

  it("a received loan transferred to a worker: the mapping outlives close() while the worker holds it, then goes", async () => {
    const r = await run(["transfer"]);
    expect(lines(r, "posted-length")).toEqual(["0"]); // moved, not copied: the reader's view is detached
    expect(lines(r, "mapped-while-held")).toEqual(["yes"]);
    expect(lines(r, "worker-checked")).toEqual([`${(64 * 1024 * 1024) / 4096} bad 0`]);
    expect(lines(r, "mapped-after-release")).toEqual(["no"]);
  });

  it("a received loan a worker took over by a transfer: release() gives the slot back only once the worker lets go (its bytes never change)", async () => {
    const r = await run(["away-reader"]);
    expect(lines(r, "other-loans")).toEqual(["3"]); // 4 MiB pool of 1 MiB slots: every other slot, not the held one
    expect(lines(r, "in-flight-while-held")).toEqual([String(1024 * 1024)]);
    expect(lines(r, "worker-bytes-intact")).toEqual(["yes"]);
    expect(lines(r, "in-flight-after-drop")).toEqual(["0"]);
  });

  it("detachLoan() in the worker that holds a received loan gives its slot back at once, the worker idle and alive", async () => {
    const r = await run(["away-detach"]);
    expect(lines(r, "in-flight-while-held")).toEqual([String(1024 * 1024)]);
    expect(lines(r, "worker-bytes-intact")).toEqual(["yes"]);
    expect(lines(r, "worker-length")).toEqual(["0 foreign ERR_INVALID_ARG_TYPE"]);
    expect(lines(r, "in-flight-after-drop")).toEqual(["0"]);
  });

  it("a loan a worker took over before it was sent: send is EBUSY, nothing is sent; cancelLoan() too waits: the slot returns once the worker lets go", async () => {
    const r = await run(["away-writer"]);
    expect(lines(r, "send")).toEqual(["EBUSY"]);
    expect(lines(r, "received")).toEqual(["nothing"]);
    expect(lines(r, "loaned-while-held")).toEqual([String(1024 * 1024)]); // cancelLoan() twice did not free it
    expect(lines(r, "other-intact")).toEqual(["yes"]);
    expect(lines(r, "then-received")).toEqual(["3"]);
    expect(lines(r, "loaned-after-drop")).toEqual(["0"]);
  });

  it("a ring message's buffer (the ring's own) posted to a worker is copied, never moved: the channel goes on", async () => {
    const r = await run(["ring-transfer"]);
    expect(lines(r, "after-post")).toEqual(["hello"]);
    expect(lines(r, "next")).toEqual(["world"]);
  });
});
