// The life of a segment: who removes it and when, what a crash leaves and how
// sweep finds it, dead peers noticed in time, and the operator's CLI. All
// sweeping tests live in this one file so they never run concurrently with
// each other.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { Channel, Segment, inspectSegment as inspect, layout, randomName, sweep } from "../../dist/lib/index.js";
import { native } from "../../dist/lib/core/native.js";
import { ROOT, collect, fixture, killStrays, sleep, spawnFixture, track, waitForLine } from "../helpers.js";

const binding = native();

const shm = (name: string): string => `/dev/shm/${name}`;

// A failing test must not leave its processes (and their segments) behind.
afterEach(killStrays);
afterAll(() => sweep());
const CLI = path.join(ROOT, "dist", "lib", "cli.js");

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
}

/** Spawns a lifecycle fixture (stdin piped, for "go") and waits for a line matching `re`. */
async function started(args: string[], re = /^ready/): Promise<ChildProcess> {
  const child = track(spawn(process.execPath, [fixture("lifecycle"), ...args], { stdio: ["pipe", "pipe", "pipe"] }));
  await waitForLine(child, re);
  return child;
}

/** Resolves with the wall-clock ms between `t0` and the child's "CODE <ms-timestamp>" line. */
async function errorAfter(child: ChildProcess, t0: number): Promise<{ code: string; ms: number }> {
  const line = await waitForLine(child, /^E[A-Z]+ \d+$/, 5000);
  const [code, at] = line.split(" ");
  return { code: code!, ms: Number(at) - t0 };
}

/** Kills `victim` with SIGKILL once `watcher` is blocked; `watcher` must report EPEERDEAD within 700 ms:
 * idle it takes a few ms (pidfd) to ~100 ms (blocking waits); the 1 s re-check of a watched wait is what a
 * broken pidfd watch would fall back to, and 700 ms leaves room for a loaded machine below that. */
async function killAndExpectPeerDead(victim: ChildProcess, watcher: ChildProcess): Promise<void> {
  await sleep(150);
  const t0 = Date.now();
  victim.kill("SIGKILL");
  const r = await errorAfter(watcher, t0);
  expect(r.code).toBe("EPEERDEAD");
  expect(r.ms).toBeLessThan(700);
}

describe("normal cleanup by the owner", () => {
  const cases: [string, string | null, { code: number | null; signal: string | null }][] = [
    ["exit", null, { code: 0, signal: null }],
    ["exit-code", null, { code: 3, signal: null }],
    ["throw", null, { code: 1, signal: null }],
    ["wait", "SIGINT", { code: null, signal: "SIGINT" }],
    ["wait", "SIGTERM", { code: null, signal: "SIGTERM" }],
    ["wait", "SIGHUP", { code: null, signal: "SIGHUP" }],
  ];
  it.each(cases)("an owner ending by %s %s removes its segment and ends as it would have without us", async (how, signal, expected) => {
    const name = randomName();
    const child = await started(["own", name, how]);
    expect(existsSync(shm(name))).toBe(true);
    // The child ends only when told to (signal, or "go" on stdin): it cannot
    // clean up before the check above, however loaded the machine is.
    if (signal) child.kill(signal as NodeJS.Signals);
    else child.stdin!.write("go\n");
    const end = await exited(child);
    expect(end).toEqual(expected);
    expect(existsSync(shm(name))).toBe(false);
  });

  it("a user's own SIGINT handler runs and decides: the process stays, and keeps its segment", async () => {
    const name = randomName();
    const child = await started(["own-handler", name, "stay"]);
    child.kill("SIGINT");
    await waitForLine(child, /^user handler/);
    await sleep(200);
    expect(child.exitCode).toBe(null);
    expect(existsSync(shm(name))).toBe(true); // still in use: not ours to remove
    child.kill("SIGTERM"); // no user handler for this one: default action, and cleanup
    expect(await exited(child)).toEqual({ code: null, signal: "SIGTERM" });
    expect(existsSync(shm(name))).toBe(false);
  });

  it("a user's SIGINT handler that exits gets its exit code, and the segment is removed", async () => {
    const name = randomName();
    const child = await started(["own-handler", name, "exit"]);
    child.kill("SIGINT");
    expect(await exited(child)).toEqual({ code: 42, signal: null });
    expect(existsSync(shm(name))).toBe(false);
  });
});

describe("dead peers", () => {
  it.each(["async", "sync"])("a reader blocked in %s receive gets EPEERDEAD within 700 ms of kill -9 of the writer; sweep then removes the segment", async (mode) => {
    const name = randomName();
    const writer = await started(["writer", name]);
    const reader = await started(["reader", name, mode], /^waiting/);
    await killAndExpectPeerDead(writer, reader);
    await exited(reader);
    expect(existsSync(shm(name))).toBe(true); // a crash cannot clean up after itself
    expect(sweep().map((e) => e.name)).toContain(name);
    expect(existsSync(shm(name))).toBe(false);
  });

  it("a writer blocked in send() gets EPEERDEAD within 700 ms of kill -9 of the reader, and removes its segment", async () => {
    const name = randomName();
    const writer = await started(["writer", name, "fill"]);
    const reader = await started(["idle-reader", name], /^attached/);
    await killAndExpectPeerDead(reader, writer);
    expect((await exited(writer)).code).toBe(0);
    expect(existsSync(shm(name))).toBe(false);
  });

  it("a writer blocked in sendSync() gets EPEERDEAD within 700 ms of kill -9 of the reader", async () => {
    const name = randomName();
    const writer = track(spawn(process.execPath, [fixture("lifecycle"), "writer-sync", name], { stdio: ["pipe", "pipe", "pipe"] }));
    await waitForLine(writer, /^ready/);
    const reader = await started(["idle-reader", name], /^attached/);
    writer.stdin!.write("go\n");
    await waitForLine(writer, /^blocking/);
    await killAndExpectPeerDead(reader, writer);
    await exited(writer);
    expect(existsSync(shm(name))).toBe(false);
  });

  it("a dead reader's place can be taken by a new reader, a live one's cannot (EBUSY)", async () => {
    const tx = Channel.create({ capacity: 4096 });
    try {
      const reader = await started(["idle-reader", tx.name], /^attached/);
      expect(() => Channel.attach(tx.name)).toThrow(expect.objectContaining({ code: "EBUSY" }));
      reader.kill("SIGKILL");
      await exited(reader);
      const rx = Channel.attach(tx.name);
      tx.trySend(Buffer.from("hi"));
      expect(Buffer.from(rx.tryRecv()!).toString()).toBe("hi");
      rx.close();
    } finally {
      tx.close();
    }
  });
});

describe("liveness", () => {
  /** A segment whose header says: no locks, owner = this pid with the given start time. */
  function forged(startTime: number): { seg: Segment; name: string } {
    const name = `smshtest-${randomBytes(6).toString("hex")}`;
    const seg = Segment.create({ name, size: 4096 });
    const v = new DataView(seg.buffer);
    v.setUint32(layout.OFFSETS.flags, 0, true); // an owner without liveness locks
    v.setUint32(layout.OFFSETS.owner_pid, process.pid, true);
    v.setBigUint64(layout.OFFSETS.owner_start_time, BigInt(startTime), true);
    return { seg, name };
  }

  it("treats a header whose pid is alive but whose start time differs as dead (pid reuse)", () => {
    const reused = forged(binding.selfStartTime + 1);
    const same = forged(binding.selfStartTime);
    try {
      expect(inspect(reused.name)!.owner).toMatchObject({ pid: process.pid, alive: false });
      expect(inspect(same.name)!.owner).toMatchObject({ pid: process.pid, alive: true });
      const doomed = sweep({ dryRun: true }).map((e) => e.name);
      expect(doomed).toContain(reused.name);
      expect(doomed).not.toContain(same.name);
    } finally {
      reused.seg.close();
      same.seg.close();
    }
  });

  it("sees a writer in another PID namespace as alive, and as dead once killed there", async () => {
    const name = randomName();
    let writer: ChildProcess;
    try {
      execFileSync("unshare", ["--pid", "--fork", "true"], { stdio: "ignore" });
    } catch {
      console.warn("skipping: cannot create a PID namespace here (needs root and unshare)");
      return;
    }
    writer = track(
      spawn("unshare", ["--pid", "--fork", "--kill-child", process.execPath, fixture("lifecycle"), "writer", name], {
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    await waitForLine(writer, /^ready/);
    const status = inspect(name)!;
    expect(status.owner.pid).not.toBe(writer.pid); // the pid it has in its own namespace
    expect(status.owner.alive).toBe(true);
    const reader = await started(["reader", name, "async"], /^waiting/);
    await killAndExpectPeerDead(writer, reader); // unshare dies; --kill-child kills the writer in the namespace
    expect(inspect(name)!.owner.alive).toBe(false);
    expect(sweep().map((e) => e.name)).toContain(name);
    expect(existsSync(shm(name))).toBe(false);
  });
});

/** A segment as `synaptic-shm ls --json` lists it (the fields these tests look at). */
interface Listed {
  name: string;
  kind: string;
  token: string;
  owner: { pid: number; alive: boolean };
  slab: { index: number; ringToken: string; ring: string | null } | null;
}

async function listed(): Promise<Listed[]> {
  const r = await cli(["ls", "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Listed[];
}

/**
 * A writer with loans out (test/fixtures/loan-writer.ts: two sent, one not,
 * in three slabs), its ring's token and its slabs' names as ls lists them.
 */
async function loanWriter(name: string): Promise<{ child: ChildProcess; token: string; slabs: string[] }> {
  const child = spawnFixture("loan-writer", [name]);
  const stats = JSON.parse((await waitForLine(child, /^ready /)).slice("ready ".length)) as { slabs: number };
  const all = await listed();
  const token = all.find((s) => s.name === name)!.token;
  const slabs = all.filter((s) => s.slab?.ringToken === token);
  expect(slabs).toHaveLength(stats.slabs);
  expect(stats.slabs).toBeGreaterThan(1);
  for (const s of slabs) expect(s).toMatchObject({ kind: "pool", owner: { pid: child.pid, alive: true }, slab: { ring: name } });
  return { child, token, slabs: slabs.map((s) => s.name) };
}

const re = (name: string): string => name.replace(/\./g, "\\.");

describe("sweep", () => {
  it("sweep({ names }) removes only the named dead segments, and takes /dev/shm/NAME too", async () => {
    const [a, b] = [randomName(), randomName()];
    for (const n of [a, b]) {
      const owner = await started(["own", n, "wait"]);
      owner.kill("SIGKILL");
      await exited(owner);
    }
    const live = Segment.create({ size: 4096 });
    try {
      expect(sweep({ names: [a, live.name, "smsh-missing-name"], dryRun: true }).map((e) => e.name)).toEqual([a]);
      expect(existsSync(shm(a))).toBe(true);
      expect(sweep({ names: [shm(a), live.name] }).map((e) => e.name)).toEqual([a]);
      expect(existsSync(shm(a))).toBe(false);
      expect(existsSync(shm(b))).toBe(true); // not named: left for its own sweep
      expect(existsSync(shm(live.name))).toBe(true);
      expect(() => sweep({ names: ["../etc/passwd"] })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_VALUE" }));
      expect(() => sweep({ names: "x" as unknown as string[] })).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_TYPE" }));
      expect(sweep({ names: [b] }).map((e) => e.name)).toEqual([b]);
    } finally {
      live.close();
    }
  });

  it("synaptic-shm sweep NAME removes only that dead segment; a path outside /dev/shm is a usage error", async () => {
    const [a, b] = [randomName(), randomName()];
    for (const n of [a, b]) {
      const owner = await started(["own", n, "wait"]);
      owner.kill("SIGKILL");
      await exited(owner);
    }
    const dry = await cli(["sweep", a, "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ dryRun: true, wouldRemove: [expect.objectContaining({ name: a, kind: "segment" })] });
    const real = await cli(["sweep", "--json", shm(a)]);
    expect(real.code, real.stderr).toBe(0);
    expect(JSON.parse(real.stdout)).toEqual({ dryRun: false, removed: [expect.objectContaining({ name: a, kind: "segment" })] });
    expect(existsSync(shm(a))).toBe(false);
    expect(existsSync(shm(b))).toBe(true);
    const bad = await cli(["sweep", "/etc/passwd"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not in \/dev\/shm/);
    expect(sweep({ names: [b] }).map((e) => e.name)).toEqual([b]);
  });

  it("synaptic-shm sweep NAME of a kill -9'd writer's ring removes its loan pool slabs too; ls shows nothing of it after", async () => {
    const name = randomName();
    const { child, token, slabs } = await loanWriter(name);
    child.kill("SIGKILL");
    await exited(child);
    try {
      for (const n of [name, ...slabs]) expect(existsSync(shm(n)), n).toBe(true); // a crash cannot clean up
      const dead = (await listed()).filter((s) => s.slab?.ringToken === token);
      expect(dead.map((s) => [s.name, s.kind, s.owner.alive]).sort()).toEqual(slabs.map((n) => [n, "pool", false]).sort());
      const table = (await cli(["ls", "--all"])).stdout;
      expect(table).toMatch(new RegExp(`^${name}\\s+ring\\s+${child.pid} dead\\s`, "m"));
      for (const n of slabs) expect(table).toMatch(new RegExp(`^  ${re(n)}\\s+pool\\s+${child.pid} dead\\s`, "m"));

      // A dry run by the ring's name lists the ring and its slabs, and removes nothing.
      const dry = await cli(["sweep", "--dry-run", "--json", name]);
      expect(dry.code, dry.stderr).toBe(0);
      expect((JSON.parse(dry.stdout) as { wouldRemove: { name: string }[] }).wouldRemove.map((e) => e.name).sort()).toEqual([name, ...slabs].sort());
      for (const n of [name, ...slabs]) expect(existsSync(shm(n)), n).toBe(true);

      const r = await cli(["sweep", name]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^removed ${name}: owner pid ${child.pid} is dead$`, "m"));
      for (const n of slabs) expect(r.stdout).toMatch(new RegExp(`^removed ${re(n)}: owner pid ${child.pid} is dead \\(slab \\d+ of ${name}'s loan pool\\)$`, "m"));
      expect(r.stdout).toMatch(new RegExp(`^${slabs.length + 1} segments removed$`, "m"));
      for (const n of [name, ...slabs]) expect(existsSync(shm(n)), n).toBe(false);
      expect((await listed()).filter((s) => s.name === name || s.token === token || s.slab?.ringToken === token)).toEqual([]);
      const after = (await cli(["ls", "--all"])).stdout;
      for (const n of [name, ...slabs]) expect(after).not.toContain(n);
    } finally {
      sweep({ names: [name, ...slabs] });
    }
  });

  it("synaptic-shm sweep removes a kill -9'd writer's loan pool slabs with its ring, never a live writer's", async () => {
    const deadName = randomName();
    const liveName = randomName();
    const dead = await loanWriter(deadName);
    const live = await loanWriter(liveName);
    try {
      dead.child.kill("SIGKILL");
      await exited(dead.child);
      for (const n of [deadName, ...dead.slabs]) expect(existsSync(shm(n)), n).toBe(true);

      const dry = await cli(["sweep", "--dry-run"]);
      expect(dry.code, dry.stderr).toBe(0);
      for (const n of dead.slabs) expect(dry.stdout).toMatch(new RegExp(`^would remove ${re(n)}: owner pid ${dead.child.pid} is dead \\(slab \\d+ of ${deadName}'s loan pool\\)$`, "m"));
      for (const n of [liveName, ...live.slabs]) expect(dry.stdout).not.toContain(n);

      const r = await cli(["sweep", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const removed = (JSON.parse(r.stdout) as { removed: { name: string; kind: string }[] }).removed.map((e) => e.name);
      for (const n of [deadName, ...dead.slabs]) {
        expect(removed).toContain(n);
        expect(existsSync(shm(n)), n).toBe(false);
      }
      for (const n of [liveName, ...live.slabs]) {
        expect(removed).not.toContain(n);
        expect(existsSync(shm(n)), n).toBe(true);
      }
      const after = await listed();
      expect(after.filter((s) => s.name === deadName || s.slab?.ringToken === dead.token)).toEqual([]);
      expect(after.filter((s) => s.slab?.ringToken === live.token).map((s) => [s.name, s.kind]).sort()).toEqual(live.slabs.map((n) => [n, "pool"]).sort());
      const table = (await cli(["ls", "--all"])).stdout;
      for (const n of [deadName, ...dead.slabs]) expect(table).not.toContain(n);
      for (const n of live.slabs) expect(table).toMatch(new RegExp(`^  ${re(n)}\\s+pool\\s+${live.child.pid} alive\\s`, "m"));
    } finally {
      live.child.kill("SIGTERM"); // its own cleanup removes its ring and slabs
      await exited(live.child);
      sweep({ names: [deadName, ...dead.slabs] });
    }
    for (const n of [liveName, ...live.slabs]) expect(existsSync(shm(n)), n).toBe(false);
  });

  it("leaves alone live segments, other users' segments and files it did not make", async () => {
    const live = Segment.create({ size: 4096 });
    const foreignName = `smsh-${"x".repeat(16)}`;
    const otherFile = `notours-${randomBytes(4).toString("hex")}`;
    writeFileSync(shm(foreignName), randomBytes(8192));
    writeFileSync(shm(otherFile), "hello");
    const theirs = randomName();
    const owner = await started(["own", theirs, "wait"]);
    owner.kill("SIGKILL");
    await exited(owner);
    try {
      chownSync(shm(theirs), 65534, 65534); // now another user's dead segment
      const dry = sweep({ dryRun: true }).map((e) => e.name);
      expect(dry).not.toContain(live.name);
      expect(dry).not.toContain(theirs);
      expect(dry).not.toContain(foreignName);
      sweep();
      for (const n of [live.name, theirs, foreignName, otherFile]) expect(existsSync(shm(n))).toBe(true);
      chownSync(shm(theirs), process.getuid!(), process.getgid!()); // ours again: now it goes
      expect(sweep().map((e) => e.name)).toContain(theirs);
      expect(existsSync(shm(theirs))).toBe(false);
    } finally {
      live.close();
      for (const n of [foreignName, otherFile, theirs]) rmSync(shm(n), { force: true });
    }
  });
});

describe("opportunistic sweep", () => {
  it("opening a channel removes segments whose owner died", async () => {
    const dead = randomName();
    const owner = await started(["own", dead, "wait"]);
    owner.kill("SIGKILL");
    await exited(owner);
    expect(existsSync(shm(dead))).toBe(true);
    // A process with automatic sweeping on (the default outside the tests).
    const env = { ...process.env };
    delete env.SYNAPTIC_SHM_NO_AUTOSWEEP;
    const name = randomName();
    const writer = track(spawn(process.execPath, [fixture("lifecycle"), "writer", name], { stdio: ["ignore", "pipe", "pipe"], env }));
    await waitForLine(writer, /^ready/);
    expect(existsSync(shm(dead))).toBe(false);
    writer.kill("SIGTERM");
    await exited(writer);
    expect(existsSync(shm(name))).toBe(false);
  });
});

describe("synaptic-shm CLI", () => {
  it("ls, stat and sweep describe a live channel and a dead one; --json parses", async () => {
    const name = randomName();
    const writer = await started(["writer", name]);
    const rx = Channel.attach(name);
    try {
      let r = await cli(["ls"]);
      expect(r.code).toBe(0);
      const line = r.stdout.split("\n").find((l) => l.startsWith(name))!;
      expect(line).toMatch(new RegExp(`ring\\s+${writer.pid} alive\\s+${process.pid} alive\\s+4 KiB`));
      r = await cli(["ls", "--json"]);
      const listed = (JSON.parse(r.stdout) as { name: string; owner: { alive: boolean } }[]).find((s) => s.name === name)!;
      expect(listed.owner.alive).toBe(true);
      r = await cli(["stat", name, "--json"]);
      expect(JSON.parse(r.stdout)).toMatchObject({ name, kind: "ring", capacity: 4096, writerState: "open", readerState: "open" });
      r = await cli(["stat", name]);
      expect(r.stdout).toMatch(/owner\s+pid \d+, started \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d \(.+ ago\), alive/);

      writer.kill("SIGKILL");
      await exited(writer);
      r = await cli(["ls"]);
      expect(r.stdout.split("\n").find((l) => l.startsWith(name))).toMatch(new RegExp(`${writer.pid} dead`));
      r = await cli(["sweep", "--dry-run"]);
      expect(r.stdout).toMatch(new RegExp(`would remove ${name}: owner pid ${writer.pid} is dead`));
      expect(existsSync(shm(name))).toBe(true);
      r = await cli(["sweep", "--dry-run", "--json"]);
      const dry = JSON.parse(r.stdout) as { dryRun: boolean; wouldRemove: { name: string }[]; removed?: unknown };
      expect(dry.dryRun).toBe(true);
      expect(dry.removed).toBeUndefined();
      expect(dry.wouldRemove.map((x) => x.name)).toContain(name);
      expect(existsSync(shm(name))).toBe(true);
      r = await cli(["sweep", "--json"]);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { removed: { name: string }[] }).removed.map((x) => x.name)).toContain(name);
      expect(existsSync(shm(name))).toBe(false);
      r = await cli(["stat", name]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/ENOENT/);
    } finally {
      rx.close();
    }
  });

  it("answers --help for each command and exits 2 on bad usage", async () => {
    for (const cmd of ["ls", "stat", "sweep", "bench"]) {
      const r = await cli([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`usage: synaptic-shm ${cmd}`));
    }
    expect((await cli([])).code).toBe(2);
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["ls", "--bogus"])).code).toBe(2);
    expect((await cli(["stat"])).code).toBe(2);
  });
});

describe("crash loop", () => {
  /** One round: a writer and a reader on a fresh channel, one of them killed at a random moment. */
  async function round(i: number): Promise<string> {
    const name = randomName();
    const writer = spawnFixture("lifecycle", ["stream-writer", name]);
    const reader = spawnFixture("lifecycle", ["stream-reader", name]);
    const wDone = collect(writer, 10_000);
    const rDone = collect(reader, 10_000);
    await sleep(Math.floor(Math.random() * 300));
    const [victim, survivor] = Math.random() < 0.5 ? [writer, rDone] : [reader, wDone];
    victim.kill("SIGKILL");
    const s = await survivor;
    // The survivor ends by itself: EPEERDEAD, end of stream, or a peer that never showed up.
    expect(s.signal, `round ${i}: ${s.stdout} ${s.stderr}`).toBe(null);
    expect(s.code, `round ${i}: ${s.stdout} ${s.stderr}`).toBe(0);
    await Promise.all([wDone, rDone]);
    return name;
  }

  it("100 writer/reader pairs with one killed at a random moment: no survivor hangs, sweep leaves /dev/shm clean", async () => {
    const names: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      names.push(...(await Promise.all([0, 1, 2, 3, 4].map((k) => round(batch * 5 + k)))));
    }
    await sleep(1100); // an interrupted creation counts as abandoned after 1 s
    sweep();
    for (const n of names) expect(existsSync(shm(n)), n).toBe(false);
  }, 300_000);
});
