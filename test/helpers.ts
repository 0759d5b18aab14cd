// Shared helpers for the tests: the package under test is the built one
// (dist/, loading the addon through node-gyp-build), and child processes
// run the compiled fixtures in dist/test/fixtures.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";

import { Channel, type ChannelAttachOptions, type ChannelReader, type ChannelWriter, type Peer, type Segment, type Server } from "../dist/lib/index.js";
import { OFFSETS } from "../dist/lib/core/layout.js";
import { CONTROL } from "../dist/lib/broadcast/layout.js";
import { readSlabKey } from "../dist/lib/loan/slab.js";

export const ROOT = path.resolve(__dirname, "..");

/**
 * For it.skipIf(LINUX_ONLY): a test of Linux mechanics (the /dev/shm file,
 * signals such as SIGSTOP, sweeping leftovers, views V8 does not count, a
 * private /dev/shm). These files also run on Windows under Wine
 * (vitest.win.config.mts), where each such test says what covers it there.
 */
export const LINUX_ONLY = process.platform !== "linux";

/** Hex of a channel ring's secret slab key: its pool's slabs are "smsh-<key>.<index>". */
export function channelSlabKey(ring: Segment): string {
  return readSlabKey(ring, OFFSETS.slab_key)!;
}

/** Hex of a broadcast ring's secret slab key (control block, PROTOCOL §6.1). */
export function broadcastSlabKey(ring: Segment): string {
  return readSlabKey(ring, ring.dataOffset + CONTROL.slab_key)!;
}
export const FIXTURES = path.join(ROOT, "dist", "test", "fixtures");

/** Path of a compiled fixture script. */
export function fixture(name: string): string {
  const p = path.join(FIXTURES, `${name}.js`);
  if (!existsSync(p)) throw new Error(`${p} missing: run "npm run build:ts" first (npm test does)`);
  return p;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a fixture in a child process and collects its output; kills it after timeoutMs. */
export function runFixture(name: string, args: string[], timeoutMs = 20_000): Promise<ChildResult> {
  const child = spawnFixture(name, args);
  return collect(child, timeoutMs);
}

const children = new Set<ChildProcess>();

/** Spawns a fixture; killStrays() ends it if a failing test leaves it running. */
export function spawnFixture(name: string, args: string[]): ChildProcess {
  return track(spawn(process.execPath, [fixture(name), ...args], { stdio: ["ignore", "pipe", "pipe"] }));
}

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** SIGKILLs every tracked child still running (for afterEach). */
export function killStrays(): void {
  for (const c of children) c.kill("SIGKILL");
  children.clear();
}

export function collect(child: ChildProcess, timeoutMs = 20_000): Promise<ChildResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Resolves with the first stdout line of `child` that matches `re`. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; got ${JSON.stringify(buf)}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString();
      for (const line of buf.split("\n")) {
        if (re.test(line)) {
          clearTimeout(timer);
          child.stdout?.off("data", onData);
          resolve(line);
          return;
        }
      }
    };
    child.stdout?.on("data", onData);
  });
}

/** Expects `fn` to throw an error whose `code` is `code`; returns the error. */
export function expectCode(fn: () => unknown, code: string): Error & { code: string } {
  try {
    fn();
  } catch (e) {
    const err = e as Error & { code: string };
    if (err.code !== code) throw new Error(`expected code ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  throw new Error(`expected an error with code ${code}, nothing was thrown`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Fills a writer's ring to the last byte (64-byte messages, then 1-byte ones). */
export function fillRing(tx: ChannelWriter): void {
  while (tx.trySend(Buffer.alloc(64, 1)));
  while (tx.trySend(Buffer.alloc(1, 1)));
}

/** A channel in this process: its writer, its reader, and close() for both. */
export function channelPair(capacity = 1024, attach?: ChannelAttachOptions): { tx: ChannelWriter; rx: ChannelReader; close(): void } {
  const tx = Channel.create({ capacity });
  const rx = Channel.attach(tx.name, attach);
  return {
    tx,
    rx,
    close() {
      rx.close();
      tx.close();
    },
  };
}

/** The server's next peer; rejects after 30 s (generous: a child Node process starting on a loaded machine) rather than hang. */
export async function firstPeer(server: Server): Promise<Peer> {
  let timer: NodeJS.Timeout | undefined;
  const first = (async () => {
    for await (const p of server) return p;
    throw new Error("the server closed before a peer came");
  })();
  try {
    return await Promise.race([first, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("no peer within 30 s")), 30_000)))]);
  } finally {
    clearTimeout(timer);
  }
}
