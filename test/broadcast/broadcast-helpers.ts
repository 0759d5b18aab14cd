// Subscriber processes for the broadcast tests (test/fixtures/broadcast-sub.ts).
import type { ChildProcess } from "node:child_process";
import { statSync } from "node:fs";

import { listSegments } from "../../dist/lib/index.js";

import { spawnFixture, waitForLine } from "../helpers.js";

export interface SubSummary {
  got: number;
  first: number;
  last: number;
  missed: number;
  missedSeen: number;
  code: string;
  evictedMissed: number;
  errors: string[];
  laps: number;
}

export interface SubProcess {
  child: ChildProcess;
  /** Resolves once the subscriber is attached (its slot). */
  ready: Promise<number>;
  /** Its summary line, once it has stopped. */
  result: Promise<SubSummary>;
}

/** Starts a subscriber of ring `name` with `topics` ("*" = all) and fixture options ("pauseAfter=1", ...). */
export function startSub(name: string, topics: string, ...opts: string[]): SubProcess {
  const child = spawnFixture("broadcast-sub", [name, topics, ...opts]);
  let buf = "";
  child.stdout!.on("data", (d: Buffer) => (buf += d.toString()));
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  // Generous: a fresh node process on a loaded 2-core machine takes 0.2-2 s to start.
  const ready = waitForLine(child, /^ready (\d+)$/m, 20_000).then((l) => Number(/(\d+)/.exec(l)![1]));
  const result = new Promise<SubSummary>((resolve, reject) => {
    child.on("close", (code, signal) => {
      const line = buf.split("\n").find((l) => l.startsWith("{"));
      if (line === undefined) reject(new Error(`subscriber ended (${code ?? signal}) without a summary: ${stderr}`));
      else resolve(JSON.parse(line) as SubSummary);
    });
  });
  result.catch(() => undefined);
  return { child, ready, result };
}

/** Bytes of shared memory (allocated, as /dev/shm counts them) in segments owned by these processes. */
export function sharedBytesOf(pids: number[]): number {
  let sum = 0;
  for (const s of listSegments()) {
    if (!pids.includes(s.owner.pid)) continue;
    try {
      sum += statSync(`/dev/shm/${s.name}`).blocks * 512;
    } catch {
      /* gone meanwhile */
    }
  }
  return sum;
}
