// When the figures may not hold: a busy machine (load average above half a
// core's worth per core, or CPU time stolen by the hypervisor) or a load
// added on purpose (--load). The text is printed at the top and the bottom of
// the results and recorded in the report (machine.warnings).
import type { Machine } from "../machine.js";

/** Load average per core above which the machine counts as busy. */
export const BUSY_LOAD_PER_CORE = 0.5;
/** Share of CPU time stolen by the hypervisor above which the figures are suspect. */
export const BUSY_STEAL = 0.03;

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

const CLEAN =
  "For clean figures: stop other work, wait until `uptime` shows a load average below " +
  `${BUSY_LOAD_PER_CORE} per core, run on cores nobody else uses (a bare-metal machine or a VM without steal), and consider --pin.`;

/** The reasons the figures of this run may be unreliable; empty when the machine was idle. */
export function machineWarnings(m: Machine): string[] {
  const out: string[] = [];
  const load1 = m.loadavg[0] ?? 0;
  const perCore = load1 / Math.max(1, m.cores);
  const busy: string[] = [];
  if (perCore > BUSY_LOAD_PER_CORE) {
    busy.push(`load average ${load1.toFixed(2)} over the last minute on ${m.cores} core${m.cores === 1 ? "" : "s"} (${perCore.toFixed(2)} per core; idle is below ${BUSY_LOAD_PER_CORE})`);
  }
  if (m.cpu_steal !== null && m.cpu_steal > BUSY_STEAL) {
    busy.push(`the hypervisor took ${pct(m.cpu_steal)} of the CPU time just before the first row (steal: other virtual machines on the same host)`);
  }
  if (busy.length > 0) {
    let now = m.cpu_busy !== null ? ` Just before the first row the CPUs were ${pct(m.cpu_busy)} busy with other work.` : "";
    if (m.cpu_busy !== null && m.cpu_busy < 0.1 && perCore > BUSY_LOAD_PER_CORE) {
      now += " The load average lags by minutes: it may still count work that just ended (a build, an earlier run).";
    }
    out.push(
      `WARNING: this machine was busy when the benchmark started: ${busy.join("; ")}.${now} ` +
        `Other work competes with the benchmark for the CPU, so these figures may be unreliable: slower and more variable ` +
        `than on an idle machine, latency most of all. ${CLEAN}`,
    );
  }
  if (typeof m.cpu_steal_run === "number" && m.cpu_steal_run > BUSY_STEAL) {
    out.push(
      `WARNING: the hypervisor took ${pct(m.cpu_steal_run)} of the CPU time during the run (steal): this virtual machine ` +
        `shares its physical cores, and the figures may be unreliable. ${CLEAN}`,
    );
  }
  if (m.busy_loops > 0) {
    const where = m.busy_cores ? `pinned to core${m.busy_cores.length === 1 ? "" : "s"} ${m.busy_cores.join(",")}` : "not pinned";
    out.push(
      `NOTE: measured under load on purpose (--load): ${m.busy_loops} busy loop${m.busy_loops === 1 ? "" : "s"} (${where}) ` +
        `competed with the benchmark for the CPU from the first row to the last. These figures show a loaded machine, ` +
        `not the transports at their best; run without --load for idle figures.`,
    );
  }
  return out;
}

/** Wraps text to `width` columns: the first line starts with `first`, the others with `indent`. */
export function wrap(text: string, width = 100, indent = "", first = ""): string {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(/\s+/)) {
    if (!word) continue;
    const fresh = line === first || line === indent;
    if (!fresh && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else line = fresh ? line + word : `${line} ${word}`;
  }
  if (line.trim()) lines.push(line);
  return lines.join("\n");
}
