// Files outside /dev/shm that this process made and must not leave behind:
// a listener's ipc:// socket file, an agent's private directory. Each is
// removed by its owner's close(); if the process ends first, by the 'exit'
// event (process.exit(), an uncaught exception, the script's end) or, when
// SIGINT, SIGTERM or SIGHUP ends it, by the native signal handler that
// removes owned segments (csrc/core/signal_cleanup.h). Only while the path
// is still the file or directory that was registered (device and inode):
// never one that someone else has put there since. A directory goes only
// once empty, after the files. SIGKILL and crashes leave them.
import { lstatSync, rmdirSync, unlinkSync } from "node:fs";

import { installCleanup } from "./cleanup.js";
import { native, type OwnedPathHandle } from "./native.js";

interface Owned {
  path: string;
  directory: boolean;
  id: string; // dev:ino
  handle: OwnedPathHandle | null;
}

const owned = new Set<Owned>();
let hooked = false;

function identity(path: string): string | null {
  try {
    const st = lstatSync(path, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

export interface OwnedPath {
  /** Forgets it: the process no longer removes it when it ends (the caller removes it, or keeps it). */
  release(): void;
  /** release(), then removes it now if it is still the one registered (a directory only if empty). */
  remove(): void;
}

/**
 * Registers the file (or directory) at the absolute `path`, as it is now, for
 * removal when the process ends. A path that does not exist registers nothing.
 */
export function ownPath(path: string, directory = false): OwnedPath {
  const id = identity(path);
  if (id === null) return { release: () => {}, remove: () => {} };
  let handle: OwnedPathHandle | null = null;
  try {
    handle = native().ownPath(path, directory);
  } catch {
    // no addon here (a peer over zmq only): the 'exit' removal below still works
  }
  const entry: Owned = { path, directory, id, handle };
  owned.add(entry);
  if (handle !== null) installCleanup(); // re-arms the signal handler when a JavaScript listener goes (as for owned segments)
  if (!hooked) {
    hooked = true;
    process.on("exit", removeAll);
  }
  const release = (): void => {
    if (!owned.delete(entry)) return;
    if (entry.handle !== null) native().disownPath(entry.handle);
  };
  return {
    release,
    remove() {
      release();
      removeIfSame(entry);
    },
  };
}

function removeIfSame(e: Owned): void {
  if (identity(e.path) !== e.id) return;
  try {
    if (e.directory) rmdirSync(e.path);
    else unlinkSync(e.path);
  } catch {
    // not empty, or gone meanwhile
  }
}

function removeAll(): void {
  const all = [...owned];
  owned.clear();
  for (const pass of [false, true]) for (const e of all) if (e.directory === pass) removeIfSame(e);
}
