// `synaptic-shm bench --load`: the option, the conditions in the report, and
// that no busy-loop process outlives a run (finished, interrupted or killed).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { parseCpuList } from "../../dist/bench/busy.js";
import { USAGE, UsageError, parseOptions } from "../../dist/bench/options.js";
import { ROOT } from "../helpers.js";

const CLI = path.join(ROOT, "dist", "lib", "cli.js");
const BUSY = path.join(ROOT, "dist", "bench", "busy.js");
const TINY = ["--quick", "--transports", "tcp", "--scenarios", "rtt", "--sizes", "64", "--rounds", "200", "--no-save"];
const dir = mkdtempSync(path.join(tmpdir(), "smsh-bench-load-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pids of the busy loops started by `parent` (their command line names it). */
function busyLoopsOf(parent: number): number[] {
  const pids: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // exited meanwhile
    }
    const i = argv.indexOf("--parent");
    if (argv.includes(BUSY) && i > 0 && argv[i + 1] === String(parent)) pids.push(Number(e));
  }
  return pids;
}

/** Running (a zombie waiting to be reaped counts as gone). */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

const started: ChildProcess[] = [];
const seen = new Set<number>();
afterEach(() => {
  // A failing test must not leave its processes spinning.
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const pid of seen) if (alive(pid)) process.kill(pid, "SIGKILL");
  seen.clear();
});

interface Run {
  proc: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function bench(args: string[]): Run {
  const proc = spawn(process.execPath, [CLI, "bench", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  started.push(proc);
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Awaited<Run["done"]>>((resolve) => proc.once("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { proc, done };
}

/** Waits until the run's busy loops (`count`) spin; records them for the checks and the cleanup. */
async function busyLoopsSeen(run: Run, count: number): Promise<number[]> {
  const ok = await until(() => busyLoopsOf(run.proc.pid!).length >= count, 15_000);
  const pids = busyLoopsOf(run.proc.pid!);
  for (const p of pids) seen.add(p);
  expect(ok, `busy loops of ${run.proc.pid}: ${pids.join(",")}`).toBe(true);
  return pids;
}

describe("bench --load: options", () => {
  const parse = (...a: string[]) => parseOptions(a)!;

  it("defaults to no load; --load alone is one busy loop per core; --load N chooses", () => {
    expect(parse().load).toBe(0);
    expect(parse("--load").load).toBe(availableParallelism());
    expect(parse("--load", "--quick")).toMatchObject({ load: availableParallelism(), quick: true });
    expect(parse("--quick", "--load")).toMatchObject({ load: availableParallelism(), quick: true });
    expect(parse("--load", "1", "--quick")).toMatchObject({ load: 1, quick: true });
    expect(parse("--load", "3").load).toBe(3);
    expect(parse("--load", "0").load).toBe(0);
    expect(parse("--load=1", "--quick")).toMatchObject({ load: 1, quick: true });
  });

  it("rejects absurd counts and keeps its place on the command line", () => {
    expect(() => parse("--load", String(4 * availableParallelism() + 1))).toThrow(UsageError);
    expect(() => parse("--load", "-1")).toThrow(/unknown option "-1"/);
    expect(() => parse("--load", "two")).toThrow(/unexpected argument "two"/);
    expect(USAGE).toMatch(/--load \[N\]/);
  });

  it("reads kernel CPU lists", () => {
    expect(parseCpuList("0-1")).toEqual([0, 1]);
    expect(parseCpuList("0-2,5,7-8\n")).toEqual([0, 1, 2, 5, 7, 8]);
    expect(parseCpuList("3")).toEqual([3]);
    expect(parseCpuList("x")).toEqual([]);
  });
});

describe("bench --load: runs", () => {
  it("states the conditions and leaves no busy loop behind", async () => {
    const json = path.join(dir, "loaded.json");
    const run = bench([...TINY, "--load", "2", "--json", json]);
    const pids = await busyLoopsSeen(run, 2);
    expect(pids).toHaveLength(2);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/conditions: loaded: 2 busy loops (pinned to cores \d+,\d+|not pinned)/);
    expect(r.stdout).toMatch(/load average at start [\d.]+ [\d.]+ [\d.]+/);
    // Said plainly, at the top and the bottom: the load is deliberate.
    const notes = r.stdout.match(/^NOTE: measured under load on purpose \(--load\): 2 busy loops/gm);
    expect(notes).toHaveLength(2);
    const report = JSON.parse(readFileSync(json, "utf8")) as { machine: Record<string, unknown>; options: Record<string, unknown> };
    expect(report.machine).toMatchObject({ conditions: "loaded", busy_loops: 2 });
    expect(report.options.load).toBe(2);
    const cores = report.machine.busy_cores as number[] | null;
    if (cores !== null) expect(cores).toHaveLength(2);
    expect(report.machine.loadavg).toHaveLength(3);
    // Gone by the time the benchmark exits, not merely soon after.
    for (const pid of pids) expect(alive(pid), `busy loop ${pid}`).toBe(false);
    expect(busyLoopsOf(run.proc.pid!)).toEqual([]);
  }, 60_000);

  it("says idle without --load", async () => {
    const json = path.join(dir, "idle.json");
    const r = await bench([...TINY, "--json", json]).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/conditions: idle: no busy loops; host and peer not pinned; load average at start/);
    const report = JSON.parse(readFileSync(json, "utf8")) as { machine: Record<string, unknown> };
    expect(report.machine).toMatchObject({ conditions: "idle", busy_loops: 0, busy_cores: null });
  }, 60_000);

  it("kills the busy loops when interrupted (SIGINT) mid-row, and dies of the signal", async () => {
    const run = bench([...TINY, "--rounds", "10000000", "--load", "1"]);
    const pids = await busyLoopsSeen(run, 1);
    run.proc.kill("SIGINT");
    const r = await run.done;
    expect(r.signal).toBe("SIGINT");
    // Killed before the benchmark re-raised the signal; the kernel may take a moment to finish them.
    expect(await until(() => !pids.some(alive), 2000), `busy loops ${pids.join(",")}`).toBe(true);
  }, 60_000);

  it("a busy loop exits by itself when its parent is killed (SIGKILL)", async () => {
    // An intermediate process starts a busy loop watching it, tells its pid once it spins, and is killed.
    const script = `
      const c = require("child_process").spawn(process.execPath, [${JSON.stringify(BUSY)}, "--parent", String(process.pid)], { stdio: ["ignore", "pipe", "ignore"] });
      c.stdout.once("data", () => console.log(c.pid));
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    started.push(parent);
    const pid = await new Promise<number>((resolve) => parent.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))));
    seen.add(pid);
    expect(alive(pid)).toBe(true);
    await sleep(200);
    expect(alive(pid), "busy loop stopped spinning on its own").toBe(true);
    parent.kill("SIGKILL");
    expect(await until(() => !alive(pid), 2000), `busy loop ${pid} still alive after its parent died`).toBe(true);
  });

  it("a busy loop started by a process that is already gone exits at once", async () => {
    const r = await new Promise<number | null>((resolve) => {
      const c = spawn(process.execPath, [BUSY, "--parent", "999999999"], { stdio: "ignore" });
      started.push(c);
      c.once("exit", (code) => resolve(code));
    });
    expect(r).toBe(0);
  });
});
