// Finding this package's segments in /dev/shm, telling live from dead, and
// removing the dead ones. Nothing here maps a segment: headers are read with
// pread and liveness is probed with OFD locks (csrc/core/liveness.h), so
// inspecting never disturbs a live channel and never faults on a truncated
// object.
import { opendirSync, readdirSync, statSync, type Dir } from "node:fs";

import {
  FLAG_LOCKS,
  KIND_POOL,
  KIND_RING,
  MAX_SLOTS,
  OFFSETS,
  PEER_LABEL_SIZE,
  SIDE_ABSENT,
  SIDE_CLOSED,
  SIDE_OPEN,
  TOKEN_SIZE,
} from "./layout.js";
import { invalidArgType } from "./errors.js";
import { native, type Binding, type Inspection } from "./native.js";
import { NAME_PREFIX, validateName } from "./segment.js";

export const SHM_DIR = "/dev/shm";

export type SideState = "absent" | "open" | "closed" | "unknown";

export interface ProcessInfo {
  pid: number;
  /** Start time, clock ticks since boot (as the process's own namespace saw it). */
  startTime: number;
  /** Whether it still runs: by its liveness lock where the segment has one, else by pid + start time. */
  alive: boolean;
}

/**
 * A ring's loan pool, from the writer's loan line (display statistics the
 * writer stores plainly: a reading may be torn, so `loaned` and `inFlight`
 * are clamped to `bytes`).
 */
/** A loan pool's counters, as its writer publishes them in the ring's loan line (docs/PROTOCOL.md §3). */
export interface PoolCounts {
  /** Slabs (segments) the pool holds now. */
  slabs: number;
  /** Slots in them. */
  slots: number;
  /** Bytes of slot memory the pool holds. */
  bytes: number;
  /** Bytes lent to the writer's user and not yet sent (or cancelled). */
  loaned: number;
  /** Bytes sent and not yet seen released by the reader. */
  inFlight: number;
  /** Loans sent since the channel was created. */
  loansSent: number;
}

export interface PoolUsage extends PoolCounts {
  /** How many times the writer took back a dead reader's loans. */
  epoch: number;
  /**
   * The names of its slabs in /dev/shm, comma-separated, by index (from
   * listSegments(); "" from inspectSegment(), which looks at one segment).
   * Each name is keyed by the ring's secret slab_key (PROTOCOL.md §3).
   */
  slabNames: string;
}

/** A loan pool slab (kind "pool"): equal slots that a ring's writer lends. */
export interface SlabInfo {
  /** The index its name carries. */
  index: number;
  slotSize: number;
  slotCount: number;
  /** Slots sent and not yet released by the reader (from the slot table). */
  slotsInFlight: number;
  /** The writer marked it retired (it is about to remove it). */
  retired: boolean;
  /** The token of the ring it belongs to (hex): that ring's `token`. */
  ringToken: string;
  /** That ring's name, when it is in /dev/shm and readable (null otherwise). */
  ring: string | null;
}

/** One segment of this package, as `synaptic-shm ls/stat` show it. */
export interface SegmentStatus {
  name: string;
  /** "ring" (a channel), "pool" (a slab of a ring's loan pool) or "plain". */
  kind: "ring" | "plain" | "pool";
  /** Bytes in the data region. */
  size: number;
  /** Ring capacity, 0 for plain segments. */
  capacity: number;
  uid: number;
  mode: number;
  createdMs: number;
  ageMs: number;
  owner: ProcessInfo;
  /** A ring's reader (null if none ever attached). */
  reader: ProcessInfo | null;
  writerState: SideState;
  readerState: SideState;
  /** Ring: bytes written and not yet released by the reader. */
  used: number;
  messagesWritten: number;
  bytesWritten: number;
  messagesRead: number;
  bytesRead: number;
  writerWaits: number;
  wakeupsSent: number;
  /** How liveness was decided: "lock" (kernel-held marks) or "pid" (pid + start time). */
  liveness: "lock" | "pid";
  /** The header's random token (hex); a pool slab's `slab.ringToken` is its ring's. */
  token: string;
  /** A ring's loan pool (zeros if it never lent); null for other kinds. */
  pool: PoolUsage | null;
  /** A pool slab's geometry and slot table; null for other kinds. */
  slab: SlabInfo | null;
  /** A ring made by a Peer (listen/connect): "<its writer> -> <its reader> via <endpoint>", as its writer wrote it (untrusted; control characters shown as "?"); else null. */
  peer: string | null;
  /** @internal identity for a safe unlink */
  id: string;
}

/** A process alive with this pid *and* start time (pid reuse gives another start time). */
export function pidAlive(pid: number, startTime: number): boolean {
  if (pid <= 0) return false;
  const t = native().processStartTime(pid);
  return t !== null && t === startTime;
}

function u64(v: DataView, off: number): number {
  return Number(v.getBigUint64(off, true));
}

function side(v: number): SideState {
  return v === SIDE_ABSENT ? "absent" : v === SIDE_OPEN ? "open" : v === SIDE_CLOSED ? "closed" : "unknown";
}

function poolUsage(v: DataView): PoolUsage {
  const bytes = u64(v, OFFSETS.pool_bytes);
  return {
    slabs: v.getUint32(OFFSETS.pool_slabs, true),
    slots: v.getUint32(OFFSETS.pool_slots, true),
    bytes,
    loaned: Math.min(u64(v, OFFSETS.bytes_loaned), bytes),
    inFlight: Math.min(u64(v, OFFSETS.bytes_in_flight), bytes),
    loansSent: u64(v, OFFSETS.loans_sent),
    epoch: v.getUint32(OFFSETS.loan_epoch, true),
    slabNames: "",
  };
}

function slabInfo(v: DataView): SlabInfo {
  const slotCount = v.getUint32(OFFSETS.slot_count, true);
  let slotsInFlight = 0;
  // The table has MAX_SLOTS entries at most; a bigger count is not a slab of ours (read no further).
  for (let i = 0; i < Math.min(slotCount, MAX_SLOTS); i++) {
    const sent = v.getUint32(OFFSETS.slot_table + 8 * i, true);
    if (sent !== 0 && sent !== v.getUint32(OFFSETS.slot_table + 8 * i + 4, true)) slotsInFlight++;
  }
  return {
    index: v.getUint32(OFFSETS.slab_index, true),
    slotSize: u64(v, OFFSETS.slot_size),
    slotCount,
    slotsInFlight,
    retired: v.getUint32(OFFSETS.slab_retired, true) !== 0,
    ringToken: Buffer.from(v.buffer, OFFSETS.ring_token, TOKEN_SIZE).toString("hex"),
    ring: null,
  };
}

/** A ring's peer_label: text up to the first NUL, control characters replaced; null if empty. */
function peerLabel(header: ArrayBuffer): string | null {
  const bytes = new Uint8Array(header, OFFSETS.peer_label, PEER_LABEL_SIZE);
  const end = bytes.indexOf(0);
  const text = Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString("utf8");
  // eslint-disable-next-line no-control-regex
  return text === "" ? null : text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

function statusOf(name: string, ins: Inspection): SegmentStatus {
  const v = new DataView(ins.header);
  const locks = (v.getUint32(OFFSETS.flags, true) & FLAG_LOCKS) !== 0;
  const ownerPid = v.getUint32(OFFSETS.owner_pid, true);
  const ownerStart = u64(v, OFFSETS.owner_start_time);
  const readerPid = v.getUint32(OFFSETS.reader_pid, true);
  const readerStart = u64(v, OFFSETS.reader_start_time);
  const kindWord = v.getUint32(OFFSETS.kind, true);
  const kind = kindWord === KIND_RING ? "ring" : kindWord === KIND_POOL ? "pool" : "plain";
  const token = tokenOf(ins);
  const createdMs = u64(v, OFFSETS.created_ns) / 1e6;
  const used = (v.getUint32(OFFSETS.write_index, true) - v.getUint32(OFFSETS.read_index, true)) >>> 0;
  const readerState = side(v.getUint32(OFFSETS.reader_state, true));
  return {
    name,
    kind,
    size: u64(v, OFFSETS.data_size),
    capacity: v.getUint32(OFFSETS.capacity, true),
    uid: ins.uid,
    mode: ins.mode,
    createdMs,
    ageMs: Math.max(0, Date.now() - createdMs),
    owner: { pid: ownerPid, startTime: ownerStart, alive: locks ? ins.ownerLocked : pidAlive(ownerPid, ownerStart) },
    reader:
      kind === "ring" && readerPid !== 0
        ? { pid: readerPid, startTime: readerStart, alive: locks ? ins.readerLocked : pidAlive(readerPid, readerStart) }
        : null,
    writerState: kind === "ring" ? side(v.getUint32(OFFSETS.writer_state, true)) : "absent",
    readerState,
    used: kind === "ring" ? Math.min(used, v.getUint32(OFFSETS.capacity, true)) : 0,
    messagesWritten: u64(v, OFFSETS.messages_written),
    bytesWritten: u64(v, OFFSETS.bytes_written),
    messagesRead: u64(v, OFFSETS.messages_read),
    bytesRead: u64(v, OFFSETS.bytes_read),
    writerWaits: u64(v, OFFSETS.writer_waits),
    wakeupsSent: u64(v, OFFSETS.wakeups_sent),
    liveness: locks ? "lock" : "pid",
    token,
    pool: kind === "ring" ? poolUsage(v) : null,
    slab: kind === "pool" ? slabInfo(v) : null,
    peer: kind === "ring" ? peerLabel(ins.header) : null,
    id: ins.id,
  };
}

/**
 * The status of segment `name`, or null if the object is not a segment of
 * this package (foreign, garbage, or still being created). Throws ENOENT or
 * EACCES if it cannot be opened. For a pool slab, `slab.ring` names its ring
 * (found by its token among the segments in /dev/shm).
 */
export function inspect(name: string): SegmentStatus | null {
  const s = inspectOne(name);
  if (s?.slab) s.slab.ring = findRing(s.slab.ringToken);
  return s;
}

function inspectOne(name: string): SegmentStatus | null {
  const ins = native().SegmentHandle.inspect(validateName(name));
  return ins.invalid ? null : statusOf(name, ins);
}

function isRing(ins: Inspection): boolean {
  return !ins.invalid && new DataView(ins.header).getUint32(OFFSETS.kind, true) === KIND_RING;
}

function isPool(ins: Inspection): boolean {
  return !ins.invalid && new DataView(ins.header).getUint32(OFFSETS.kind, true) === KIND_POOL;
}

/** The name of the ring in /dev/shm whose token is `token`, or null. */
function findRing(token: string): string | null {
  for (const name of candidates(false)) {
    try {
      const ins = native().SegmentHandle.inspect(name);
      if (isRing(ins) && tokenOf(ins) === token) return name;
    } catch {
      /* vanished or unreadable */
    }
  }
  return null;
}

/**
 * Whether this platform leaves anything behind to list or sweep. Windows:
 * a named mapping (and every other kernel object of a segment) dies with its
 * last handle, whatever ends its processes, and the session's object
 * namespace cannot be listed by name prefix: ls and sweep find nothing
 * there, and `inspect(name)` (synaptic-shm stat NAME) looks at one segment.
 */
export const LEAVES_NAMES = process.platform !== "win32";

function candidates(prefixOnly: boolean): string[] {
  if (!LEAVES_NAMES) return [];
  let names: string[];
  try {
    names = readdirSync(SHM_DIR);
  } catch {
    return [];
  }
  return names.filter((n) => (!prefixOnly || n.startsWith(NAME_PREFIX)) && isOurName(n));
}

/** Every segment of this package in /dev/shm that this process can read, live or dead. */
export function list(): SegmentStatus[] {
  native(); // ENOTSUP where there is no binary (not an empty list)
  const out: SegmentStatus[] = [];
  for (const name of candidates(false)) {
    try {
      const s = inspectOne(name);
      if (s) out.push(s);
    } catch {
      /* vanished, or not readable by us: not ours to list */
    }
  }
  const rings = new Map(out.filter((s) => s.kind === "ring").map((s) => [s.token, s]));
  const slabsOf = new Map<SegmentStatus, SegmentStatus[]>();
  for (const s of out) {
    if (!s.slab) continue;
    const ring = rings.get(s.slab.ringToken);
    s.slab.ring = ring?.name ?? null;
    if (ring !== undefined) slabsOf.set(ring, [...(slabsOf.get(ring) ?? []), s]);
  }
  for (const [ring, slabs] of slabsOf) {
    if (ring.pool) ring.pool.slabNames = slabs.sort((a, b) => a.slab!.index - b.slab!.index).map((s) => s.name).join(", ");
  }
  return out.sort((a, b) => a.createdMs - b.createdMs);
}

export interface SweepOptions {
  /** List what would be removed, remove nothing. */
  dryRun?: boolean;
  /** Only consider names with the "smsh-" prefix (the cheap opportunistic sweep). */
  prefixOnly?: boolean;
  /**
   * Only consider these segments (names as in /dev/shm; a leading "/dev/shm/"
   * is accepted), and the loan pool slabs of the rings among them (a dead
   * writer's slabs go with its ring). Names that do not exist are skipped.
   * Other processes' leftovers stay, and so do doorbell files (only a full
   * sweep removes those: they are harmless, the next sleeper of the line
   * binds over them).
   */
  names?: readonly string[];
}

export interface SweepEntry {
  /** A segment's name, or for a doorbell "<directory>/<file>" relative to /dev/shm. */
  name: string;
  /** "segment": a shared-memory object; "doorbell": a socket file in this user's doorbell directory. */
  kind: "segment" | "doorbell";
  /** Why it is dead. */
  reason: string;
  /** The parsed header, when there is one (not for an abandoned creation or a doorbell). */
  status: SegmentStatus | null;
}

/** An object we started to create and never finished: empty or unpublished, our prefix, no owner lock, old. */
const ABANDONED_AFTER_MS = 1_000;

/**
 * Removes the segments of this package whose owner is dead: its liveness
 * lock is gone (or, for a segment without locks, its pid is gone or belongs
 * to a process with another start time). Never touches live segments,
 * segments of other users, or objects that are not this package's. A dead
 * writer's loan pool slabs are segments it owned, and go the same way.
 * Returns what it removed (with dryRun: what it would remove).
 */
export function sweep(options: SweepOptions = {}): SweepEntry[] {
  return sweepAmong(options, null);
}

/** sweep(options), with `listing` (if not null) standing for this user's "smsh-" names in /dev/shm. */
function sweepAmong(options: SweepOptions, listing: string[] | null): SweepEntry[] {
  const { SegmentHandle } = native(); // ENOTSUP here, before /dev/shm is read, where there is no binary
  if (!LEAVES_NAMES) return []; // nothing outlives its handles (see LEAVES_NAMES)
  const euid = process.geteuid?.() ?? -1;
  const removed: SweepEntry[] = [];
  const removedTokens = new Map<string, string>(); // token hex -> segment name
  const names = options.names !== undefined ? onlyNames(options.names) : (listing ?? candidates(options.prefixOnly === true));
  const found: [string, Inspection][] = [];
  for (const name of names) {
    try {
      found.push([name, SegmentHandle.inspect(name)]);
    } catch {
      /* vanished or unreadable */
    }
  }
  const rings = new Map<string, string>(); // token hex -> ring name, to say whose slab a slab is
  for (const [name, ins] of found) if (isRing(ins)) rings.set(tokenOf(ins), name);
  if (options.names !== undefined && rings.size > 0) {
    // A named ring's pool slabs are considered with it (each judged by its own owner, as any segment).
    const given = new Set(names);
    // Slab names are keyed by each ring's secret (nothing in a name says whose it is): this user's pool objects
    // are inspected, and each kept whose pool line names one of these rings' tokens.
    for (const name of candidates(true)) {
      if (given.has(name) || !name.includes(".")) continue;
      let ins: Inspection;
      try {
        if (statSync(`${SHM_DIR}/${name}`).uid !== euid) continue; // never ours: not even opened
        ins = SegmentHandle.inspect(name);
      } catch {
        continue;
      }
      if (!ins.invalid && isPool(ins) && rings.has(slabInfo(new DataView(ins.header)).ringToken)) found.push([name, ins]);
    }
  }
  for (const [name, ins] of found) {
    if (ins.uid !== euid) continue; // other users' segments are theirs to sweep
    let entry: SweepEntry | null = null;
    if (!ins.invalid) {
      const s = statusOf(name, ins);
      if (!s.owner.alive) {
        const ring = s.slab ? rings.get(s.slab.ringToken) : undefined;
        const whose = s.slab ? ` (slab ${s.slab.index} of ${ring ?? "a ring"}'s loan pool)` : "";
        entry = { name, kind: "segment", status: s, reason: `owner pid ${s.owner.pid} is dead${s.liveness === "pid" ? " (by pid and start time)" : ""}${whose}` };
      }
    } else if (ins.invalid === "EAGAIN" && name.startsWith(NAME_PREFIX) && !ins.ownerLocked) {
      let age = 0;
      try {
        age = Date.now() - statSync(`${SHM_DIR}/${name}`).mtimeMs;
      } catch {
        continue;
      }
      if (age > ABANDONED_AFTER_MS) entry = { name, kind: "segment", status: null, reason: "creation never finished and its creator is gone" };
    }
    if (!entry) continue;
    if (!options.dryRun) {
      try {
        SegmentHandle.unlinkIfSame(name, ins.id);
      } catch {
        continue;
      }
    }
    removed.push(entry);
    if (entry.status) removedTokens.set(tokenOf(ins), name);
  }
  if (options.names === undefined) removed.push(...sweepDoorbells(options.dryRun === true, removedTokens));
  return removed;
}

/** The names given to sweep({ names }), as names in /dev/shm; bad ones are a TypeError up front. */
function onlyNames(names: readonly string[]): string[] {
  if (!Array.isArray(names)) throw invalidArgType("options.names", "an array of segment names", names);
  return [...new Set(names.map((n, i) => segmentName(n, `options.names[${i}]`)))];
}

/** A segment's name from "NAME" or "/dev/shm/NAME" (what `ls /dev/shm` shows, with its directory); TypeError otherwise. */
export function segmentName(nameOrPath: unknown, argName = "name"): string {
  const prefix = `${SHM_DIR}/`;
  const name = typeof nameOrPath === "string" && nameOrPath.startsWith(prefix) ? nameOrPath.slice(prefix.length) : nameOrPath;
  return validateName(name, argName);
}

function tokenOf(ins: Inspection): string {
  return Buffer.from(ins.header, OFFSETS.token, TOKEN_SIZE).toString("hex");
}

/**
 * Socket files in this user's doorbell directory (/dev/shm/.smsh-<uid>)
 * that nobody listens on: left by sleepers killed with -9 (a closing one
 * removes its own). Files somebody listens on are never removed, also when
 * their segment was just swept: their listener removes them when it closes.
 */
function sweepDoorbells(dryRun: boolean, removedTokens: Map<string, string>): SweepEntry[] {
  let found: ReturnType<Binding["WaiterHandle"]["sweepDoorbells"]>;
  try {
    found = native().WaiterHandle.sweepDoorbells(dryRun);
  } catch {
    return []; // no usable directory: nothing of ours to remove
  }
  const dir = found.dir.slice(SHM_DIR.length + 1);
  const out: SweepEntry[] = [];
  for (const f of found.files) {
    if (f.live || (!dryRun && !f.removed)) continue;
    const seg = removedTokens.get(f.name.slice(0, 2 * TOKEN_SIZE));
    out.push({
      name: `${dir}/${f.name}`,
      kind: "doorbell",
      status: null,
      reason: seg ? `doorbell of ${seg} (removed); nobody listens on it` : "doorbell nobody listens on (its sleeper died)",
    });
  }
  return out;
}

let lastOpportunistic = 0;
/** How often opening a channel may sweep. */
export const OPPORTUNISTIC_SWEEP_MS = 30_000;

/**
 * A cheap sweep of "smsh-" names at most every OPPORTUNISTIC_SWEEP_MS; never
 * throws. SYNAPTIC_SHM_NO_AUTOSWEEP=1 in the environment turns it off (for
 * operators who sweep on their own schedule, and for this package's tests,
 * which look at dead segments on purpose).
 */
export function sweepOpportunistically(): void {
  if (process.env.SYNAPTIC_SHM_NO_AUTOSWEEP === "1") return;
  const now = Date.now();
  if (now - lastOpportunistic < OPPORTUNISTIC_SWEEP_MS) return;
  lastOpportunistic = now;
  autoSweep();
}

/**
 * A process on the other side died: its segments (this side's mapping stays
 * to read them) and the doorbell sockets it left go. A whole sweep of this
 * user's segments, once per death: a dead sleeper's doorbells are named by
 * the token of the segment it slept on, not by its name. (Peers, broadcast rings.)
 */
export function sweepAfterDeath(): void {
  autoSweep();
}

// ---- automatic sweeps: bounded work on the event loop ----
//
// /dev/shm is shared by every user, and anyone can fill it with "smsh-"
// files: 200,000 empty ones made a sweep that inspected every name stall the
// event loop for 4.6 s, again at every later sweep. So an automatic sweep
// lists the directory a little at a time (an open Dir, AUTO_SWEEP_SLICE_MS
// of work per turn, the rest on an unref'd timer: it never keeps a process
// alive), keeps only regular files of this user (a stat, no open), and
// inspects only those. With a few names it all happens within the call, as
// before. Other users' files cost a stat each, spread over turns.

/** Work per event-loop turn of an automatic sweep's listing. */
const AUTO_SWEEP_SLICE_MS = 2;
let autoSweeping = false;
let autoSweepAgain = false;

function autoSweep(): void {
  if (!LEAVES_NAMES) return;
  if (autoSweeping) {
    autoSweepAgain = true; // a death while listing: look once more when done
    return;
  }
  let dir: Dir;
  try {
    native(); // no addon: nothing to sweep with (exit cleanup and `synaptic-shm sweep` remain)
    dir = opendirSync(SHM_DIR, { bufferSize: 128 });
  } catch {
    return;
  }
  autoSweeping = true;
  listSlice(dir, [], process.geteuid?.() ?? -1);
}

function listSlice(dir: Dir, mine: string[], euid: number): void {
  const until = performance.now() + AUTO_SWEEP_SLICE_MS;
  try {
    for (;;) {
      const e = dir.readSync();
      if (e === null) break;
      if (e.name.startsWith(NAME_PREFIX) && e.isFile()) {
        try {
          if (statSync(`${SHM_DIR}/${e.name}`).uid === euid) mine.push(e.name);
        } catch {
          /* gone meanwhile */
        }
      }
      if (performance.now() >= until) {
        setTimeout(() => listSlice(dir, mine, euid), 1).unref();
        return;
      }
    }
  } catch {
    /* the listing failed: sweep what was found */
  }
  try {
    dir.closeSync();
  } catch {
    /* closed already */
  }
  try {
    sweepAmong({ prefixOnly: true }, mine.filter(isOurName));
  } catch {
    /* best effort */
  }
  autoSweeping = false;
  if (autoSweepAgain) {
    autoSweepAgain = false;
    autoSweep();
  }
}

/** Whether `n` is a name this package could have made. */
function isOurName(n: string): boolean {
  try {
    validateName(n);
    return true;
  } catch {
    return false;
  }
}
