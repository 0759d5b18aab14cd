// The benchmark orchestrator: for every scenario, size and transport it runs
// a row (row.ts: fresh processes, pinned to different cores with --pin),
// shows progress from the start (progress.ts), and reports tables with a
// legend, ratios to TCP and conclusions (report/), warnings when the machine
// is busy, and saves JSON and Markdown to bench-results/. With --load, busy
// loops (busy.ts) keep every core busy from before the first row to after
// the last.
//   node dist/bench/run.js --help        (or: npx synaptic-shm bench --help)
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { formatDuration, formatLocalTime } from "../lib/util/format.js";
import { startBusyLoops, type BusyLoops } from "./busy.js";
import { canPin, cpuShares, cpuTimes, describeMachine, loadavg } from "./machine.js";
import { USAGE, UsageError, parseOptions, type Options } from "./options.js";
import { Progress } from "./progress.js";
import { writeJson, writeMarkdown } from "./report/markdown.js";
import { printReport } from "./report/terminal.js";
import { machineWarnings, wrap } from "./report/warnings.js";
import type { Report, Row } from "./results.js";
import { jobFor, live, runRow } from "./row.js";
import { runScratch } from "./scratch.js";
import type { Job } from "./scenarios.js";
import { runsIn } from "./transports/index.js";

export type { Report, Row };

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Until the returned function is called: on SIGINT, SIGTERM or SIGHUP (and on
 * exit) kill the busy loops and the row processes, then die of the signal as
 * we would have without the handler.
 */
function killOnStop(busy: () => BusyLoops | null, removeScratch: () => void): () => void {
  const killAll = (): void => {
    busy()?.killNow();
    for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    removeScratch();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    killAll();
    remove();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  const remove = (): void => {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.removeListener("exit", killAll);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on("exit", killAll);
  return remove;
}

/** Every row of the run, in order: scenario, size, then transport (memcpy first in bulk and pointcloud). */
export function planOf(o: Options): Job[] {
  const plan: Job[] = [];
  for (const scenario of o.scenarios) {
    const transports = o.transports.filter((t) => runsIn(t, scenario));
    if (transports.length === 0) continue;
    for (const size of o.sizes[scenario]) {
      if (scenario === "bulk" || scenario === "pointcloud") plan.push(jobFor(o, "memcpy", scenario, size));
      for (const t of transports) plan.push(jobFor(o, t, scenario, size));
    }
  }
  return plan;
}

/** How long the machine is watched (CPU steal and busy shares) before the first row. */
const SAMPLE_MS = 500;

/** Runs the benchmark; returns the report. */
export async function runBench(o: Options, progress?: Progress): Promise<Report> {
  const t0 = Date.now();
  const plan = planOf(o);
  progress ??= new Progress(plan);
  const pinned = o.pin && canPin();
  if (o.pin && !pinned) progress.note("bench: --pin ignored (needs taskset and two cores)");
  const machine = describeMachine(pinned); // load average before our busy loops
  const before = cpuTimes();
  await sleep(SAMPLE_MS);
  const atStart = cpuTimes();
  const shares = cpuShares(before, atStart);
  machine.cpu_steal = shares?.steal ?? null;
  machine.cpu_busy = shares?.busy ?? null;
  for (const w of machineWarnings(machine)) progress.note(wrap(w, 100, "  "));
  const results: Row[] = [];
  let busy: BusyLoops | null = null;
  const removeScratch = runScratch();
  const removeHandlers = killOnStop(() => busy, removeScratch);
  try {
    if (o.load > 0) {
      progress.note(`bench: starting ${o.load} busy loop${o.load === 1 ? "" : "s"} (--load: the machine is loaded on purpose)`);
      busy = await startBusyLoops(o.load);
      if (!busy.cores) progress.note("bench: taskset not found: the busy loops (--load) are not pinned to cores");
      Object.assign(machine, { conditions: "loaded", busy_loops: busy.pids.length, busy_cores: busy.cores });
    }
    for (const [i, job] of plan.entries()) {
      progress.start(i, job);
      const started = Date.now();
      const row = await runRow(o, job, (f) => progress.within(f), pinned);
      row.wall_s = Math.round((Date.now() - started) / 10) / 100;
      progress.finish(row);
      results.push(row);
    }
    machine.loadavg_end = loadavg();
    machine.cpu_steal_run = cpuShares(atStart, cpuTimes())?.steal ?? null;
    if (busy) {
      const share = busy.cpuShare();
      machine.busy_cpu_share = share === null ? null : Math.round(share * 100) / 100;
    }
  } finally {
    await busy?.stop();
    removeHandlers();
    removeScratch();
  }
  machine.warnings = machineWarnings(machine);
  return {
    version: 1,
    machine,
    options: {
      quick: o.quick,
      full: o.full,
      cork: o.cork,
      spin: String(o.spin),
      load: o.load,
      rounds: o.rounds,
      messages: o.messages,
      iterations: o.iterations,
      transfers: o.transfers,
    },
    results,
    duration_s: Math.round((Date.now() - t0) / 100) / 10,
  };
}

/** bench-results/2026-11-22T14-03-05 (local time), relative to the current directory. */
export function defaultStem(date: Date): string {
  return path.join("bench-results", formatLocalTime(date).slice(0, 19).replace(/:/g, "-"));
}

/** CLI entry: returns the process exit code (0 ok, 1 a row failed, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  let o: Options | null;
  try {
    o = parseOptions(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`synaptic-shm bench: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (o === null) {
    console.log(USAGE);
    return 0;
  }
  const plan = planOf(o);
  if (plan.length === 0) {
    console.error(`synaptic-shm bench: no rows: ${o.transports.join(", ")} run in none of ${o.scenarios.join(", ")} (shm-loan and shm-copy run in pointcloud only)\n\n${USAGE}`);
    return 2;
  }
  const progress = new Progress(plan);
  progress.note(
    `synaptic-shm bench: ${plan.length} row${plan.length === 1 ? "" : "s"} (${o.scenarios.join(", ")}; ` +
      `${o.transports.length} transport${o.transports.length === 1 ? "" : "s"}), ` +
      `about ${formatDuration(progress.estimateLeftMs() + SAMPLE_MS)}${o.quick ? " (--quick)" : ""}. Checking that the machine is idle first...`,
  );
  const report = await runBench(o, progress);
  printReport(report);
  const saved: string[] = [];
  if (o.save) {
    const stem = defaultStem(new Date(report.machine.date));
    mkdirSync(path.dirname(stem), { recursive: true });
    writeJson(`${stem}.json`, report);
    writeMarkdown(`${stem}.md`, report);
    saved.push(`${stem}.json`, `${stem}.md`);
  }
  if (o.json) {
    writeJson(o.json, report);
    saved.push(o.json);
  }
  if (o.markdown) {
    writeMarkdown(o.markdown, report);
    saved.push(o.markdown);
  }
  const took = `Took ${formatDuration((report.duration_s ?? 0) * 1000)}.`;
  console.log(saved.length ? `${took} Results saved to ${saved.join(", ")}${o.save ? " (--no-save to skip)" : ""}.` : `${took} Results not saved (--no-save).`);
  return report.results.some((r) => r.error && !r.skipped) ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
