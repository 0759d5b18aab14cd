// Binding an ipc:// endpoint safely: the socket file is owner-only from the
// moment it exists (bound inside a fresh 0700 directory, made 0600, then
// linked into place, so no other user can connect between the bind and a
// chmod, and a listener that lost a race gets EADDRINUSE instead of
// replacing the winner's socket), a live listener's socket is never taken over (EADDRINUSE), any
// file that is not a socket is never replaced (EEXIST), and close() removes
// the socket file if it is still ours (so do exit and SIGINT/SIGTERM/SIGHUP:
// core/owned-paths.ts).
import { chmodSync, linkSync, lstatSync, mkdtempSync, rmdirSync, unlinkSync, type Stats } from "node:fs";
import { connect as netConnect } from "node:net";
import * as path from "node:path";

import { shmError } from "../core/errors.js";
import { ownPath } from "../core/owned-paths.js";

/** Whether something accepts connections on the unix socket at `file` (a live listener). */
function listening(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(file);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Throws if `file` must not be bound over; removes a stale socket left by a listener that died. */
export async function clearIpcPath(file: string): Promise<void> {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return;
    throw e;
  }
  if (!st.isSocket()) throw shmError("EEXIST", `${file} exists and is not a socket: not replaced`);
  if (await listening(file)) throw shmError("EADDRINUSE", `${file}: another listener is live there`);
  unlinkSync(file); // stale: its listener died without removing it
}

/** Binds `file` through `bind(endpoint)` so that it is owner-only from the start. */
export async function bindOwnerOnly(file: string, bind: (endpoint: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(path.dirname(file), ".smsh-bind-")); // 0700
  const tmp = path.join(dir, "s");
  try {
    await bind(`ipc://${tmp}`);
    chmodSync(tmp, 0o600);
    // link(), not rename(): it fails if the path exists (another listen() won the race), rename would replace it.
    try {
      linkSync(tmp, file);
    } catch (e) {
      if ((e as { code?: string }).code === "EEXIST") throw shmError("EADDRINUSE", `${file}: another listener took this path first`);
      throw e;
    }
  } finally {
    for (const undo of [() => unlinkSync(tmp), () => rmdirSync(dir)]) {
      try {
        undo();
      } catch {
        // not there (the bind failed)
      }
    }
  }
}

/**
 * Binds a ZeroMQ socket on `endpoint`: an ipc:// path owner-only from the
 * start (clearIpcPath, bindOwnerOnly), tcp:// and abstract names as they
 * are. Returns the endpoint bound (with the port chosen for "tcp://host:*")
 * and how to remove the socket file later (null when there is none). The
 * caller closes the socket if this throws.
 */
export async function bindEndpoint(sock: { bind(endpoint: string): Promise<void>; readonly lastEndpoint: string | null }, endpoint: string): Promise<{ bound: string; unbind: (() => void) | null }> {
  const file = endpoint.startsWith("ipc://") && !endpoint.startsWith("ipc://@") ? endpoint.slice("ipc://".length) : null;
  if (file === null) {
    await sock.bind(endpoint);
    return { bound: sock.lastEndpoint ?? endpoint, unbind: null };
  }
  // Owner-only from the start: another user must not even connect.
  await clearIpcPath(file);
  await bindOwnerOnly(file, (tmp) => sock.bind(tmp));
  // Removed by unbind() if it is still ours, else at exit or on a signal.
  return { bound: endpoint, unbind: ownPath(path.resolve(file)).remove };
}
