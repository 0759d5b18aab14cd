// The lines that say what a run was measured on and under which conditions.
import type { Report } from "../results.js";

export function machineLine(report: Report): string {
  const m = report.machine;
  return `${m.cpu}, ${m.cores} cores, ${m.memory_gb} GiB, ${m.kernel}, Node ${m.node}`;
}

/** Loaded or idle, pinned or not, load average: what the figures were measured under. */
export function conditionsLine(report: Report): string {
  const m = report.machine;
  const loops = m.busy_loops ?? 0; // reports written before --load existed lack the field
  const load =
    loops > 0
      ? `loaded: ${loops} busy loop${loops === 1 ? "" : "s"} ${m.busy_cores ? `pinned to core${m.busy_cores.length === 1 ? "" : "s"} ${m.busy_cores.join(",")}` : "not pinned (no taskset)"}`
      : "idle: no busy loops";
  const share = loops > 0 && typeof m.busy_cpu_share === "number" ? ` (each got ${Math.round(m.busy_cpu_share * 100)}% of a core)` : "";
  const avg = m.loadavg.map((x) => x.toFixed(2)).join(" ");
  return `${load}${share}; host and peer ${m.pinned ? "pinned to cores 0 and 1" : "not pinned"}; load average at start ${avg}`;
}
