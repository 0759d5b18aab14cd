// A process's start time as a date. The kernel gives it (in /proc/PID/stat,
// and so in a segment's header: ProcessInfo.startTime) as clock ticks since
// boot; the boot time is "btime" in /proc/stat (seconds since the epoch), and
// a tick is 1/CLK_TCK s (`getconf CLK_TCK`: 100 on every Linux we know).
// A process in another time namespace counts from its own boot time: its
// date may then be off by that namespace's offset. On Windows the start time
// is already a date: microseconds since the epoch (csrc/core/proc.h).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let cached: { bootMs: number; tickMs: number } | null | undefined;

function clock(): { bootMs: number; tickMs: number } | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    if (!m) return cached;
    let hz = 100;
    try {
      const out = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
      if (Number.isInteger(out) && out > 0) hz = out;
    } catch {
      /* no getconf: Linux's USER_HZ is 100 */
    }
    cached = { bootMs: Number(m[1]) * 1000, tickMs: 1000 / hz };
  } catch {
    /* not Linux */
  }
  return cached;
}

/** The wall-clock time a process started, from its start time in ticks since boot; null if unknown. */
export function startDate(ticks: number): Date | null {
  if (process.platform === "win32") return ticks > 0 ? new Date(ticks / 1000) : null;
  const c = clock();
  if (c === null || !(ticks > 0)) return null;
  return new Date(c.bootMs + ticks * c.tickMs);
}
