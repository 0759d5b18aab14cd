#!/usr/bin/env node
// synaptic-shm: the package's command line.
// Exit codes: 0 ok, 1 error (or a benchmark row failed), 2 usage.
import * as path from "node:path";

import { validateName } from "./core/segment.js";
import { LEAVES_NAMES, SHM_DIR, inspect, list, sweep, type ProcessInfo, type SegmentStatus, type SideState } from "./core/sweep.js";
import { UsageError, parseCommandLine, type OptionSpecs } from "./util/args.js";
import { formatAge, formatBytes, formatDuration, formatLocalTime } from "./util/format.js";
import { startDate } from "./util/start-time.js";
import { hub } from "./hub/hub.js";
import type { AgentEntry } from "./hub/messages.js";
import { queryHub } from "./hub/query.js";
import { localIdentity } from "./peer/handshake.js";

const USAGE = `usage: synaptic-shm <command> [options]

commands:
  ls [--all] [--json]         list this package's segments in /dev/shm: owner and reader
                              (alive or dead), capacity, fill, messages and bytes, loan
                              pool (slots, bytes loaned, bytes in flight), age
  stat NAME [--json]          one segment's header and counters (NAME or /dev/shm/NAME)
  sweep [NAME...] [--dry-run] [--json]
                              remove segments whose owner died (never live ones, other
                              users' or foreign files); --dry-run lists them only
  hub ENDPOINT                run a hub for named agents (join()) on ENDPOINT
  hub --stats ENDPOINT        a running hub's routing statistics, per route
  hub ls ENDPOINT             the agents joined to a running hub
  proxy --publish-on EP [options] UPSTREAM...
                              join publishers to subscribers (XSUB/XPUB): subscribe to
                              the publishers at UPSTREAM endpoints, republish on EP
  bench [options]             measure this package against TCP, Unix sockets, ZeroMQ,
                              child_process IPC and worker_threads

Run "synaptic-shm <command> --help" for a command's help.

On Windows a segment is a named mapping (Local\\synaptic-shm.NAME) that goes
with its last handle: nothing is left to list or sweep there, and stat NAME
opens one mapping read-only.
`;

const HELP: Record<string, string> = {
  ls: `usage: synaptic-shm ls [--all] [--json]

Lists the segments of this package in /dev/shm that you can read, live or dead:
name, kind, owner pid and reader pid (alive, closed: it closed its end, or dead:
it went away without closing), capacity, fill,
messages and bytes written, the loan pool of a ring's writer (POOL: its slots
and bytes; LOANED: bytes lent to the writer's user, not yet sent; IN FLIGHT:
bytes sent, not yet released by the reader), age, and for the rings of a
Peer (listen/connect) which connection they carry (PEER: "<writer's name> ->
<reader's name> via <endpoint>", as the writer labelled it). A pool's slabs (kind pool,
named smsh-<16 hex digits>.<index>) are segments of their own: ls counts them
in their ring's row; --all also lists each one, indented under its ring (its
slots, and how many are in flight). Slabs whose ring is not there are always
listed. --json prints an array of objects instead, every segment and slab
(times as numbers: createdMs and ageMs in milliseconds, a process's startTime
in clock ticks since boot, and its startedAt as an ISO date; a ring's loan
pool under "pool", a slab's geometry and its ring's name under "slab").
`,
  stat: `usage: synaptic-shm stat NAME [--json]
       synaptic-shm stat /dev/shm/NAME [--json]

Shows one segment's header: sizes, owner and reader (pid, start time, alive),
side states, indices, counters, and a ring's loan pool (slabs, slots, bytes,
bytes loaned and in flight, loans sent). For a pool slab: its ring, its
slots, and how many are in flight. Reads with pread (Windows: a read-only view
of the mapping); never changes it.
NAME is the segment's name as "synaptic-shm ls" or "ls /dev/shm" show it.
`,
  sweep: `usage: synaptic-shm sweep [NAME...] [--dry-run] [--json]

Removes the segments of this package whose owner process is dead (its liveness
lock is gone; for segments without locks, its pid is gone or now belongs to a
process with another start time). Never removes live segments, other users'
segments, or files this package did not make. A dead writer's loan pool
slabs (kind pool) are segments it owned, and go with its ring. Also removes
the doorbell sockets in your /dev/shm/.smsh-<uid>/ that nobody listens on
(left by processes killed with -9). --dry-run lists what it would remove.
Processes that still have a removed segment mapped keep using it. With
NAMEs (or /dev/shm/NAME paths), only those segments are considered, and the
pool slabs of the rings among them; doorbell sockets are left for a full
sweep.
--json prints {"dryRun": false, "removed": [...]}, or with --dry-run
{"dryRun": true, "wouldRemove": [...]}; each entry has name, kind, reason.
`,
  proxy: `usage: synaptic-shm proxy --publish-on EP [--policy block|drop] [--block-timeout MS]
                          [--window N] [--zmq-publish-on EP2] [--allow-remote] [--quiet]
                          UPSTREAM...

Runs a publish/subscribe proxy until SIGINT or SIGTERM: subscribes to every
publisher at the UPSTREAM endpoints (ipc://PATH or tcp://HOST:PORT) and
republishes their messages on EP, where subscribe() connects. The proxy
subscribes upstream only to the topic prefixes its own subscribers want (the
union, forwarded as they change), so publishers do not send what nobody
downstream reads. An upstream publisher that is not there yet, or goes, is
dialled again every 250 ms. --policy (default block), --block-timeout (ms,
default 5000) and --window (messages, default 1000) are the proxy's own
publisher's (README "Publish/subscribe"). --zmq-publish-on EP2 also
publishes on EP2 to plain ZeroMQ SUB sockets (an XPUB: frames [topic, data];
their subscriptions are forwarded upstream too). --allow-remote lets EP and
EP2 be non-loopback tcp:// addresses. It prints a line when it listens, one per
upstream change, and (unless --quiet) one every 10 s with its counts.
`,
};

const HUB_HELP = `usage: synaptic-shm hub ENDPOINT [--allow-remote] [--stats-interval MS]
       synaptic-shm hub --stats ENDPOINT [--json]
       synaptic-shm hub ls ENDPOINT [--json]

Runs a hub on ENDPOINT ("ipc://<path>", or "tcp://127.0.0.1:<port>"; another
address with --allow-remote) until SIGINT or SIGTERM, printing who joins and
leaves. Agents (join(ENDPOINT, { name })) on one host and uid then talk over
direct Peers (shared memory): the hub only introduces them; the others are
routed through it. Agents report their direct pairs' counts every
--stats-interval ms (default 1000) and when they leave.

--stats asks a running hub for its routing statistics: per route (FROM -> TO),
its PATH (hub: routed, counted by the hub as it forwards; direct: reported by
the sender, as of UPDATED), MESSAGES and BYTES (requests and replies count as
messages of their routes). ls lists the agents joined now: name, pid, whether
its host is this one, its endpoint for direct pairs (none: only through the
hub), and how long ago it joined. --json prints the hub's answer as JSON.
`;

const OPTIONS: Record<string, OptionSpecs> = {
  hub: { stats: { type: "boolean" }, json: { type: "boolean" }, "allow-remote": { type: "boolean" }, "stats-interval": { type: "string" }, help: { type: "boolean", short: "h" } },
  ls: { all: { type: "boolean", short: "a" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  stat: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  sweep: { "dry-run": { type: "boolean" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  proxy: {
    "publish-on": { type: "string" },
    policy: { type: "string" },
    "block-timeout": { type: "string" },
    window: { type: "string" },
    "zmq-publish-on": { type: "string" },
    "allow-remote": { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
    help: { type: "boolean", short: "h" },
  },
};

/**
 * A segment's name from what the user typed: the name itself, or its path in
 * /dev/shm (as pasted from `ls /dev/shm`; relative paths resolve from the
 * current directory). Any other path is a usage error.
 */
export function segmentName(arg: string): string {
  let name = arg;
  if (arg.includes("/")) {
    const abs = path.posix.resolve(arg);
    if (path.posix.dirname(abs) !== SHM_DIR || path.posix.basename(abs) === "") {
      throw new UsageError(`"${arg}" is not in ${SHM_DIR}: give a segment's name (smsh-...) or its path ${SHM_DIR}/NAME`);
    }
    name = path.posix.basename(abs);
  }
  try {
    return validateName(name);
  } catch (e) {
    throw new UsageError(`"${arg}" cannot be a segment's name: ${(e as Error).message}`);
  }
}

/** "2026-11-22T14:03:05+01:00 (3 min 05 s ago)", or "unknown" without a start time. */
function started(p: ProcessInfo): string {
  const d = startDate(p.startTime);
  return d ? `started ${formatLocalTime(d)} (${formatAge(Date.now() - d.getTime())})` : "start time unknown";
}

const plural = (n: number, what: string): string => `${n.toLocaleString("en-US")} ${what}${n === 1 ? "" : "s"}`;
const messages = (n: number): string => plural(n, "message");

/** "PID alive", "PID dead", or "PID closed" for a side that closed cleanly (its process may live on). */
const who = (p: ProcessInfo | null, state: SideState): string =>
  p ? `${p.pid} ${p.alive ? "alive" : state === "closed" ? "closed" : "dead"}` : "-";

/** The status with each process's start time also as an ISO date (UTC), for --json. */
function withDates(s: SegmentStatus): object {
  const dated = (p: ProcessInfo | null): object | null => (p ? { ...p, startedAt: startDate(p.startTime)?.toISOString() ?? null } : null);
  return { ...s, owner: dated(s.owner), reader: dated(s.reader) };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/** The POOL, LOANED and IN FLIGHT columns: a ring's pool in sum, a slab's slots. */
function poolColumns(s: SegmentStatus): [string, string, string] {
  if (s.pool && (s.pool.slabs > 0 || s.pool.loansSent > 0)) {
    return [`${plural(s.pool.slots, "slot")}, ${formatBytes(s.pool.bytes)}`, formatBytes(s.pool.loaned), formatBytes(s.pool.inFlight)];
  }
  if (s.slab) return [`${plural(s.slab.slotCount, "slot")} of ${formatBytes(s.slab.slotSize)}`, "-", plural(s.slab.slotsInFlight, "slot")];
  return ["-", "-", "-"];
}

function lsRow(s: SegmentStatus, indent: string): string[] {
  const cap = s.kind === "ring" ? s.capacity : s.size;
  return [
    indent + s.name,
    s.kind,
    who(s.owner, s.writerState),
    who(s.reader, s.readerState),
    formatBytes(cap),
    s.kind === "ring" ? `${Math.round((s.used / cap) * 100)}%` : "-",
    s.kind === "pool" ? "-" : s.messagesWritten.toLocaleString("en-US"),
    s.kind === "pool" ? "-" : formatBytes(s.bytesWritten),
    ...poolColumns(s),
    formatDuration(s.ageMs),
    s.peer === null ? "-" : s.peer.length > PEER_WIDTH ? `${s.peer.slice(0, PEER_WIDTH - 1)}…` : s.peer,
  ];
}

/** The PEER column's width: the rest is in `stat` and --json. */
const PEER_WIDTH = 48;

/** What ls and sweep say on a platform where nothing is left behind (Windows). */
const NOTHING_LEFT =
  "on Windows a segment's named mapping goes with its last handle, whatever ends its processes: " +
  'nothing is left to sweep, and mappings cannot be listed; "synaptic-shm stat NAME" shows one segment';

function ls(values: Record<string, unknown>): number {
  const segs = list();
  if (!LEAVES_NAMES && !values.json) {
    console.log(NOTHING_LEFT);
    return 0;
  }
  if (values.json) {
    console.log(JSON.stringify(segs.map(withDates), null, 2));
    return 0;
  }
  if (segs.length === 0) {
    console.log("no segments of @synaptic-mesh/shm in /dev/shm");
    return 0;
  }
  // A slab whose ring is listed goes with its ring: in its row's POOL columns, and with --all in rows under it.
  const slabsOf = new Map<string, SegmentStatus[]>();
  for (const s of segs) {
    if (!s.slab?.ring) continue;
    let slabs = slabsOf.get(s.slab.ring);
    if (slabs === undefined) slabsOf.set(s.slab.ring, (slabs = []));
    slabs.push(s);
  }
  const rows = [["NAME", "KIND", "OWNER", "READER", "CAPACITY", "FILL", "MESSAGES", "BYTES", "POOL", "LOANED", "IN FLIGHT", "AGE", "PEER"]];
  for (const s of segs) {
    if (s.slab?.ring) continue;
    rows.push(lsRow(s, ""));
    if (values.all) for (const slab of (slabsOf.get(s.name) ?? []).sort((x, y) => x.slab!.index - y.slab!.index)) rows.push(lsRow(slab, "  "));
  }
  console.log(table(rows));
  return 0;
}

function stat(values: Record<string, unknown>, positionals: string[]): number {
  if (positionals.length !== 1) throw new UsageError("stat takes one segment name");
  const name = segmentName(positionals[0]!);
  const s: SegmentStatus | null = inspect(name);
  if (s === null) {
    console.error(`synaptic-shm: ${name} is not a segment of @synaptic-mesh/shm (or is still being created)`);
    return 1;
  }
  if (values.json) {
    console.log(JSON.stringify(withDates(s), null, 2));
    return 0;
  }
  const proc = (p: ProcessInfo, state: SideState): string => `pid ${p.pid}, ${started(p)}, ${who(p, state).split(" ")[1]}`;
  const tail: [string, string][] = [
    ["created", `${formatLocalTime(new Date(s.createdMs))} (${formatAge(s.ageMs)})`],
    process.platform === "win32"
      ? ["access", "the creating user only (owner-only DACL)"]
      : ["uid / mode", `${s.uid} / ${s.mode.toString(8).padStart(4, "0")}`],
    ["liveness", s.liveness === "lock" ? "kernel-held locks" : "pid and start time"],
    ...(s.peer === null ? [] : [["peer", `${s.peer} (a Peer's ring: its writer -> its reader)`] as [string, string]]),
  ];
  if (s.slab) {
    const b = s.slab;
    const slab: [string, string][] = [
      ["name", s.name],
      ["kind", "pool (a slab of a ring's loan pool)"],
      ["size", `${formatBytes(s.size)} data (${s.size} bytes)`],
      ["ring", b.ring ?? `not in ${SHM_DIR} (its token begins ${b.ringToken.slice(0, 16)})`],
      ["slots", `${plural(b.slotCount, "slot")} of ${formatBytes(b.slotSize)}, slab ${b.index}`],
      ["in flight", `${plural(b.slotsInFlight, "slot")} (sent, not yet released by the reader)`],
      ["retired", b.retired ? "yes (its writer is removing it)" : "no"],
      ["owner", proc(s.owner, s.writerState)],
      ...tail,
    ];
    console.log(slab.map(([k, v]) => `${k.padEnd(13)} ${v}`).join("\n"));
    return 0;
  }
  const pool: [string, string][] = s.pool
    ? [
        ["pool", s.pool.slabs === 0 ? "none" : `${plural(s.pool.slabs, "slab")}${s.pool.slabNames === "" ? "" : ` (${s.pool.slabNames})`}, ${plural(s.pool.slots, "slot")}, ${formatBytes(s.pool.bytes)}`],
        ["loaned", `${formatBytes(s.pool.loaned)} (lent to the writer's user, not yet sent)`],
        ["in flight", `${formatBytes(s.pool.inFlight)} (sent, not yet released by the reader)`],
        ["loans sent", s.pool.loansSent.toLocaleString("en-US") + (s.pool.epoch > 0 ? ` (a dead reader's loans taken back ${plural(s.pool.epoch, "time")})` : "")],
      ]
    : [];
  const lines: [string, string][] = [
    ["name", s.name],
    ["kind", s.kind],
    ["size", `${formatBytes(s.size)} data (${s.size} bytes)`],
    ["capacity", s.kind === "ring" ? `${formatBytes(s.capacity)}, ${formatBytes(s.used)} used (${Math.round((s.used / s.capacity) * 100)}%)` : "-"],
    ["owner", proc(s.owner, s.writerState)],
    ["reader", s.reader ? proc(s.reader, s.readerState) : "none"],
    ["writer state", s.writerState],
    ["reader state", s.readerState],
    ["written", `${messages(s.messagesWritten)}, ${formatBytes(s.bytesWritten)}`],
    ["read", `${messages(s.messagesRead)}, ${formatBytes(s.bytesRead)}`],
    ["writer waits", String(s.writerWaits)],
    ["wakeups sent", String(s.wakeupsSent)],
    ...pool,
    ...tail,
  ];
  console.log(lines.map(([k, v]) => `${k.padEnd(13)} ${v}`).join("\n"));
  return 0;
}

function sweepCmd(values: Record<string, unknown>, positionals: string[]): number {
  const dryRun = values["dry-run"] === true;
  const found = sweep(positionals.length > 0 ? { dryRun, names: positionals.map(segmentName) } : { dryRun });
  if (!LEAVES_NAMES && !values.json) {
    console.log(NOTHING_LEFT);
    return 0;
  }
  if (values.json) {
    const entries = found.map((r) => ({ name: r.name, kind: r.kind, reason: r.reason }));
    // A dry run removed nothing: its list is what a real run would remove.
    console.log(JSON.stringify(dryRun ? { dryRun, wouldRemove: entries } : { dryRun, removed: entries }, null, 2));
    return 0;
  }
  for (const r of found) console.log(`${dryRun ? "would remove" : "removed"} ${r.name}: ${r.reason}`);
  const segments = found.filter((r) => r.kind === "segment").length;
  const bells = found.length - segments;
  console.log(
    `${segments} segment${segments === 1 ? "" : "s"}` +
      (bells > 0 ? `, ${bells} doorbell socket${bells === 1 ? "" : "s"}` : "") +
      ` ${dryRun ? "to remove" : "removed"}`,
  );
  return 0;
}

/** A whole number option of the proxy, or a usage error. */
function intOption(values: Record<string, unknown>, name: string, fallback: number): number {
  const v = values[name];
  if (v === undefined) return fallback;
  if (typeof v !== "string" || !/^\d{1,10}$/.test(v) || Number(v) < 1 || Number(v) > 2 ** 31 - 1) throw new UsageError(`--${name} must be a whole number from 1 to ${2 ** 31 - 1}`);
  return Number(v);
}

/** synaptic-shm proxy: runs until SIGINT/SIGTERM (exit 0), or fails to start (exit 1). */
async function proxyCmd(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const publishOn = values["publish-on"];
  if (typeof publishOn !== "string") throw new UsageError("--publish-on EP is required");
  if (positionals.length === 0) throw new UsageError("at least one UPSTREAM endpoint is required");
  const policy = values.policy ?? "block";
  if (policy !== "block" && policy !== "drop") throw new UsageError('--policy must be "block" or "drop"');
  const blockTimeout = intOption(values, "block-timeout", 5000);
  const window = intOption(values, "window", 1000);
  const { proxy } = await import("./pubsub/proxy.js");
  let p: Awaited<ReturnType<typeof proxy>>;
  try {
    const zmqPublishOn = typeof values["zmq-publish-on"] === "string" ? values["zmq-publish-on"] : undefined;
    p = await proxy({ subscribeTo: positionals, publishOn, policy, blockTimeout, window, zmqPublishOn, allowRemote: values["allow-remote"] === true });
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_INVALID_ARG_VALUE") throw new UsageError((e as Error).message);
    throw e;
  }
  console.log(`proxy: publishing on ${p.publisher.endpoint} what ${positionals.join(", ")} publish (policy ${policy})`);
  p.on("upstream", (u: { endpoint: string; connected: boolean; reason: string }) => console.log(`proxy: upstream ${u.endpoint} ${u.connected ? "connected" : `not connected: ${u.reason}`}`));
  p.publisher.on("topics", (t: readonly string[]) => console.log(`proxy: subscribed upstream to ${t.length === 0 ? "nothing" : t.map((x) => JSON.stringify(x)).join(" ")}`));
  const report = setInterval(() => {
    const s = p.publisher.stats;
    console.log(`proxy: ${s.messages} messages forwarded, ${p.publisher.subscribers.length} subscribers, ${s.missed} missed, ${s.evicted} evicted`);
  }, 10_000);
  if (values.quiet === true) clearInterval(report);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  clearInterval(report);
  await p.close();
  console.log("proxy: closed");
  return 0;
}

const COMMANDS: Record<string, { positionals: number; run(values: Record<string, unknown>, positionals: string[]): number | Promise<number> }> = {
  ls: { positionals: 0, run: ls },
  stat: { positionals: 1, run: stat },
  sweep: { positionals: Infinity, run: sweepCmd },
  proxy: { positionals: Infinity, run: proxyCmd },
};

/** `hub`: run one (until a signal), or ask a running one (--stats, ls). */
async function hubCmd(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const asking = positionals[0] === "ls" ? "agents" : values.stats === true ? "stats" : null;
  const args = asking === "agents" ? positionals.slice(1) : positionals;
  if (args.length !== 1) throw new UsageError(args.length === 0 ? "the hub's ENDPOINT is missing" : `one ENDPOINT, not ${args.length} arguments`);
  const endpoint = args[0]!;
  if (asking !== null) {
    const a = await queryHub(endpoint, asking);
    if (values.json === true) {
      console.log(JSON.stringify(a, null, 2));
      return 0;
    }
    const now = Date.now();
    if (asking === "agents") {
      const host = localIdentity("").host;
      const rows = (a.agents ?? []).map((e) => [e.name, String(e.pid), e.host !== "" && e.host === host ? "this host" : "other", e.endpoint ?? "none (hub only)", formatAge(now - e.joinedAt)]);
      console.log(table([["NAME", "PID", "HOST", "ENDPOINT", "JOINED"], ...rows]));
    } else {
      const rows = (a.routes ?? []).map((r) => [r.from, r.to, r.path, String(r.messages), formatBytes(r.bytes), `${formatAge(now - r.updatedAt)} ago`]);
      console.log(table([["FROM", "TO", "PATH", "MESSAGES", "BYTES", "UPDATED"], ...rows]));
      console.log(`\n${plural(a.rejected ?? 0, "message")} rejected, ${a.unroutable ?? 0} unroutable; direct routes as of their sender's last report (every ${a.statsIntervalMs} ms, and when it leaves)`);
    }
    return 0;
  }
  const interval = values["stats-interval"] === undefined ? undefined : Number(values["stats-interval"]);
  if (interval !== undefined && !(Number.isSafeInteger(interval) && interval >= 10)) throw new UsageError("--stats-interval must be a whole number of ms, at least 10");
  const h = await hub(endpoint, { allowRemote: values["allow-remote"] === true, statsIntervalMs: interval });
  h.on("join", (e: AgentEntry) => console.log(`join ${e.name} pid ${e.pid} ${e.endpoint ?? "(hub only)"}`));
  h.on("leave", (e: AgentEntry, why: string) => console.log(`leave ${e.name} pid ${e.pid}: ${why}`));
  console.log(`hub listening on ${h.endpoint}`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await h.close();
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
  if (cmd === "hub") {
    try {
      const { values, positionals } = parseCommandLine(rest, OPTIONS.hub!, Infinity);
      if (values.help) {
        console.log(HUB_HELP);
        return 0;
      }
      return await hubCmd(values, positionals);
    } catch (e) {
      if (e instanceof UsageError) {
        console.error(`synaptic-shm hub: ${e.message}\n\n${HUB_HELP}`);
        return 2;
      }
      throw e;
    }
  }
  const command = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!command) {
    console.error(`synaptic-shm: unknown command "${cmd}"\n\n${USAGE}`);
    return 2;
  }
  try {
    const { values, positionals } = parseCommandLine(rest, OPTIONS[cmd]!, command.positionals);
    if (values.help) {
      console.log(HELP[cmd]);
      return 0;
    }
    return await command.run(values, positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`synaptic-shm ${cmd}: ${e.message}\n\n${HELP[cmd]}`);
      return 2;
    }
    throw e;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error & { code?: string }) => {
      console.error(`synaptic-shm: ${e.message}`);
      process.exitCode = 1;
    },
  );
}
