// What the benchmark ran on, recorded with every result.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as os from "node:os";

export interface Machine {
  cpu: string;
  cores: number;
  memory_gb: number;
  kernel: string;
  platform: string;
  node: string;
  package_version: string;
  /** The host and peer processes were pinned to different cores (--pin). */
  pinned: boolean;
  /** "loaded": busy loops ran beside every row (--load); "idle": none were added (other programs may still run: see loadavg). */
  conditions: "idle" | "loaded";
  /** Busy-loop processes (--load); 0 when idle. */
  busy_loops: number;
  /** The core each busy loop was pinned to (taskset); null when idle or not pinned. */
  busy_cores: number[] | null;
  /** The share of its core each busy loop got, on average (0..1; the rest went to the benchmark and other programs); null when idle or unknown. */
  busy_cpu_share: number | null;
  /** Load average (1, 5, 15 min) at the start, before any busy loop. */
  loadavg: number[];
  /** Load average after the last row (busy loops still running). */
  loadavg_end?: number[];
  /** Share of CPU time (0..1, all cores) taken by the hypervisor (steal) in a short window before the first row; null where /proc/stat has no figure. */
  cpu_steal: number | null;
  /** Share of CPU time (0..1, all cores) busy in that window: other programs, since the benchmark itself sleeps then. */
  cpu_busy: number | null;
  /** Steal over the whole run, first row to last. */
  cpu_steal_run?: number | null;
  /** What made the figures less reliable (a busy machine, steal, --load): the warnings printed at the top and the bottom. */
  warnings?: string[];
  date: string;
}

export const loadavg = (): number[] => os.loadavg().map((x) => Math.round(x * 100) / 100);

/** Whether `taskset` can pin processes to cores here. */
export function canPin(): boolean {
  if (os.cpus().length < 2) return false;
  try {
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Jiffies from the "cpu" line of /proc/stat: all, idle (idle + iowait), steal. */
export interface CpuTimes {
  total: number;
  idle: number;
  steal: number;
}

export function cpuTimes(): CpuTimes | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    return { total: f.slice(0, 8).reduce((a, b) => a + b, 0), idle: f[3]! + f[4]!, steal: f[7]! };
  } catch {
    return null;
  }
}

/** Steal and busy shares between two readings; null if unknown or too few ticks to tell. */
export function cpuShares(a: CpuTimes | null, b: CpuTimes | null): { steal: number; busy: number } | null {
  if (!a || !b) return null;
  const total = b.total - a.total;
  if (total < 20) return null;
  const round = (x: number): number => Math.round(Math.min(1, Math.max(0, x)) * 1000) / 1000;
  return { steal: round((b.steal - a.steal) / total), busy: round((total - (b.idle - a.idle) - (b.steal - a.steal)) / total) };
}

export function describeMachine(pinned: boolean): Machine {
  const cpus = os.cpus();
  let version = "unknown";
  try {
    version = (require("../../package.json") as { version: string }).version;
  } catch {
    /* running from an unusual layout */
  }
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    package_version: version,
    pinned,
    conditions: "idle",
    busy_loops: 0,
    busy_cores: null,
    busy_cpu_share: null,
    loadavg: loadavg(),
    cpu_steal: null,
    cpu_busy: null,
    date: new Date().toISOString(),
  };
}
