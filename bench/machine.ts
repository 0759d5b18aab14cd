// What the benchmark ran on, recorded with every result.
import { execFileSync } from "node:child_process";
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
    date: new Date().toISOString(),
  };
}
