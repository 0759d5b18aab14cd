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
  pinned: boolean;
  loadavg: number[];
  date: string;
}

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
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}
