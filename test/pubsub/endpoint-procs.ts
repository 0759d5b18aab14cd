// Subscriber processes (test/fixtures/pubsub-subscriber.ts) for the endpoint
// tests: spawn, wait for "ready", collect the checked result.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import type { Publisher } from "../../dist/lib/index.js";
import { sleep, spawnFixture } from "../helpers.js";

export interface SubResult {
  count: number;
  sum: number;
  missed: number;
  first: number;
  last: number;
  bad: string | null;
  /** "end" (the stream ended: the publisher closed), or the error code that ended it. */
  code: string;
}

export interface SubProcess {
  child: ChildProcess;
  /** The transport it reported. */
  ready: Promise<string>;
  /** Resolves with a line matching re. */
  line(re: RegExp, ms?: number): Promise<string>;
  done: Promise<SubResult>;
}

export interface SubOptions {
  topics: string[];
  transport?: "auto" | "zmq";
  stallMs?: number;
  slowMs?: number;
  stopAfter?: number;
}

export function spawnSubscriber(endpoint: string, o: SubOptions): SubProcess {
  const child = spawnFixture("pubsub-subscriber", [endpoint, JSON.stringify(o)]);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const line = async (re: RegExp, ms = 30_000): Promise<string> => {
    // Generous: up to 9 Node processes start at once on a loaded 2-core machine.
    const end = Date.now() + ms;
    for (;;) {
      const hit = out.split("\n").find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (child.exitCode !== null && !re.test(out)) throw new Error(`subscriber exited ${child.exitCode} without ${re}; stdout ${JSON.stringify(out)} stderr ${err}`);
      if (Date.now() > end) throw new Error(`no line matching ${re} within ${ms} ms; stdout ${JSON.stringify(out)} stderr ${err}`);
      await sleep(10);
    }
  };
  return {
    child,
    line,
    ready: line(/^ready /).then((l) => l.slice("ready ".length)),
    done: line(/^done /, 60_000).then((l) => JSON.parse(l.slice("done ".length)) as SubResult),
  };
}

/** Until `pub` has `n` subscribers (each said what it wants). */
export async function subscribersJoined(pub: Publisher, n: number, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (pub.subscribers.length < n) {
    if (Date.now() > end) throw new Error(`${pub.subscribers.length} subscribers of ${n} within ${ms} ms`);
    await sleep(10);
  }
}

/** A temporary directory for ipc:// endpoints, and endpoints in it. */
export function endpoints(prefix: string): { next(): string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  let n = 0;
  return { next: () => `ipc://${path.join(dir, `e${n++}.sock`)}`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
