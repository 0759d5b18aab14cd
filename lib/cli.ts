#!/usr/bin/env node
// synaptic-shm: the package's command line.
// Exit codes: 0 ok, 1 error (or a benchmark row failed), 2 usage.
import * as path from "node:path";

import { inspect, list, sweep, type ProcessInfo, type SegmentStatus } from "./core/sweep.js";

const USAGE = `usage: synaptic-shm <command> [options]

commands:
  ls [--json]                 list this package's segments in /dev/shm: owner and reader
                              (alive or dead), capacity, fill, messages and bytes, age
  stat NAME [--json]          one segment's header and counters
  sweep [--dry-run] [--json]  remove segments whose owner died (never live ones, other
                              users' or foreign files); --dry-run lists them only
  bench [options]             measure this package against TCP, Unix sockets and ZeroMQ

Run "synaptic-shm <command> --help" for a command's help.
`;

const HELP: Record<string, string> = {
  ls: `usage: synaptic-shm ls [--json]

Lists the segments of this package in /dev/shm that you can read, live or dead:
name, kind, owner pid (alive/dead), reader pid (alive/dead), capacity, fill,
messages and bytes written, age. --json prints an array of objects instead.
`,
  stat: `usage: synaptic-shm stat NAME [--json]

Shows one segment's header: sizes, owner and reader (pid, start time, alive),
side states, indices, counters. Reads with pread; never maps or changes it.
`,
  sweep: `usage: synaptic-shm sweep [--dry-run] [--json]

Removes the segments of this package whose owner process is dead (its liveness
lock is gone; for segments without locks, its pid is gone or now belongs to a
process with another start time). Never removes live segments, other users'
segments, or files this package did not make. Also removes the doorbell
sockets in your /dev/shm/.smsh-<uid>/ that nobody listens on (left by
processes killed with -9). --dry-run lists what it would remove. Processes
that still have a removed segment mapped keep using it.
`,
};

class UsageError extends Error {}

function flags(args: string[], allowed: string[]): { flags: Set<string>; rest: string[] } {
  const f = new Set<string>();
  const rest: string[] = [];
  for (const a of args) {
    if (a.startsWith("-")) {
      if (!allowed.includes(a)) throw new UsageError(`unknown option "${a}"`);
      f.add(a);
    } else rest.push(a);
  }
  return { flags: f, rest };
}

function bytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function age(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${Math.floor(s / 3600) % 24}h`;
}

const who = (p: ProcessInfo | null): string => (p ? `${p.pid} ${p.alive ? "alive" : "dead"}` : "-");

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

function ls(args: string[]): number {
  const { flags: f } = flags(args, ["--json"]);
  const segs = list();
  if (f.has("--json")) {
    console.log(JSON.stringify(segs, null, 2));
    return 0;
  }
  if (segs.length === 0) {
    console.log("no segments of @synaptic-mesh/shm in /dev/shm");
    return 0;
  }
  const rows = [["NAME", "KIND", "OWNER", "READER", "CAPACITY", "FILL", "MESSAGES", "BYTES", "AGE"]];
  for (const s of segs) {
    const cap = s.kind === "ring" ? s.capacity : s.size;
    rows.push([
      s.name,
      s.kind,
      who(s.owner),
      who(s.reader),
      bytes(cap),
      s.kind === "ring" ? `${Math.round((s.used / cap) * 100)}%` : "-",
      s.messagesWritten.toLocaleString("en-US"),
      bytes(s.bytesWritten),
      age(s.ageMs),
    ]);
  }
  console.log(table(rows));
  return 0;
}

function stat(args: string[]): number {
  const { flags: f, rest } = flags(args, ["--json"]);
  if (rest.length !== 1) throw new UsageError("stat takes one segment name");
  const s: SegmentStatus | null = inspect(rest[0]!);
  if (s === null) {
    console.error(`synaptic-shm: ${rest[0]} is not a segment of @synaptic-mesh/shm (or is still being created)`);
    return 1;
  }
  if (f.has("--json")) {
    console.log(JSON.stringify(s, null, 2));
    return 0;
  }
  const lines: [string, string][] = [
    ["name", s.name],
    ["kind", s.kind],
    ["size", `${bytes(s.size)} data (${s.size} bytes)`],
    ["capacity", s.kind === "ring" ? `${bytes(s.capacity)}, ${bytes(s.used)} used (${Math.round((s.used / s.capacity) * 100)}%)` : "-"],
    ["owner", `pid ${s.owner.pid}, started at tick ${s.owner.startTime}, ${s.owner.alive ? "alive" : "dead"}`],
    ["reader", s.reader ? `pid ${s.reader.pid}, started at tick ${s.reader.startTime}, ${s.reader.alive ? "alive" : "dead"}` : "none"],
    ["writer state", s.writerState],
    ["reader state", s.readerState],
    ["written", `${s.messagesWritten.toLocaleString("en-US")} messages, ${bytes(s.bytesWritten)}`],
    ["read", `${s.messagesRead.toLocaleString("en-US")} messages, ${bytes(s.bytesRead)}`],
    ["writer waits", String(s.writerWaits)],
    ["wakeups sent", String(s.wakeupsSent)],
    ["created", `${new Date(s.createdMs).toISOString()} (${age(s.ageMs)} ago)`],
    ["uid / mode", `${s.uid} / ${s.mode.toString(8).padStart(4, "0")}`],
    ["liveness", s.liveness === "lock" ? "kernel-held locks" : "pid and start time"],
  ];
  console.log(lines.map(([k, v]) => `${k.padEnd(13)} ${v}`).join("\n"));
  return 0;
}

function sweepCmd(args: string[]): number {
  const { flags: f } = flags(args, ["--dry-run", "--json"]);
  const dryRun = f.has("--dry-run");
  const removed = sweep({ dryRun });
  if (f.has("--json")) {
    console.log(JSON.stringify({ dryRun, removed: removed.map((r) => ({ name: r.name, kind: r.kind, reason: r.reason })) }, null, 2));
    return 0;
  }
  for (const r of removed) console.log(`${dryRun ? "would remove" : "removed"} ${r.name}: ${r.reason}`);
  const segments = removed.filter((r) => r.kind === "segment").length;
  const bells = removed.length - segments;
  console.log(
    `${segments} segment${segments === 1 ? "" : "s"}` +
      (bells > 0 ? `, ${bells} doorbell socket${bells === 1 ? "" : "s"}` : "") +
      ` ${dryRun ? "to remove" : "removed"}`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    console.error(USAGE);
    return 2;
  }
  if (cmd === "-h" || cmd === "--help" || cmd === "help") {
    console.log(USAGE);
    return 0;
  }
  if (cmd === "bench") {
    // The benchmark ships in dist/bench beside dist/lib.
    const bench = require(path.join(__dirname, "..", "bench", "run.js")) as { main(argv: string[]): Promise<number> };
    return bench.main(rest);
  }
  const commands: Record<string, (args: string[]) => number> = { ls, stat, sweep: sweepCmd };
  const run = commands[cmd];
  if (!run) {
    console.error(`synaptic-shm: unknown command "${cmd}"\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes("-h") || rest.includes("--help")) {
    console.log(HELP[cmd]);
    return 0;
  }
  try {
    return run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`synaptic-shm ${cmd}: ${e.message}\n\n${HELP[cmd]}`);
      return 2;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error & { code?: string }) => {
    console.error(`synaptic-shm: ${e.message}`);
    process.exitCode = 1;
  },
);
