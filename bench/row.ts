// One row of the benchmark: a fresh host and peer process (or, for a linked
// transport, a host that starts its own peer), connected through the
// orchestrator, their figures and operating-system costs collected.
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import type { ChildStart } from "./child.js";
import { runConnectRow } from "./connect.js";
import type { Options } from "./options.js";
import { defaultTransfers } from "./pointcloud.js";
import type { Row } from "./results.js";
import type { Job, Scenario } from "./scenarios.js";
import { makeTransport, unavailable } from "./transports/index.js";
import type { PeerReport } from "./transports/types.js";

interface ChildMsg {
  type: "offer" | "answer" | "progress" | "result" | "error";
  offer?: string;
  /** The host's other /dev/shm names start with this (a loan pool's slabs). */
  leftovers?: string;
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
  ms_p99?: number;
  handoff_p50_us?: number;
  handoff_p99_us?: number;
  loans?: number;
  slabs_created_timed?: number;
  elapsedMs?: number;
  /** Linked transports: what the peer the host started measured. */
  peer?: PeerReport;
}

const CHILD = path.join(__dirname, "child.js");

/** Running row processes, killed if the orchestrator is stopped by a signal. */
export const live = new Set<ChildProcess>();

/** A child process with a queue of its IPC messages. */
class Child {
  readonly proc: ChildProcess;
  readonly #queue: ChildMsg[] = [];
  readonly #waiters: ((m: ChildMsg) => void)[] = [];
  readonly exited: Promise<number | null>;
  #signal: NodeJS.Signals | null = null;
  stderr = "";

  constructor(cpu: number | null, onProgress: (m: ChildMsg) => void) {
    const cmd = cpu === null ? process.execPath : "taskset";
    const args = cpu === null ? [CHILD] : ["-c", String(cpu), process.execPath, CHILD];
    this.proc = spawn(cmd, args, { stdio: ["ignore", "inherit", "pipe", "ipc"] });
    live.add(this.proc);
    this.proc.once("exit", () => live.delete(this.proc));
    this.proc.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) =>
      this.proc.once("exit", (code, signal) => {
        this.#signal = signal;
        r(code);
      }),
    );
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
        const how = this.#signal ? `killed by ${this.#signal}` : `exited with code ${code}`;
        throw new Error(`row process ${this.proc.pid} ${how} ${this.stderr.trim().split("\n").slice(-3).join(" | ")}`.trim());
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

export function jobFor(o: Options, transport: string, scenario: Scenario, size: number): Job {
  const streamCount = Math.max(1000, Math.min(o.messages, Math.floor((256 << 20) / size)));
  switch (scenario) {
    case "rtt":
      return { scenario, transport, size, count: o.rounds, warmup: Math.ceil(o.rounds / 10), cork: o.cork, spin: String(o.spin) };
    case "stream":
    case "stream-batch":
      // Half as many again first, untimed: the JIT optimises both loops
      // meanwhile (V8 took about 400,000 messages of batches to reach its
      // steady 30 ns per message; a cold 500,000-message row measured half
      // the warm rate).
      return { scenario, transport, size, count: streamCount, warmup: Math.ceil(streamCount / 2), cork: o.cork, spin: String(o.spin), batch: o.batch };
    case "bulk":
      return { scenario, transport, size, count: o.iterations, warmup: 1, cork: o.cork, spin: String(o.spin) };
    case "pointcloud": {
      // Steady state: a tenth more transfers first, at least 2 (the first makes the loan slab, the second reuses it).
      const count = o.transfers ?? defaultTransfers(size, o.quick);
      return { scenario, transport, size, count, warmup: Math.max(2, Math.ceil(count / 10)), cork: o.cork, spin: String(o.spin) };
    }
    case "connect": {
      const count = Math.max(10, Math.round(o.rounds / 100));
      return { scenario, transport, size, count, warmup: Math.ceil(count / 10), cork: o.cork, spin: String(o.spin) };
    }
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

/** The row's figures from the host's and the peer's results. */
function figures(row: Row, job: Job, h: ChildMsg, p: { cpuUs?: number; maxRssKb?: number; elapsedMs?: number }): Row {
  const messages = job.count + job.warmup; // round trips, messages or transfers
  const out: Row = {
    ...row,
    cpu_us_per_msg: ((h.cpuUs ?? 0) + (p.cpuUs ?? 0)) / messages,
    rss_mb_host: mb(h.maxRssKb),
    rss_mb_peer: mb(p.maxRssKb),
    rss_mb: Math.max(mb(h.maxRssKb), mb(p.maxRssKb)),
  };
  if (job.scenario === "rtt") Object.assign(out, { p50_us: h.p50_us, p99_us: h.p99_us, p999_us: h.p999_us });
  if (job.scenario === "stream" || job.scenario === "stream-batch") {
    const rate = job.count / ((p.elapsedMs ?? NaN) / 1000);
    Object.assign(out, { msgs_per_s: rate, mb_per_s: (rate * job.size) / 1e6 });
  }
  if (job.scenario === "bulk") Object.assign(out, { ms: h.ms, mb_per_s: job.size / 1e6 / ((h.ms ?? NaN) / 1000) });
  if (job.scenario === "pointcloud") {
    const { ms, ms_p99, handoff_p50_us, handoff_p99_us, slabs_created_timed } = h;
    Object.assign(out, { handoff_p50_us, handoff_p99_us, ms, ms_p99, mb_per_s: job.size / 1e6 / ((ms ?? NaN) / 1000), slabs_created_timed });
    // An ordinary buffer up to maxMessageSize goes through the ring, not as a loan.
    if (out.method === "copy-in" && h.loans === 0) out.method = "ring";
  }
  return out;
}

/**
 * Names in /dev/shm starting with `prefix`, then digits: a loan pool's slabs
 * ("smsh-<16 hex>."), the disruptor transport's two rings
 * ("disruptor-bench-<16 hex>."): removed after a row.
 */
function removeLeftovers(prefix: string): void {
  if (!/^(smsh|disruptor-bench)-[0-9a-f]{16}\.$/.test(prefix)) return;
  let names: string[];
  try {
    names = readdirSync("/dev/shm");
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length))) rmSync(`/dev/shm/${n}`, { force: true });
}

/** Runs one row; never throws: a failure is the row's `error`. `within` gets the row's progress (0..1). */
export async function runRow(o: Options, job: Job, within: (fraction: number) => void, pinned: boolean): Promise<Row> {
  if (job.scenario === "connect") {
    return withTimeout(runConnectRow(job.transport, job.count, job.warmup, Math.max(3, Math.round(job.count / 5))), o.rowTimeoutMs, `${job.transport} connect`).catch(
      (e: Error): Row => ({ transport: job.transport, mode: null, scenario: "connect", size: job.size, error: e.message }),
    );
  }
  const t = job.transport === "memcpy" ? null : makeTransport(job.transport, job.cork, job.spin);
  const row: Row = {
    transport: t?.transport ?? "memcpy",
    mode: t?.mode ?? null,
    scenario: job.scenario,
    size: job.size,
    count: job.count,
  };
  if (job.scenario === "bulk" || job.scenario === "pointcloud") {
    row.method = job.transport === "memcpy" ? "memcpy" : t?.mode === "loan" ? "loan" : t?.transport === "shm" ? "copy-in" : "send";
  }
  const why = job.transport === "memcpy" ? null : unavailable(job.transport);
  if (why) return { ...row, skipped: true, error: why };
  const onProgress = (m: ChildMsg): void => within((m.done ?? 0) / (m.total ?? 1));
  const children: Child[] = [];
  const segments: string[] = []; // shm offers/answers are segment names
  const leftovers: string[] = []; // name prefixes of loan slabs
  let ok = false;
  try {
    if (job.transport === "memcpy") {
      const solo = new Child(pinned ? 0 : null, onProgress);
      children.push(solo);
      solo.send({ job, role: "memcpy" } satisfies ChildStart);
      const r = await withTimeout(solo.expect("result"), o.rowTimeoutMs, "row");
      ok = true;
      return { ...row, ms: r.ms, ...(r.ms_p99 !== undefined && { ms_p99: r.ms_p99 }), rss_mb: mb(r.maxRssKb) };
    }
    if (t?.linked) {
      // The host starts its own peer: pin that to core 1 (a worker thread cannot be: it shares the host's process).
      const threads = t.linked === "worker-thread";
      const host = new Child(pinned && !threads ? 0 : null, onProgress);
      children.push(host);
      host.send({ job, role: "host", peerCpu: pinned && !threads ? 1 : null } satisfies ChildStart);
      const h = await withTimeout(host.expect("result"), o.rowTimeoutMs, "row");
      ok = true;
      return figures(row, job, h, h.peer ?? {});
    }
    const host = new Child(pinned ? 0 : null, onProgress);
    children.push(host);
    host.send({ job, role: "host" } satisfies ChildStart);
    const run = async (): Promise<Row> => {
      const { offer, leftovers: prefix } = await host.expect("offer");
      if (row.transport === "shm") segments.push(offer!);
      if (prefix) leftovers.push(prefix);
      const peer = new Child(pinned ? 1 : null, onProgress);
      children.push(peer);
      peer.send({ job, role: "peer", offer } satisfies ChildStart);
      const { answer } = await peer.expect("answer");
      if (row.transport === "shm") segments.push(answer!);
      host.send({ answer });
      const [h, p] = await Promise.all([host.expect("result"), peer.expect("result")]);
      peer.send({ close: true }); // the host has received everything: the peer may close
      return figures(row, job, h, p);
    };
    const out = await withTimeout(run(), o.rowTimeoutMs, "row");
    ok = true;
    return out;
  } catch (e) {
    return { ...row, error: (e as Error).message };
  } finally {
    // Children that reported exit by themselves (closing their channels);
    // a failed row's children may be stuck and are killed at once.
    if (ok) await Promise.race([Promise.all(children.map((c) => c.exited)), sleep(5000, undefined, { ref: false })]);
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.exited));
    // A killed child cannot unlink its ring: remove what it left.
    for (const name of segments) if (/^smsh-[a-z2-7]{16}$/.test(name)) rmSync(`/dev/shm/${name}`, { force: true });
    for (const prefix of leftovers) removeLeftovers(prefix);
  }
}
