// Scratch directories for socket files (uds, zmq-ipc). The orchestrator makes
// one directory per run and names it in the environment its row processes
// inherit; they make theirs inside it, and the orchestrator removes the whole
// tree at the end, also when a row process was killed (a failed or timed-out
// row) and could not remove its own.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const ENV = "SYNAPTIC_SHM_BENCH_SCRATCH";

/**
 * Whether ZeroMQ's ipc:// endpoints (AF_UNIX) work here. Its Windows build
 * refuses them ("address family not supported", also under Wine): there the
 * zmq-ipc rows are skipped and Peer rows listen on tcp loopback instead.
 */
export const ZMQ_IPC = process.platform !== "win32";

/** A Peer listener's local endpoint for a row: ipc:// in `dir`, or tcp loopback where ZMQ_IPC is false. */
export function peerEndpoint(dir: string, file: string): string {
  return ZMQ_IPC ? `ipc://${path.join(dir, file)}` : "tcp://127.0.0.1:0";
}

/**
 * Where the uds rows listen: a socket file in `dir`; on Windows, where
 * Node's IPC paths are named pipes, the pipe \\.\pipe\<dir's name>-<file>.
 */
export function ipcPath(dir: string, file: string): string {
  return process.platform === "win32" ? `\\\\.\\pipe\\${path.basename(dir)}-${file}` : path.join(dir, file);
}

/** A new directory for one row's socket files: inside the run's directory when there is one. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(path.join(process.env[ENV] ?? tmpdir(), prefix));
}

/** Makes the run's directory and names it for the row processes; the returned function removes it (safe twice). */
export function runScratch(): () => void {
  const dir = mkdtempSync(path.join(tmpdir(), "smsh-bench-run-"));
  process.env[ENV] = dir;
  return () => {
    rmSync(dir, { recursive: true, force: true });
    if (process.env[ENV] === dir) delete process.env[ENV];
  };
}
