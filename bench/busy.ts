// Busy loops: processes that each keep one core busy, to measure (or test) on
// a loaded machine. `synaptic-shm bench --load` starts them through
// startBusyLoops(); scripts/test-loaded.sh (npm run test:loaded) runs this
// file directly, one process per core:
//
//   taskset -c CORE node dist/bench/busy.js [--parent PID]
//
// A busy loop spins in user space until it is killed, or until its parent is
// gone: it checks every 50 ms that its parent process is still PID and exits
// when it has been re-parented. So a busy loop never outlives whoever started
// it, even one killed with SIGKILL. Pass --parent: without it the loop
// watches the parent it finds when it starts, which is already the wrong one
// if its parent died while node was starting.
// It installs no signal handlers: SIGINT (Ctrl-C), SIGTERM and SIGHUP end it.
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readFileSync, writeSync } from "node:fs";
import * as os from "node:os";

const CHECK_MS = 50;

/** This process's parent pid, read afresh from the kernel each time. */
function ppid(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]); // field 4
  } catch {
    return process.ppid;
  }
}

/** The busy loop itself: never returns. Writes "ready\n" to stdout once it spins. */
function spin(parent: number): never {
  if (ppid() !== parent) process.exit(0);
  try {
    writeSync(1, "ready\n");
  } catch {
    /* stdout closed or ignored: nobody waits for it */
  }
  let x = 0;
  for (;;) {
    const until = Date.now() + CHECK_MS;
    while (Date.now() < until) x = (x + 1) | 0;
    if (ppid() !== parent) process.exit(0); // parent gone: we were re-parented
  }
}

/** Expands a kernel CPU list ("0-3,6") into core numbers. */
export function parseCpuList(list: string): number[] {
  const cores: number[] = [];
  for (const part of list.trim().split(",")) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return [];
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) cores.push(c);
  }
  return cores;
}

/** The cores this process may run on (its affinity), in order. */
export function allowedCores(): number[] {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync("/proc/self/status", "utf8"));
    const cores = m ? parseCpuList(m[1]!) : [];
    if (cores.length) return cores;
  } catch {
    /* no /proc: fall through */
  }
  return Array.from({ length: os.availableParallelism() }, (_, i) => i);
}

/** Whether `taskset` exists and can pin a process to `core`. */
export function hasTaskset(core = 0): boolean {
  try {
    execFileSync("taskset", ["-c", String(core), "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export interface BusyLoops {
  /** Process ids of the running loops, in start order. */
  readonly pids: number[];
  /** The core each loop is pinned to (round robin over the allowed cores), or null: not pinned (no taskset). */
  readonly cores: number[] | null;
  /**
   * The share of a core each loop actually got since it started, on average
   * (0..1; from /proc/PID/stat), or null where /proc cannot tell. Below 1
   * means the loops yielded CPU to other processes (the benchmark's).
   */
  cpuShare(): number | null;
  /** Kills every loop (SIGKILL) and resolves when all have exited. Safe twice. */
  stop(): Promise<void>;
  /** Kills every loop without waiting: for exit and signal handlers. */
  killNow(): void;
}

const BUSY = __filename;
const CLK_TCK = 100; // USER_HZ: the unit of /proc/PID/stat times on every Linux architecture we run on

/** User+system CPU seconds of a process, from /proc; null when unreadable. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
    const ticks = Number(f[11]) + Number(f[12]); // utime (14), stime (15)
    return Number.isFinite(ticks) ? ticks / CLK_TCK : null;
  } catch {
    return null;
  }
}

/**
 * Starts `count` busy loops, pinned one per core with taskset when it exists,
 * and resolves once every one of them spins. They watch this process and
 * exit by themselves if it dies; stop() (or killNow()) ends them before that.
 */
export async function startBusyLoops(count: number): Promise<BusyLoops> {
  const allowed = allowedCores();
  const pin = hasTaskset(allowed[0]);
  const cores = pin ? Array.from({ length: count }, (_, i) => allowed[i % allowed.length]!) : null;
  const procs: ChildProcess[] = [];
  const exited: Promise<void>[] = [];
  const started: number[] = []; // performance.now() when each loop began to spin
  const killNow = (): void => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  };
  const stop = async (): Promise<void> => {
    for (const p of procs) p.ref(); // keep the event loop alive until they are reaped
    killNow();
    await Promise.all(exited);
  };
  try {
    for (let i = 0; i < count; i++) {
      const args = [BUSY, "--parent", String(process.pid)];
      const opts: SpawnOptions = { stdio: ["ignore", "pipe", "inherit"] };
      const p: ChildProcess = cores ? spawn("taskset", ["-c", String(cores[i]), process.execPath, ...args], opts) : spawn(process.execPath, args, opts);
      procs.push(p);
      // A process that could not be spawned emits "error" and maybe no "exit".
      exited.push(new Promise((resolve) => (p.once("exit", () => resolve()), p.once("error", () => p.pid === undefined && resolve()))));
    }
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            let out = "";
            const timer = setTimeout(() => reject(new Error("busy loop did not start within 10 s")), 10_000);
            const fail = (why: string): void => {
              clearTimeout(timer);
              reject(new Error(`busy loop ${why}`));
            };
            p.once("error", (e) => fail(`could not start: ${e.message}`));
            const early = (code: number | null, sig: NodeJS.Signals | null): void => fail(`exited (${sig ?? code}) before it started`);
            p.once("exit", early);
            p.stdout!.on("data", (d: Buffer) => {
              out += d.toString();
              if (!out.includes("ready\n")) return;
              clearTimeout(timer);
              started[procs.indexOf(p)] = performance.now();
              p.removeListener("exit", early);
              p.stdout!.destroy();
              p.unref(); // a forgotten loop must not keep us alive (it dies with us)
              resolve();
            });
          }),
      ),
    );
  } catch (e) {
    await stop();
    throw e;
  }
  const cpuShare = (): number | null => {
    let sum = 0;
    for (const [i, p] of procs.entries()) {
      const cpu = cpuSeconds(p.pid!);
      const wall = (performance.now() - started[i]!) / 1000;
      if (cpu === null || wall < 0.5) return null; // too short to tell at 10 ms ticks
      sum += Math.min(1, cpu / wall);
    }
    return procs.length ? sum / procs.length : null;
  };
  return { pids: procs.map((p) => p.pid!), cores, cpuShare, stop, killNow };
}

if (require.main === module) {
  const i = process.argv.indexOf("--parent");
  const parent = i > 0 ? Number(process.argv[i + 1]) : ppid();
  if (!Number.isInteger(parent) || parent < 1) {
    console.error("usage: node busy.js [--parent PID]");
    process.exit(2);
  }
  spin(parent);
}
