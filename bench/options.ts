// The benchmark's command line.
import { availableParallelism } from "node:os";

import { TEST_TRANSPORTS, TRANSPORTS } from "./transports/index.js";
import type { Scenario } from "./scenarios.js";

export interface Options {
  transports: string[];
  scenarios: Scenario[];
  /** Sizes per scenario. */
  sizes: Record<Scenario, number[]>;
  rounds: number;
  messages: number;
  iterations: number;
  pin: boolean;
  /** Busy-loop processes to run while measuring (--load); 0: none. */
  load: number;
  cork: boolean;
  /** The shm-event and shm-futex transports' spin option. */
  spin: number | "adaptive";
  json: string | null;
  markdown: string | null;
  rowTimeoutMs: number;
  quick: boolean;
  full: boolean;
}

export const USAGE = `usage: synaptic-shm bench [options]

Measures this package's shared-memory channel against Node TCP loopback, Unix
domain sockets and ZeroMQ (ipc:// and tcp://), across two processes, in one run.

  --quick              reduced run (under a minute on 2 cores)
  --full               adds 1 GiB to the bulk sizes
  --transports LIST    ${TRANSPORTS.join(",")} (default: all)
  --scenarios LIST     rtt,stream,bulk (default: all)
  --sizes LIST         message/buffer sizes for every chosen scenario, e.g. 64,1k,64k,1m
  --rounds N           rtt: timed round trips per row (default 20000; quick 1000)
  --messages N         stream: messages per row (default 500000 or 256 MiB; quick 100000)
  --iterations N       bulk: timed transfers per row (default 5; quick 3)
  --pin                pin the two processes to different cores (taskset)
  --load [N]           measure on a loaded machine: N busy-loop processes (default: one
                       per core, ${availableParallelism()} here), each pinned to a core with taskset,
                       running from before the first row to after the last; 0: none
  --no-cork            publish/write every message on its own (no batching per tick)
  --spin S             shm-event/shm-futex: "adaptive" (default), microseconds, or inf
  --json FILE          write the results as JSON
  --markdown FILE      write a Markdown report and an SVG latency chart beside it
  --row-timeout S      fail a row that takes longer (default 300; quick 60)
  -h, --help           this text
`;

/** Parses "64", "1k", "64KiB", "10m", "1g" (binary units). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size "${s}"`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Math.round(Number(m[1]) * mult);
}

export function formatSize(n: number): string {
  if (n >= 1024 ** 3 && n % 1024 ** 3 === 0) return `${n / 1024 ** 3} GiB`;
  if (n >= 1024 ** 2 && n % 1024 ** 2 === 0) return `${n / 1024 ** 2} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

export class UsageError extends Error {}

export function parseOptions(argv: string[]): Options | null {
  const args = [...argv];
  const value = (flag: string): string => {
    const v = args.shift();
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const count = (flag: string): number => {
    const v = Number(value(flag));
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`${flag} needs a positive integer`);
    return v;
  };
  let transports: string[] = [...TRANSPORTS];
  let scenarios: Scenario[] = ["rtt", "stream", "bulk"];
  let sizes: number[] | null = null;
  let rounds: number | null = null;
  let messages: number | null = null;
  let iterations: number | null = null;
  let rowTimeout: number | null = null;
  const o = { load: 0, spin: "adaptive" as number | "adaptive", pin: false, cork: true, json: null as string | null, markdown: null as string | null, quick: false, full: false };
  while (args.length) {
    const a = args.shift()!;
    switch (a) {
      case "-h":
      case "--help":
        return null;
      case "--quick":
        o.quick = true;
        break;
      case "--full":
        o.full = true;
        break;
      case "--pin":
        o.pin = true;
        break;
      case "--load": {
        // The count is optional: "--load" alone is one busy loop per core.
        const cores = availableParallelism();
        if (args[0] !== undefined && /^\d+$/.test(args[0])) o.load = Number(args.shift());
        else o.load = cores;
        if (o.load > 4 * cores) throw new UsageError(`--load ${o.load}: at most 4 busy loops per core (${4 * cores} here)`);
        break;
      }
      case "--no-cork":
        o.cork = false;
        break;
      case "--spin": {
        const v = value(a);
        const n = v === "inf" || v === "Infinity" ? Infinity : Number(v);
        if (v !== "adaptive" && !(n >= 0)) throw new UsageError(`--spin ${v}: "adaptive", a number of microseconds, or inf`);
        o.spin = v === "adaptive" ? "adaptive" : n;
        break;
      }
      case "--transports":
        transports = value(a).split(",");
        for (const t of transports) {
          if (![...TRANSPORTS, ...TEST_TRANSPORTS].includes(t as never)) throw new UsageError(`unknown transport "${t}"`);
        }
        break;
      case "--scenarios":
        scenarios = value(a).split(",") as Scenario[];
        for (const s of scenarios) if (!["rtt", "stream", "bulk"].includes(s)) throw new UsageError(`unknown scenario "${s}"`);
        break;
      case "--sizes":
        try {
          sizes = value(a).split(",").map(parseSize);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        if (sizes.some((n) => n < 4)) throw new UsageError("sizes must be at least 4 bytes (the sequence number)");
        break;
      case "--rounds":
        rounds = count(a);
        break;
      case "--messages":
        messages = count(a);
        break;
      case "--iterations":
        iterations = count(a);
        break;
      case "--row-timeout":
        rowTimeout = count(a);
        break;
      case "--json":
        o.json = value(a);
        break;
      case "--markdown":
        o.markdown = value(a);
        break;
      default:
        throw new UsageError(`unknown option "${a}"`);
    }
  }
  const bulk = o.quick ? [1 << 20, 10 << 20] : [1 << 20, 10 << 20, 100 << 20];
  if (o.full) bulk.push(1 << 30);
  return {
    ...o,
    transports,
    scenarios,
    sizes: {
      rtt: sizes ?? [64, 1024, 65536],
      stream: sizes ?? [64, 4096],
      bulk: sizes ?? bulk,
    },
    rounds: rounds ?? (o.quick ? 1000 : 20000),
    messages: messages ?? (o.quick ? 100000 : 500000),
    iterations: iterations ?? (o.quick ? 3 : 5),
    rowTimeoutMs: (rowTimeout ?? (o.quick ? 60 : 300)) * 1000,
  };
}
