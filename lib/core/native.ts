// Loads the addon and declares its whole surface. Only this file touches the
// binding; the public classes (segment.ts, notify.ts) wrap it and validate
// arguments first, so the binding sees only well-formed calls.
//
// The addon is loaded on first use, not at import: a package that depends on
// this one must be able to import it on any platform (macOS, Windows, a Linux
// without a fitting binary) and fall back when the first native call throws
// ENOTSUP. native() is called where a handle is made (Segment.create/attach,
// a Waiter, a peer watch, sweep), never per message.
import { readdirSync } from "node:fs";
import * as path from "node:path";
import nodeGypBuild = require("node-gyp-build");

import { shmError, type ShmError } from "./errors.js";

/** A mapped segment as the binding sees it. */
export interface SegmentHandle {
  /** Sizes and identity as validated at create/attach (never re-read from shared memory). */
  info(): SegmentInfo;
  /** The one ArrayBuffer over the whole mapping (header page + data), created on first call. */
  buffer(): ArrayBuffer;
  /**
   * An ArrayBuffer of its own over `length` bytes of the mapping at `offset`
   * (a loan's memory). It keeps the mapping alive until collected; close()
   * detaches every view still alive.
   */
  view(offset: number, length: number): ArrayBuffer;
  /**
   * Detaches a view made by view() now (byteLength 0). TypeError for any
   * other buffer. Returns 0, or a token (for viewInUse) while a buffer that
   * took the memory over by a transfer may still read it.
   */
  detachView(view: ArrayBuffer): number;
  /**
   * Whether the memory behind a token from detachView() or viewToken() may
   * still be read by some buffer (one that took it over by a transfer, or a
   * collected view not yet swept).
   */
  viewInUse(token: number): boolean;
  /** The token of a live view made by view(): its entry in the native buffer table. */
  viewToken(view: ArrayBuffer): number;
  /** Closes waiters, detaches the ArrayBuffer, unlinks if set to, unmaps. Safe twice. */
  close(): void;
  /** Removes the name if it still names this segment's object. Safe twice. */
  unlink(): void;
  /** Whether close() also unlinks (default: true for the creator). */
  setUnlinkOnClose(on: boolean): void;
  closed(): boolean;
  /** Blocking futex wait on the u32 at `offset` while it equals `expected`. */
  wait(offset: number, expected: number, timeoutMs?: number): "ok" | "not-equal" | "timed-out";
  /** Wakes up to `count` (default all) futex sleepers on the u32 at `offset`. */
  wake(offset: number, count?: number): number;
  /** Eventcount waker for the wait line at `lineOffset`: no syscall unless someone waits. Offsets of
   * wait, wake and notify must be those of wait lines (512 reader_wait, 640 writer_wait). */
  notify(lineOffset: number): boolean;
  /** Opens the socket notify() rings doorbells with, now: a waker must not find the descriptor limit later. */
  openWaker(): void;
  /** Takes an OFD write lock on one header byte without waiting; false if another holder has it. */
  lock(byte: number): boolean;
  unlock(byte: number): void;
  /** Whether another open file description (a live process) holds a lock on `byte`. */
  probe(byte: number): boolean;
}

/** What SegmentHandle.inspect learns about a named object without mapping it. */
export interface Inspection {
  size: number;
  uid: number;
  mode: number;
  /** "dev:ino": identity of the object, for unlinkIfSame. */
  id: string;
  /** A copy of the first 4096 bytes (zero-filled past the end). */
  header: ArrayBuffer;
  /** Set when the header is not a valid layout-v1 header: ECORRUPT, EVERSION or EAGAIN. */
  invalid?: string;
  reason?: string;
  ownerLocked: boolean;
  readerLocked: boolean;
}

export interface SegmentInfo {
  name: string;
  size: number;
  dataSize: number;
  kind: number;
  capacity: number;
  owner: boolean;
  token: string;
  /** st_uid at create/attach; null on Windows. */
  ownerUid: number | null;
  /** st_mode & 0o7777 at create/attach; null on Windows. */
  mode: number | null;
}

export type WaitMode = "futex" | "doorbell";

/** Calls `callback` on the event loop once per arm(), when the wait line is notified. */
export interface WaiterHandle {
  arm(expectedSeq: number): void;
  disarm(): void;
  close(): void;
  /** The mechanism in use: "futex" also when "doorbell" was asked for and could not be used safely. */
  mode(): WaitMode;
  /** Why "doorbell" fell back to "futex", or null. */
  fallbackReason(): string | null;
}

/** A socket file in this user's doorbell directory (/dev/shm/.smsh-<uid>). */
export interface DoorbellFile {
  /** "<32 hex token>.<line offset>" */
  name: string;
  /** Someone listens on it (never removed). */
  live: boolean;
  removed: boolean;
}

/** Calls back on the event loop when a process exits (pidfd); does not keep the loop alive. */
export interface PeerWatchHandle {
  /** "watching"; "gone" (no such process here, or it exited); "unwatchable" (runs, but no pidfd). */
  state(): "watching" | "gone" | "unwatchable";
  close(): void;
}

export interface NativeLayout {
  offsets: Record<string, number>;
  magic: number;
  version: number;
  headerSize: number;
  lineSize: number;
  firstWaitLine: number;
  tokenSize: number;
  waitLineSeq: number;
  waitLineWaiting: number;
  waitFutex: number;
  waitDoorbell: number;
  kindPlain: number;
  kindRing: number;
  kindPool: number;
  lastWaitLine: number;
  maxSlots: number;
  frameLoanSize: number;
  sideAbsent: number;
  sideOpen: number;
  sideClosed: number;
  maxCapacity: number;
  maxSegmentSize: number;
  maxNameLength: number;
  sizeofHeader: number;
  flagLocks: number;
  ownerLockByte: number;
  readerLockByte: number;
}

/** A registration of ownPath (opaque). */
export type OwnedPathHandle = object;

export interface Binding {
  SegmentHandle: {
    create(name: string, dataSize: number, kind: number, capacity: number, prefault: boolean): SegmentHandle;
    /** kind: a segment of another kind is ECORRUPT before anything is mapped. */
    attach(name: string, prefault: boolean, kind?: number): SegmentHandle;
    /** Reads a header with pread and probes its liveness locks; maps and changes nothing. */
    inspect(name: string): Inspection;
    /** Unlinks "/name" only if it is still the object `id` ("dev:ino"). */
    unlinkIfSame(name: string, id: string): void;
  };
  WaiterHandle: {
    new (segment: SegmentHandle, lineOffset: number, mode: WaitMode, callback: () => void): WaiterHandle;
    /** Lists this user's doorbell sockets and (unless dryRun) removes those nobody listens on. */
    sweepDoorbells(dryRun: boolean): { dir: string; files: DoorbellFile[] };
  };
  PeerWatchHandle: new (pid: number, startTime: number, callback: () => void) => PeerWatchHandle;
  layout: NativeLayout;
  platform: string;
  /** Start time of `pid` in clock ticks since boot, or null if there is no such process here. */
  processStartTime(pid: number): number | null;
  /** This process's start time, as processStartTime(process.pid). */
  selfStartTime: number;
  /**
   * How views over shared memory are made (csrc/binding/uncounted_buffer.h):
   * "uncounted", V8 leaves them out of its external-memory count, so a view
   * of a large loan costs no garbage collection; "counted", plain Node-API
   * external buffers (other runtimes, or SMSH_COUNTED_VIEWS=1).
   */
  viewKind: "uncounted" | "counted";
  /** Detaches an ArrayBuffer over this package's shared memory, made in any thread; TypeError for any other. */
  detachShared(buffer: ArrayBuffer): void;
  /**
   * Installs the native cleanup handler for SIGINT, SIGTERM and SIGHUP where
   * the disposition is the default action or Node's own exit handler (never
   * over a JavaScript listener's, SIG_IGN or anyone else's). Returns the
   * signals it now covers.
   */
  armSignalCleanup(): ("SIGINT" | "SIGTERM" | "SIGHUP")[];
  /** Unlinks what this environment's segments would unlink on close (for 'exit'). */
  unlinkOwned(): void;
  /** Registers the file (or directory) at an absolute path for removal when SIGINT/SIGTERM/SIGHUP ends the process; null if it cannot. */
  ownPath(path: string, directory: boolean): OwnedPathHandle | null;
  disownPath(handle: OwnedPathHandle | null): void;
}

/** Where the addon exists: Linux (POSIX shared memory, futex, doorbells) and Windows (named mappings, semaphores). */
export const SUPPORTED: readonly string[] = ["linux", "win32"];

/** The package root: dist/lib/core/native.js -> ../../.. */
const root = path.join(__dirname, "..", "..", "..");
const PACKAGE = "@synaptic-mesh/shm";

/** Where a binary would be looked for, resolved once at import (a few stats, no dlopen); why not, when none fits. */
function resolveAddon(): { file: string | null; why: string } {
  if (!SUPPORTED.includes(process.platform)) return { file: null, why: "" };
  try {
    return { file: nodeGypBuild.path(root), why: "" };
  } catch (e) {
    return { file: null, why: String((e as Error).message).trim() };
  }
}
const resolved = resolveAddon();

/**
 * Path of the addon binary this process loads (build/Release when present,
 * else the prebuild for this platform), or null when none fits this
 * platform: then every native feature throws ENOTSUP at first use.
 */
export const addonPath: string | null = resolved.file;

let loaded: Binding | null = null;
let failure: { message: string; cause: unknown } | null = null;

/**
 * The binding, loaded on the first call. Throws ENOTSUP (a fresh error each
 * time, the same message) when this platform has no usable binary.
 */
export function native(): Binding {
  return loaded ?? load();
}

function load(): Binding {
  if (failure === null) {
    if (addonPath === null) {
      failure = { message: noBinaryMessage(), cause: resolved.why ? new Error(resolved.why) : undefined };
    } else {
      try {
        loaded = require(addonPath) as Binding;
        return loaded;
      } catch (e) {
        failure = {
          message: `the native binary ${addonPath} does not load here: ${String((e as Error).message).split("\n")[0]}. ${howToBuild()}`,
          cause: e,
        };
      }
    }
  }
  const e: ShmError = shmError("ENOTSUP", `${PACKAGE}: ${failure.message}`);
  if (failure.cause !== undefined) e.cause = failure.cause;
  throw e;
}

/** "linux-x64 (glibc)" for each prebuilds/<platform>-<arch>/ holding a binary. */
function prebuiltPlatforms(dir = root): string[] {
  const out: string[] = [];
  for (const tuple of safeReaddir(path.join(dir, "prebuilds")).sort()) {
    const files = safeReaddir(path.join(dir, "prebuilds", tuple)).filter((f) => f.endsWith(".node"));
    if (files.length === 0) continue;
    const libcs = [...new Set(files.map((f) => /\.(glibc|musl)\./.exec(f)?.[1]).filter(Boolean))];
    out.push(libcs.length > 0 ? `${tuple} (${libcs.join(", ")})` : tuple);
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function howToBuild(): string {
  return (
    `To build it from source, install a C++17 compiler, make and python3 (Debian/Ubuntu: apt-get install g++ make python3; ` +
    `Alpine: apk add g++ make python3) and run \`npm rebuild ${PACKAGE}\` in the project that depends on it ` +
    `(where npm blocks unreviewed install scripts, approve this one first: \`npm install-scripts approve ${PACKAGE}\`).`
  );
}

function noBinaryMessage(): string {
  const here = `${process.platform}-${process.arch}`;
  const prebuilt = prebuiltPlatforms();
  const list = prebuilt.length > 0 ? prebuilt.join(", ") : "none in this installation";
  if (!SUPPORTED.includes(process.platform)) {
    return (
      `shared memory IPC is supported on Linux and Windows, and this is ${here}. Prebuilt binaries: ${list}; ` +
      `other Linux architectures build from source. Importing the package works everywhere: ` +
      `catch code "ENOTSUP" to fall back to another transport.`
    );
  }
  return `no native binary fits ${here} (Node ${process.versions.node}, N-API 8). Prebuilt binaries: ${list}. ${howToBuild()}`;
}
