// Syscalls per loan in steady state. This process (the writer) lends, fills
// (one byte per 4 KiB page) and sends `--loans` loans of `--size` bytes to a
// reader process it forks; the reader reads one byte of every page,
// releases, and acknowledges over a second channel; the writer waits for
// each acknowledgement before its next loan. `--warmup` loans come first
// (the pool's slab is made and both sides map it). Both processes mark the
// timed part with a syscall that fails (access() of MARK_DIR/begin, /end),
// so that a trace can be cut to it.
//
//   node dist/bench/loan-syscalls.js [--loans 200] [--size 10000000] [--warmup 20] [--spin S] [--strace]
//
// --strace runs the same under `strace -f -ttt -C` (strace must be
// installed) and prints, per loan, each process's syscalls (all its
// threads) within the timed part, sorted by what they are for (classify):
// shared memory (what a loan itself must not cost once the pool is warm:
// no shm_open, ftruncate, mmap or munmap of a segment), the finalizers of
// detached loan views (libuv's eventfd), wakeups (the doorbell datagram an
// end sends to wake a sleeping peer, the event-loop wait), the runtime
// (V8's garbage collector and its threads), other.
import { fork, spawnSync } from "node:child_process";
import { accessSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import { Channel, type ChannelReader, type ChannelWriter } from "../lib/index.js";
import { UsageError, parseCommandLine, parseInteger } from "../lib/util/args.js";
import { parseSize } from "./options.js";
import { MARK_DIR, callsBetween, parseTrace, type Call } from "./strace.js";

const USAGE = `usage: node dist/bench/loan-syscalls.js [--loans N] [--size S] [--warmup N] [--spin S] [--strace]

  --loans N    timed loans (default 200)
  --size S     bytes per loan (default 10000000; 10m is 10 MiB)
  --warmup N   loans before the timed ones (default 20)
  --spin S     both channels' spin option: adaptive (default), microseconds, or inf
               (never sleep: no wakeups, what is left is the loans' own cost)
  --strace     count the syscalls of the timed loans under strace -f (needs strace)`;

const PAGE = 4096;

interface Config {
  loans: number;
  size: number;
  warmup: number;
  /** Both channels' spin option: "adaptive" (the default), microseconds, or Infinity (never sleep: no wakeups). */
  spin: number | "adaptive";
}

/** A syscall that fails at once and names the mark in a trace. */
function mark(name: string): void {
  try {
    accessSync(`${MARK_DIR}/${name}`);
  } catch {
    /* never there */
  }
}

async function recv(rx: ChannelReader): Promise<Uint8Array> {
  return rx.tryRecv() ?? rx.recv();
}

function send(tx: ChannelWriter, m: Uint8Array): Promise<void> | void {
  if (!tx.trySend(m)) return tx.send(m);
}

/** The reader: receive, read every page, release, acknowledge. */
async function reader(ring: string, c: Config): Promise<void> {
  const rx = Channel.attach(ring, { spin: c.spin });
  const back = Channel.create({ capacity: 4096, spin: c.spin });
  process.send!({ back: back.name });
  const ack = new Uint8Array(8);
  let sink = 0;
  for (let i = 0; i < c.warmup + c.loans; i++) {
    if (i === c.warmup) mark("begin");
    const m = await recv(rx);
    if (m.length !== c.size) throw new Error(`loan ${i}: ${m.length} bytes, expected ${c.size}`);
    for (let off = 0; off < m.length; off += PAGE) sink += m[off]!;
    rx.release();
    await send(back, ack);
  }
  mark("end");
  const stats = { reader: { ...rx.stats, wakeupsSent: back.stats.wakeups }, sink };
  await new Promise<void>((resolve) => process.send!(stats, () => resolve()));
  await new Promise((resolve) => process.once("message", resolve)); // the writer has the last ack
  back.close();
  rx.close();
}

async function writer(c: Config): Promise<void> {
  const tx = Channel.create({ capacity: 4096, spin: c.spin });
  // Infinity does not survive JSON: the spin goes as text.
  const child = fork(__filename, ["--reader", tx.name, JSON.stringify({ ...c, spin: String(c.spin) })], { stdio: "inherit" });
  const inbox: unknown[] = [];
  let waiting: (() => void) | null = null;
  child.on("message", (m) => (inbox.push(m), waiting?.()));
  const next = async <T>(): Promise<T> => {
    while (inbox.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
    return inbox.shift() as T;
  };
  const rx = Channel.attach((await next<{ back: string }>()).back, { spin: c.spin });
  let readerSleeps = 0;
  for (let i = 0; i < c.warmup + c.loans; i++) {
    if (i === c.warmup) {
      mark("begin");
      readerSleeps = rx.stats.sleeps;
    }
    const loan = tx.tryLoan(c.size) ?? (await tx.loan(c.size));
    for (let off = 0; off < loan.length; off += PAGE) loan[off] = i & 255;
    await send(tx, loan);
    await recv(rx);
  }
  mark("end");
  const ackWaits = rx.stats.sleeps - readerSleeps;
  const pool = tx.poolStats;
  const r = (await next<{ reader: Record<string, number> }>()).reader;
  child.send({ close: true });
  await new Promise((resolve) => child.once("exit", resolve));
  console.log(`${c.loans} loans of ${c.size} bytes after ${c.warmup} warm-up ones, spin ${c.spin}, writer pid ${process.pid}, reader pid ${child.pid}`);
  console.log(`  pool: ${pool.slabsCreated} slab(s) created in all, ${pool.loansSent} loans sent`);
  console.log(`  writer: ${tx.stats.wakeups} doorbell wakeups of the reader in all; slept ${ackWaits} times waiting for an acknowledgement in the timed part`);
  console.log(`  reader: ${r.sleeps} sleeps in all (waiting for a loan), ${r.wakeupsSent} wakeups of the writer in all`);
  tx.close();
  rx.close();
}

function parseConfig(argv: string[]): (Config & { strace: boolean }) | null {
  const { values: v } = parseCommandLine(argv, {
    loans: { type: "string" },
    size: { type: "string" },
    warmup: { type: "string" },
    strace: { type: "boolean" },
    spin: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (v.help) return null;
  const str = (k: string): string | undefined => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  let size = 10_000_000;
  if (str("size") !== undefined) {
    try {
      size = parseSize(str("size")!);
    } catch (e) {
      throw new UsageError(`--size: ${(e as Error).message}`);
    }
  }
  const spinText = str("spin") ?? "adaptive";
  const spin = spinText === "adaptive" ? "adaptive" : spinText === "inf" ? Infinity : Number(spinText);
  if (spinText.trim() === "" || !(spin === "adaptive" || spin >= 0)) throw new UsageError(`--spin ${spinText}: "adaptive", a number of microseconds, or inf`);
  return {
    spin,
    loans: str("loans") === undefined ? 200 : parseInteger("loans", str("loans")!),
    warmup: str("warmup") === undefined ? 20 : parseInteger("warmup", str("warmup")!),
    size,
    strace: v.strace === true,
  };
}

/** What a call is for, for the per-loan table. */
type Kind = "shared memory" | "view finalizer" | "wakeup" | "runtime" | "other";
const KINDS: Kind[] = ["shared memory", "view finalizer", "wakeup", "runtime", "other"];

/**
 * shared memory: making, mapping, unmapping or locking a segment (what a
 *   loan in steady state must not do): openat of /dev/shm, ftruncate,
 *   fallocate, a MAP_SHARED mmap and the munmap of one, unlink, flock, the
 *   OFD locks (fcntl) that tell live ends from dead ones.
 * view finalizer: read/write, libuv's eventfd. Detaching a loan's view (the
 *   writer's at send, the reader's at release) makes Node queue the view's
 *   finalizer to the event loop: one eventfd write, and a read when the loop
 *   turns; detaches between two turns share them. (A detach-or-keep loop of
 *   views of one segment shows it: 1 write and 1 read per detached view,
 *   about 0.03 per kept one.)
 * wakeup: sleeping and waking on the event loop: the doorbell datagram
 *   (sendto; recvfrom to drain it), epoll.
 * runtime: V8 and its threads: anonymous mmap/munmap, mprotect, madvise (the
 *   garbage collector's pages), futex (its helper threads).
 */
function classify(calls: Call[]): Map<string, { kind: Kind; n: number }> {
  const shared = new Set<string>(); // addresses MAP_SHARED mmaps returned
  const out = new Map<string, { kind: Kind; n: number }>();
  for (const c of calls) {
    let kind: Kind = "other";
    let name = c.name;
    if (/^(ftruncate|fallocate|unlink|unlinkat|flock)$/.test(name)) kind = "shared memory";
    else if (name === "fcntl") {
      if (c.text.includes("F_OFD_")) [kind, name] = ["shared memory", "fcntl (OFD lock)"];
    } else if (/^(openat|open)$/.test(name)) {
      if (c.text.includes('"/dev/shm/')) [kind, name] = ["shared memory", `${name} (/dev/shm)`];
    } else if (name === "mmap") {
      if (c.text.includes("MAP_SHARED")) {
        kind = "shared memory";
        const at = /= (0x[0-9a-f]+)$/.exec(c.text);
        if (at) shared.add(at[1]!);
      } else kind = "runtime";
      name = kind === "runtime" ? "mmap (anonymous)" : "mmap (MAP_SHARED)";
    } else if (name === "munmap") {
      kind = shared.has(/^munmap\((0x[0-9a-f]+)/.exec(c.text)?.[1] ?? "") ? "shared memory" : "runtime";
      if (kind === "shared memory") name = "munmap (shared)";
    } else if (name === "read" || name === "write") kind = "view finalizer";
    else if (/^(sendto|recvfrom|recv|recvmsg|epoll_ctl|epoll_wait|epoll_pwait|epoll_pwait2)$/.test(name)) kind = "wakeup";
    else if (/^(mprotect|madvise|futex)$/.test(name)) kind = "runtime";
    const e = out.get(name) ?? { kind, n: 0 };
    e.n++;
    out.set(name, e);
  }
  return out;
}

/** Runs the workload under strace and prints the timed part's syscalls per loan, per process. */
function underStrace(c: Config): void {
  const dir = mkdtempSync(path.join(tmpdir(), "smsh-loan-syscalls-"));
  try {
    const file = path.join(dir, "trace.txt");
    const args = ["-f", "-ttt", "-C", "-qq", "-o", file, process.execPath, __filename, "--loans", String(c.loans), "--size", String(c.size), "--warmup", String(c.warmup), "--spin", String(c.spin === Infinity ? "inf" : c.spin)];
    const r = spawnSync("strace", args, { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (r.error) throw Object.assign(new Error(`strace: ${r.error.message} (install it: apt-get install strace)`), { code: "ENOSTRACE" });
    process.stdout.write(r.stdout);
    if (r.status !== 0) throw Object.assign(new Error(`strace exited with ${r.status}`), { code: "ESTRACE" });
    const pids = /writer pid (\d+), reader pid (\d+)/.exec(r.stdout);
    if (!pids) throw Object.assign(new Error("the traced writer did not say its and the reader's pid"), { code: "ENOPIDS" });
    const trace = parseTrace(readFileSync(file, "utf8"));
    const total = new Map<Kind, number>();
    for (const [who, pid] of [["writer", Number(pids[1])], ["reader", Number(pids[2])]] as const) {
      const rows = [...classify(callsBetween(trace, pid, "begin", "end")).entries()].sort((a, b) => b[1].n - a[1].n);
      const per = (n: number): string => (n / c.loans).toFixed(2);
      console.log(`\n${who} (pid ${pid}, all its threads): syscalls per loan in the timed part`);
      for (const [name, { kind, n }] of rows) console.log(`  ${name.padEnd(18)} ${per(n).padStart(6)}  (${String(n).padStart(4)})  ${kind}`);
      const kinds = new Map<Kind, number>();
      for (const { kind, n } of rows.map(([, e]) => e)) kinds.set(kind, (kinds.get(kind) ?? 0) + n);
      for (const [k, n] of kinds) total.set(k, (total.get(k) ?? 0) + n);
      const line = KINDS.map((k) => `${k} ${per(kinds.get(k) ?? 0)}`).join(", ");
      console.log(`  per loan: ${line}`);
      const all = [...classify(trace.calls.filter((x) => x.pid === pid)).entries()].filter(([, e]) => e.kind === "shared memory");
      console.log(`  the whole run (setup, warm-up, close): ${all.map(([name, { n }]) => `${name} ${n}`).join(", ") || "no shared-memory calls"}`);
    }
    const both = KINDS.map((k) => `${k} ${((total.get(k) ?? 0) / c.loans).toFixed(2)}`).join(", ");
    console.log(`\nboth processes, per loan: ${both}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--reader") {
    const c = JSON.parse(argv[2]!) as Omit<Config, "spin"> & { spin: string };
    return reader(argv[1]!, { ...c, spin: c.spin === "adaptive" ? "adaptive" : Number(c.spin) });
  }
  let c: ReturnType<typeof parseConfig>;
  try {
    c = parseConfig(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`loan-syscalls: ${e.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (c === null) return console.log(USAGE);
  if (c.strace) return underStrace(c);
  await writer(c);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
