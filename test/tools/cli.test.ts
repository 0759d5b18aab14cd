// synaptic-shm's command line against live segments owned by other
// processes: stat by name and by its /dev/shm path, human times, the JSON
// keys of a dry run, and usage errors (exit 2) from the one argument parser.
// Real sweeps live in lifecycle.test.ts (they must not run beside other
// tests); here sweep only runs with --dry-run.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

import { Channel, listen, randomName } from "../../dist/lib/index.js";
import { labelRing } from "../../dist/lib/peer/handshake.js";
import { ROOT, fixture, killStrays, track, waitForLine } from "../helpers.js";

const CLI = path.join(ROOT, "dist", "lib", "cli.js");

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A process that owns a ring `name` (the lifecycle fixture's writer), once it is ready. */
async function owner(name: string): Promise<ChildProcess> {
  const child = track(spawn(process.execPath, [fixture("lifecycle"), "writer", name], { stdio: ["pipe", "pipe", "pipe"] }));
  await waitForLine(child, /^ready/);
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}

afterEach(killStrays);

/** "2026-11-23T12:09:25+00:00": a local ISO date with its offset. */
const LOCAL_DATE = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d/;

describe("synaptic-shm ls", () => {
  it("tells a reader that closed its end (closed) from one that went away without closing (dead)", async () => {
    const name = randomName();
    const writer = await owner(name);
    try {
      const rx = Channel.attach(name);
      rx.close(); // this process lives on: its reader side is closed, not dead
      const r = await cli(["ls"]);
      expect(r.code, r.stderr).toBe(0);
      const row = r.stdout.split("\n").find((l) => l.startsWith(name));
      expect(row).toMatch(new RegExp(`${writer.pid} alive\\s+${process.pid} closed\\s`));
      const st = await cli(["stat", name]);
      expect(st.stdout).toMatch(new RegExp(`^reader\\s+pid ${process.pid}, started .*, closed$`, "m"));
    } finally {
      writer.kill("SIGTERM");
      await exited(writer);
    }
  });
});

describe("synaptic-shm ls: peers", () => {
  it("shows which connection each of a Peer's rings carries (PEER), in ls, ls --json and stat; a label's control characters are not printed", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "smsh-cli-peer-"));
    const ep = `ipc://${path.join(dir, "p.sock")}`;
    const server = await listen(ep, { name: "planner" });
    const agent = track(spawn(process.execPath, [fixture("peer-agent"), "hold", ep], { stdio: ["ignore", "pipe", "pipe"] }));
    const odd = Channel.create({ capacity: 4096 });
    try {
      await waitForLine(agent, /^transport shm/, 30_000);
      labelRing(odd, "evil \u001b[2J label");
      const r = await cli(["ls"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split("\n")[0]).toMatch(/\sAGE\s+PEER$/);
      const json = JSON.parse((await cli(["ls", "--json"])).stdout) as { name: string; peer: string | null; owner: { pid: number } }[];
      const mine = json.find((x) => x.peer === `planner -> agent via ${ep}`);
      const theirs = json.find((x) => x.peer === `agent -> planner via ${ep}`);
      expect(mine?.owner.pid).toBe(process.pid);
      expect(theirs?.owner.pid).toBe(agent.pid);
      expect(r.stdout).toMatch(new RegExp(`^${theirs!.name}\\s.*\\sagent -> planner via ipc://`, "m"));
      expect(json.find((x) => x.name === odd.name)?.peer).toBe("evil ?[2J label");
      expect((await cli(["stat", mine!.name])).stdout).toMatch(/^peer\s+planner -> agent via ipc:\/\/.*\(a Peer's ring: its writer -> its reader\)$/m);
    } finally {
      odd.close();
      agent.kill("SIGKILL");
      await exited(agent); // dead before the server closes: its ring is then swept with its peer
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("synaptic-shm stat", () => {
  it("takes a segment's name or its /dev/shm path, and shows start times as dates and ages", async () => {
    const name = randomName();
    const writer = await owner(name);
    const rx = Channel.attach(name);
    try {
      const byName = await cli(["stat", name]);
      const byPath = await cli(["stat", `/dev/shm/${name}`]);
      expect(byName.code, byName.stderr).toBe(0);
      expect(byPath.code, byPath.stderr).toBe(0);
      expect(byPath.stdout).toMatch(new RegExp(`^name\\s+${name}$`, "m"));
      for (const out of [byName.stdout, byPath.stdout]) {
        expect(out).not.toMatch(/tick/);
        expect(out).toMatch(new RegExp(`^owner\\s+pid ${writer.pid}, started ${LOCAL_DATE.source} \\((\\d+(\\.\\d)? s|\\d+ ms) ago\\), alive$`, "m"));
        expect(out).toMatch(new RegExp(`^reader\\s+pid ${process.pid}, started ${LOCAL_DATE.source} \\(.+ ago\\), alive$`, "m"));
        expect(out).toMatch(new RegExp(`^created\\s+${LOCAL_DATE.source} \\(.+ ago\\)$`, "m"));
      }
      // The owner's start date is right: it started moments ago, after this test began.
      const json = JSON.parse((await cli(["stat", `/dev/shm/${name}`, "--json"])).stdout) as { owner: { pid: number; startedAt: string; startTime: number } };
      expect(json.owner.pid).toBe(writer.pid);
      const age = Date.now() - Date.parse(json.owner.startedAt);
      expect(age).toBeGreaterThan(-2000);
      expect(age).toBeLessThan(60_000);
      // Relative paths that land in /dev/shm count as the path.
      const rel = await new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(process.execPath, [CLI, "stat", `./${name}`], { cwd: "/dev/shm" }, (err, stdout) => resolve({ code: err ? 1 : 0, stdout })),
      );
      expect(rel.code).toBe(0);
      expect(rel.stdout).toContain(name);
    } finally {
      rx.close();
      writer.kill("SIGTERM");
      await exited(writer);
    }
  });

  it("rejects other paths and impossible names clearly, with exit 2", async () => {
    for (const arg of ["/tmp/smsh-aaaaaaaaaaaaaaaa", "/dev/shm/.smsh-0/sock", "dev/shm/smsh-aaaaaaaaaaaaaaaa", "/dev/shm/"]) {
      const r = await cli(["stat", arg]);
      expect(r.code, arg).toBe(2);
      expect(r.stderr, arg).toMatch(/is not in \/dev\/shm: give a segment's name \(smsh-\.\.\.\) or its path \/dev\/shm\/NAME/);
    }
    // A name this package could never have made is a usage error too, for stat and sweep.
    for (const args of [["stat", "a b"], ["stat", "/dev/shm/sem.x"], ["sweep", "--dry-run", "sem.x"], ["sweep", "--dry-run", "--", "-x"]]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/cannot be a segment's name/);
    }
    const missing = await cli(["stat", "/dev/shm/smsh-aaaaaaaaaaaaaaaa"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ENOENT/);
  });

  it("ls shows ages in human units", async () => {
    const name = randomName();
    const writer = await owner(name);
    try {
      const r = await cli(["ls"]);
      const line = r.stdout.split("\n").find((l) => l.startsWith(name));
      expect(line).toMatch(/\s(\d+ ms|\d+(\.\d)? s)\s+-$/); // AGE, then PEER: none for a plain channel
    } finally {
      writer.kill("SIGTERM");
      await exited(writer);
    }
  });
});

describe("synaptic-shm sweep --dry-run --json", () => {
  it('lists what it would remove under "wouldRemove", never "removed"', async () => {
    const name = randomName();
    const writer = await owner(name);
    writer.kill("SIGKILL"); // dies with its segment in place
    await exited(writer);
    try {
      const r = await cli(["sweep", "--dry-run", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(out.dryRun).toBe(true);
      expect(out).not.toHaveProperty("removed");
      expect(Array.isArray(out.wouldRemove)).toBe(true);
      const names = (out.wouldRemove as { name: string; kind: string; reason: string }[]).map((x) => x.name);
      // Unless a real sweep elsewhere took it meanwhile, the dead segment is listed and still there.
      if (existsSync(`/dev/shm/${name}`)) expect(names).toContain(name);
    } finally {
      rmSync(`/dev/shm/${name}`, { force: true });
    }
  });
});

describe("synaptic-shm usage", () => {
  it("takes --opt=value and --opt value alike; mistakes exit 2 with a message", async () => {
    expect((await cli(["sweep", "--dry-run", "--json"])).code).toBe(0);
    const cases: [string[], RegExp][] = [
      [["ls", "--bogus"], /unknown option "--bogus"/],
      [["ls", "--json=yes"], /--json takes no value/],
      [["ls", "extra"], /unexpected argument "extra"/],
      [["stat"], /stat takes one segment name/],
      [["stat", "a", "b"], /unexpected argument "b"/],
      [["sweep", "-x"], /unknown option "-x"/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(re);
      expect(r.stderr, args.join(" ")).toMatch(/usage: synaptic-shm/);
    }
    const help = await cli(["stat", "-h"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/synaptic-shm stat \/dev\/shm\/NAME/);
  });

  it("bench takes --opt=value too", async () => {
    const r = await cli(["bench", "--rounds=5", "--sizes=64", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage: synaptic-shm bench/);
    const bad = await cli(["bench", "--rounds=five"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--rounds five: needs a whole number/);
    const missing = await cli(["bench", "--rounds"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--rounds needs a value/);
  });
});
