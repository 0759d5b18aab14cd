// Progress on stderr from the first second: what runs now, how far the run
// is, and about how long is left. Every row prints its start; on a terminal
// the line then counts up (percent of the row) and ends with the row's
// figure and duration; elsewhere (a pipe, a log) the line is finished when
// the row is.
//   [ 3/53, 12 s in, about 1 min 40 s left] rtt 64 B tcp: p50 70.1 µs (1.2 s)
import { formatDuration, formatNumber } from "../lib/util/format.js";
import { sizeLabel, type Row } from "./results.js";
import type { Job } from "./scenarios.js";

/** Rough wall time of a row on a 2-core VM (ms), before any row has run; the run corrects it by what it measures. */
export function estimateMs(job: Job): number {
  const t = job.transport;
  const n = job.count + job.warmup;
  const kib = job.size / 1024;
  const shm = t.startsWith("shm-");
  const zmq = t.startsWith("zmq-");
  if (t === "memcpy") return 250 + (n * job.size) / 4e6 + job.size / 1e6;
  const start = t === "worker-port" ? 350 : 450; // two node processes (one and a thread) started and connected
  if (job.scenario === "connect") {
    // A listener process; a connect and echo each (a Peer's handshake makes and maps two rings); peers: restarts.
    const each = t === "tcp" ? 0.3 : t === "zmq-ipc" ? 1 : 4;
    return 300 + n * each + (t.startsWith("peer-") ? Math.max(3, Math.round(job.count / 5)) * 250 : 0);
  }
  if (t === "disruptor" && job.scenario === "rtt") return start + (n * (3 + kib * 0.15)) / 1000;
  if (t === "disruptor" && job.scenario === "stream") return start + (n * (0.3 + kib * 0.2)) / 1000;
  if (job.scenario === "rtt") {
    const us = shm ? (t === "shm-spin" ? 4 : 12) + kib * 0.15 : t === "worker-port" ? 45 + kib * 0.3 : (zmq ? 110 : t === "child-ipc" ? 80 : 75) + kib * 2;
    return start + (n * us) / 1000;
  }
  if (job.scenario === "stream" || job.scenario === "stream-batch") {
    const us = shm ? 0.35 + kib * 0.25 : zmq ? 4.5 + kib * 3 : t === "worker-port" ? 2.5 + kib * 1 : t === "child-ipc" ? 4 + kib * 2 : 0.8 + kib * 1.5;
    return start + (n * us) / 1000;
  }
  if (job.scenario === "pointcloud") {
    // Loans: a fill and a read of one byte per page and two wakeups; memory made and prefaulted once on each side.
    if (t === "shm-loan") return start + job.size / 1e6 + n * (0.2 + job.size / 4e7);
    const cloudMbPerS = t === "shm-copy" ? 5000 : zmq ? 1000 : 1500;
    return start + job.size / 1e6 + (n * job.size) / 1e3 / cloudMbPerS;
  }
  const mbPerS = shm ? 4000 : t === "child-ipc" ? 150 : zmq ? 1000 : t === "worker-port" ? 800 : 1500;
  return start + job.size / 2e6 + (n * job.size) / 1e3 / mbPerS;
}

/** The figure a finished row is summed up by. */
export function rowSummary(r: Row): string {
  if (r.skipped) return `skipped: ${r.error}`;
  if (r.error) return `FAILED: ${r.error}`;
  if (r.scenario === "rtt") return `p50 ${formatNumber(r.p50_us)} µs`;
  if (r.scenario === "connect") return `p50 ${formatNumber(r.p50_us)} µs${r.reconnect_ms !== undefined ? `, reconnect ${formatNumber(r.reconnect_ms)} ms` : ""}`;
  if (r.scenario === "stream" || r.scenario === "stream-batch") return `${formatNumber(r.msgs_per_s)} msgs/s`;
  if (r.scenario === "pointcloud" && r.handoff_p50_us !== undefined) return `handoff ${formatNumber(r.handoff_p50_us)} µs, full ${formatNumber(r.ms)} ms`;
  return `${formatNumber(r.ms)} ms`;
}

export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #t0 = Date.now();
  readonly #estimates: number[];
  #index = -1;
  #rowStart = 0;
  #head = "";
  /** Measured wall time of the rows done so far, and what they were estimated at. */
  #doneMs = 0;
  #doneEstimate = 0;

  constructor(jobs: Job[], out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#estimates = jobs.map(estimateMs);
  }

  /** The whole run's estimated wall time (ms), corrected by the rows measured so far. */
  estimateLeftMs(): number {
    const left = this.#estimates.slice(this.#index < 0 ? 0 : this.#index).reduce((a, b) => a + b, 0);
    const scale = this.#doneEstimate > 0 ? Math.min(4, Math.max(0.4, this.#doneMs / this.#doneEstimate)) : 1;
    return left * scale;
  }

  /** A line of its own (a note, a warning), not disturbing the row line. */
  note(text: string): void {
    this.#out.write(`${text}\n`);
  }

  start(index: number, job: Job): void {
    this.#index = index;
    this.#rowStart = Date.now();
    const n = this.#estimates.length;
    const pos = `${String(index + 1).padStart(String(n).length)}/${n}`;
    const elapsed = formatDuration(Date.now() - this.#t0);
    const left = formatDuration(Math.max(1000, this.estimateLeftMs()));
    this.#head = `[${pos}, ${elapsed} in, about ${left} left] ${job.scenario} ${sizeLabel(job.scenario, job.size)} ${job.transport}`;
    this.#out.write(this.#tty ? `\r\x1b[K${this.#head} ...` : `${this.#head} ... `);
  }

  /** The row's own progress (0..1): shown on a terminal only. */
  within(fraction: number): void {
    if (!this.#tty) return;
    this.#out.write(`\r\x1b[K${this.#head} ... ${Math.min(99, Math.floor(fraction * 100))}%`);
  }

  finish(row: Row): void {
    const ms = Date.now() - this.#rowStart;
    this.#doneMs += ms;
    this.#doneEstimate += this.#estimates[this.#index] ?? 0;
    const text = `${rowSummary(row)} (${formatDuration(ms)})`;
    this.#out.write(this.#tty ? `\r\x1b[K${this.#head} ... ${text}\n` : `${text}\n`);
  }

  get elapsedMs(): number {
    return Date.now() - this.#t0;
  }
}
