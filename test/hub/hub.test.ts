// The hub and named agents (issue 14, docs/PROTOCOL.md §9), as separate
// processes: three agents on one hub, two of them on this host over a
// direct shared-memory Peer and one forced through the hub, every message
// checked both ways and counted exactly by the hub; a name claimed twice.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { hub, join, type Hub } from "../../dist/lib/index.js";
import { ReportedCounts, RouteTable } from "../../dist/lib/hub/stats.js";
import { streamBytes } from "../fixtures/hub-traffic.js";
import { collect, killStrays, spawnFixture, waitForLine } from "../helpers.js";

// Generous: three Node processes starting at once on a loaded 2-core machine.
const SLOW_MS = 60_000;

let dir = "";
let h: Hub | null = null;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "hub-test-"));
  // No periodic report within a test: the direct pairs' figures come from each agent's last report, when it leaves.
  h = await hub(process.platform === "win32" ? "tcp://127.0.0.1:0" : `ipc://${path.join(dir, "hub.sock")}`, { statsIntervalMs: 600_000 });
});

afterEach(async () => {
  killStrays();
  await h?.close();
  h = null;
  rmSync(dir, { recursive: true, force: true });
});

describe("three agents on one hub", () => {
  it("local pairs talk over shared memory, the forced-remote agent through the hub; every message checked; the hub counts them exactly", async () => {
    const N = 40;
    const names = ["claude", "gemini", "planner"];
    const joined: string[] = [];
    h!.on("join", (e: { name: string }) => joined.push(e.name));
    const kids = names.map((name) =>
      spawnFixture("hub-agent", ["traffic", h!.endpoint, name, name === "planner" ? "zmq" : "auto", String(N), names.filter((x) => x !== name).join(",")]),
    );
    const results = await Promise.all(kids.map((k) => collect(k, SLOW_MS * 2)));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const transport = (i: number, peer: string): string => results[i]!.stdout.match(new RegExp(`^transport ${peer} (\\S+)$`, "m"))?.[1] ?? "none";
    expect(transport(0, "gemini")).toBe("shm");
    expect(transport(1, "claude")).toBe("shm");
    expect(transport(0, "planner")).toBe("hub");
    expect(transport(1, "planner")).toBe("hub");
    expect(transport(2, "claude")).toBe("hub");
    expect(transport(2, "gemini")).toBe("hub");
    for (const r of results) expect(r.stdout).toMatch(/^closed$/m);
    expect(joined.sort()).toEqual([...names].sort());
    expect(h!.agents).toEqual([]);
    // Every agent closed after its last report: the direct pairs' figures are final.
    const bytes = streamBytes(N);
    const routes = h!.stats().routes.map(({ from, to, path, messages, bytes }) => ({ from, to, path, messages, bytes }));
    const want = [
      { from: "claude", to: "gemini", path: "direct" },
      { from: "claude", to: "planner", path: "hub" },
      { from: "gemini", to: "claude", path: "direct" },
      { from: "gemini", to: "planner", path: "hub" },
      { from: "planner", to: "claude", path: "hub" },
      { from: "planner", to: "gemini", path: "hub" },
    ].map((r) => ({ ...r, messages: N + 1, bytes }));
    expect(routes).toEqual(want);
  });
});

describe("names are claims", () => {
  it("a second live agent with a name is refused (ENAMETAKEN), in this process and from another; the name is free again once its holder left", async () => {
    const a = await join(h!.endpoint, { name: "claude" });
    try {
      await expect(join(h!.endpoint, { name: "claude" })).rejects.toMatchObject({ code: "ENAMETAKEN" });
      const other = await collect(spawnFixture("hub-agent", ["claim", h!.endpoint, "claude"]), SLOW_MS);
      expect(other.stdout, other.stderr).toMatch(/^error ENAMETAKEN$/m);
      expect(h!.agents.map((e) => e.name)).toEqual(["claude"]);
      expect(h!.agents[0]!.pid).toBe(process.pid);
    } finally {
      await a.close();
    }
    const again = await collect(spawnFixture("hub-agent", ["claim", h!.endpoint, "claude"]), SLOW_MS);
    expect(again.stdout, again.stderr).toMatch(/^joined$/m);
  });
});

describe("routing statistics", () => {
  it("a direct route counts the growth between an agent's cumulative reports, never a report twice, never a count that went down", () => {
    const table = new RouteTable();
    const reports = new ReportedCounts();
    reports.apply(table, "claude", [{ to: "gemini", messages: 10, bytes: 640 }]);
    reports.apply(table, "claude", [{ to: "gemini", messages: 10, bytes: 640 }]);
    reports.apply(table, "claude", [{ to: "gemini", messages: 15, bytes: 960 }]);
    reports.apply(table, "claude", [{ to: "gemini", messages: 3, bytes: 9 }]); // nonsense: ignored
    table.add("claude", "planner", "hub", 1, 64);
    expect(table.list().map(({ from, to, path, messages, bytes }) => ({ from, to, path, messages, bytes }))).toEqual([
      { from: "claude", to: "gemini", path: "direct", messages: 15, bytes: 960 },
      { from: "claude", to: "planner", path: "hub", messages: 1, bytes: 64 },
    ]);
  });
});
