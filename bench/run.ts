// The benchmark orchestrator: for every scenario, size and transport it starts
// a fresh host and peer process (pinned to different cores with --pin),
// connects them, collects their figures and operating-system costs, and
// reports a table (ratios to TCP), JSON and Markdown. With --load, busy loops
// (busy.ts) keep every core busy from before the first row to after the last.
//   node dist/bench/run.js --help        (or: npx synaptic-shm bench --help)
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { startBusyLoops, type BusyLoops } from "./busy.js";
import type { ChildStart } from "./child.js";
import { canPin, describeMachine, loadavg, type Machine } from "./machine.js";
import { USAGE, UsageError, formatSize, parseOptions, type Options } from "./options.js";
import { printTables, writeJson, writeMarkdown } from "./report.js";
import type { Job, Scenario } from "./scenarios.js";
import { makeTransport, unavailable } from "./transports/index.js";

export interface Row {
  transport: string;
  mode: string | null;
  scenario: Scenario;
  size: number;
  p50_us?: number;
  p99_us?: number;
  p999_us?: number;
  msgs_per_s?: number;
  mb_per_s?: number;
  ms?: number;
  cpu_us_per_msg?: number;
  rss_mb?: number;
  rss_mb_host?: number;
  rss_mb_peer?: number;
  /** bulk: how the bytes moved ("copy-in" through the ring; "loan" to come). */
  method?: string;
  /** Messages (or transfers) the figures are based on. */
  count?: number;
  /** The row did not produce figures: why (lost or reordered message, timeout, ...). */
  error?: string;
  skipped?: boolean;
}

export interface Report {
  version: 1;
  machine: Machine;
  options: { quick: boolean; full: boolean; cork: boolean; spin: string; load: number; rounds: number; messages: number; iterations: number };
  results: Row[];
}

interface ChildMsg {
  type: "offer" | "answer" | "progress" | "result" | "error";
  offer?: string;
  answer?: string;
  done?: number;
  total?: number;
  message?: string;
  cpuUs?: number;
  maxRssKb?: number;
  p50_us?: number;
  p99_us?: number;
  p999_us?: number;
  ms?: number;
  elapsedMs?: number;
}

const CHILD = path.join(__dirname, "child.js");

/** Running row processes, killed if the orchestrator is stopped by a signal. */
const live = new Set<ChildProcess>();

/** A child process with a queue of its IPC messages. */
class Child {
  readonly proc: ChildProcess;
  readonly #queue: ChildMsg[] = [];
  readonly #waiters: ((m: ChildMsg) => void)[] = [];
  readonly exited: Promise<number | null>;
  stderr = "";

  constructor(cpu: number | null, onProgress: (m: ChildMsg) => void) {
    const cmd = cpu === null ? process.execPath : "taskset";
    const args = cpu === null ? [CHILD] : ["-c", String(cpu), process.execPath, CHILD];
    this.proc = spawn(cmd, args, { stdio: ["ignore", "inherit", "pipe", "ipc"] });
    live.add(this.proc);
    this.proc.once("exit", () => live.delete(this.proc));
    this.proc.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) => this.proc.once("exit", (code) => r(code)));
    this.proc.on("message", (m: ChildMsg) => {
      if (m.type === "progress") return onProgress(m);
      const w = this.#waiters.shift();
      if (w) w(m);
      else this.#queue.push(m);
    });
  }

  send(m: object): void {
    this.proc.send(m);
  }

  /** The next message; rejects if the child exits first. */
  next(): Promise<ChildMsg> {
    const q = this.#queue.shift();
    if (q) return Promise.resolve(q);
    return Promise.race([
      new Promise<ChildMsg>((r) => this.#waiters.push(r)),
      this.exited.then((code) => {
        const q2 = this.#queue.shift();
        if (q2) return q2;
        throw new Error(`process exited (${code}) ${this.stderr.trim().split("\n").slice(-3).join(" | ")}`.trim());
      }),
    ]);
  }

  async expect(type: ChildMsg["type"]): Promise<ChildMsg> {
    const m = await this.next();
    if (m.type === "error") throw new Error(m.message);
    if (m.type !== type) throw new Error(`expected ${type}, got ${m.type}`);
    return m;
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
  }
}

class ProgressLine {
  readonly #tty = process.stderr.isTTY === true;
  readonly #t0 = Date.now();
  #label = "";
  #rowFraction = 0;
  done = 0;
  total = 1;

  row(label: string): void {
    this.#label = label;
    this.#rowFraction = 0;
    this.draw();
  }

  within(fraction: number): void {
    this.#rowFraction = fraction;
    this.draw();
  }

  draw(): void {
    if (!this.#tty) return;
    const pct = Math.floor(((this.done + this.#rowFraction) / this.total) * 100);
    const secs = ((Date.now() - this.#t0) / 1000).toFixed(1);
    process.stderr.write(`\r\x1b[K${String(pct).padStart(3)}%  ${secs.padStart(6)} s  ${this.#label}`);
  }

  clear(): void {
    if (this.#tty) process.stderr.write("\r\x1b[K");
  }
}

function jobFor(o: Options, transport: string, scenario: Scenario, size: number): Job {
  const streamCount = Math.max(1000, Math.min(o.messages, Math.floor((256 << 20) / size)));
  switch (scenario) {
    case "rtt":
      return { scenario, transport, size, count: o.rounds, warmup: Math.ceil(o.rounds / 10), cork: o.cork, spin: String(o.spin) };
    case "stream":
      return { scenario, transport, size, count: streamCount, warmup: 0, cork: o.cork, spin: String(o.spin) };
    case "bulk":
      return { scenario, transport, size, count: o.iterations, warmup: 1, cork: o.cork, spin: String(o.spin) };
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

const mb = (kb: number | undefined): number => Math.round(((kb ?? 0) / 1024) * 10) / 10;

async function runRow(o: Options, job: Job, progress: ProgressLine, pinned: boolean): Promise<Row> {
  const t = job.transport === "memcpy" ? null : makeTransport(job.transport, job.cork, job.spin);
  const row: Row = {
    transport: t?.transport ?? "memcpy",
    mode: t?.mode ?? null,
    scenario: job.scenario,
    size: job.size,
    count: job.count,
  };
  if (job.scenario === "bulk") row.method = job.transport === "memcpy" ? "memcpy" : t?.transport === "shm" ? "copy-in" : "send";
  const why = job.transport === "memcpy" ? null : unavailable(job.transport);
  if (why) return { ...row, skipped: true, error: why };
  const onProgress = (m: ChildMsg): void => progress.within((m.done ?? 0) / (m.total ?? 1));
  const children: Child[] = [];
  const segments: string[] = []; // shm offers/answers are segment names
  let ok = false;
  try {
    if (job.transport === "memcpy") {
      const solo = new Child(pinned ? 0 : null, onProgress);
      children.push(solo);
      solo.send({ job, role: "memcpy" } satisfies ChildStart);
      const r = await withTimeout(solo.expect("result"), o.rowTimeoutMs, "row");
      return { ...row, ms: r.ms, rss_mb: mb(r.maxRssKb) };
    }
    const host = new Child(pinned ? 0 : null, onProgress);
    children.push(host);
    host.send({ job, role: "host" } satisfies ChildStart);
    const run = async (): Promise<Row> => {
      const { offer } = await host.expect("offer");
      if (row.transport === "shm") segments.push(offer!);
      const peer = new Child(pinned ? 1 : null, onProgress);
      children.push(peer);
      peer.send({ job, role: "peer", offer } satisfies ChildStart);
      const { answer } = await peer.expect("answer");
      if (row.transport === "shm") segments.push(answer!);
      host.send({ answer });
      const [h, p] = await Promise.all([host.expect("result"), peer.expect("result")]);
      peer.send({ close: true }); // the host has received everything: the peer may close
      const messages = job.count + job.warmup; // round trips, messages or transfers
      const out: Row = {
        ...row,
        cpu_us_per_msg: ((h.cpuUs ?? 0) + (p.cpuUs ?? 0)) / messages,
        rss_mb_host: mb(h.maxRssKb),
        rss_mb_peer: mb(p.maxRssKb),
        rss_mb: Math.max(mb(h.maxRssKb), mb(p.maxRssKb)),
      };
      if (job.scenario === "rtt") Object.assign(out, { p50_us: h.p50_us, p99_us: h.p99_us, p999_us: h.p999_us });
      if (job.scenario === "stream") {
        const rate = job.count / ((p.elapsedMs ?? NaN) / 1000);
        Object.assign(out, { msgs_per_s: rate, mb_per_s: (rate * job.size) / 1e6 });
      }
      if (job.scenario === "bulk") Object.assign(out, { ms: h.ms, mb_per_s: job.size / 1e6 / ((h.ms ?? NaN) / 1000) });
      return out;
    };
    const out = await withTimeout(run(), o.rowTimeoutMs, "row");
    ok = true;
    return out;
  } catch (e) {
    return { ...row, error: (e as Error).message };
  } finally {
    // Children that reported exit by themselves (closing their channels);
    // a failed row's children may be stuck and are killed at once.
    if (ok) await Promise.race([Promise.all(children.map((c) => c.exited)), sleep(5000)]);
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.exited));
    // A killed child cannot unlink its ring: remove what it left.
    for (const name of segments) if (/^smsh-[a-z2-7]{16}$/.test(name)) rmSync(`/dev/shm/${name}`, { force: true });
  }
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Until the returned function is called: on SIGINT, SIGTERM or SIGHUP (and on
 * exit) kill the busy loops and the row processes, then die of the signal as
 * we would have without the handler.
 */
function killOnStop(busy: () => BusyLoops | null): () => void {
  const killAll = (): void => {
    busy()?.killNow();
    for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
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

/** Runs the benchmark; returns the report. */
export async function runBench(o: Options): Promise<Report> {
  const pinned = o.pin && canPin();
  if (o.pin && !pinned) console.error("bench: --pin ignored (needs taskset and two cores)");
  const machine = describeMachine(pinned); // load average before our busy loops
  const plan: Job[] = [];
  for (const scenario of o.scenarios) {
    for (const size of o.sizes[scenario]) {
      if (scenario === "bulk") plan.push(jobFor(o, "memcpy", scenario, size));
      for (const t of o.transports) plan.push(jobFor(o, t, scenario, size));
    }
  }
  const progress = new ProgressLine();
  progress.total = plan.length;
  const results: Row[] = [];
  let busy: BusyLoops | null = null;
  const removeHandlers = killOnStop(() => busy);
  try {
    if (o.load > 0) {
      busy = await startBusyLoops(o.load);
      if (!busy.cores) console.error("bench: taskset not found: the busy loops (--load) are not pinned to cores");
      Object.assign(machine, { conditions: "loaded", busy_loops: busy.pids.length, busy_cores: busy.cores });
    }
    for (const job of plan) {
      progress.row(`${job.scenario} ${formatSize(job.size)} ${job.transport}`);
      results.push(await runRow(o, job, progress, pinned));
      progress.done++;
    }
    machine.loadavg_end = loadavg();
    if (busy) {
      const share = busy.cpuShare();
      machine.busy_cpu_share = share === null ? null : Math.round(share * 100) / 100;
    }
  } finally {
    progress.clear();
    await busy?.stop();
    removeHandlers();
  }
  return {
    version: 1,
    machine,
    options: { quick: o.quick, full: o.full, cork: o.cork, spin: String(o.spin), load: o.load, rounds: o.rounds, messages: o.messages, iterations: o.iterations },
    results,
  };
}

/** CLI entry: returns the process exit code (0 ok, 1 a row failed, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  let o: Options | null;
  try {
    o = parseOptions(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bench: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (o === null) {
    console.log(USAGE);
    return 0;
  }
  const report = await runBench(o);
  printTables(report);
  if (o.json) writeJson(o.json, report);
  if (o.markdown) writeMarkdown(o.markdown, report);
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
