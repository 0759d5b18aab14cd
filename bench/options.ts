// The benchmark's command line, parsed by the package's one parser
// (lib/util/args.ts: "--rounds 5" and "--rounds=5" alike).
import { availableParallelism } from "node:os";

import { UsageError, parseCommandLine, parseInteger, type OptionSpecs } from "../lib/util/args.js";
import { TEST_TRANSPORTS, TRANSPORTS } from "./transports/index.js";
import { DEFAULT_BATCH, type Scenario } from "./scenarios.js";

export { UsageError };

export interface Options {
  transports: string[];
  scenarios: Scenario[];
  /** Sizes per scenario. */
  sizes: Record<Scenario, number[]>;
  rounds: number;
  messages: number;
  /** stream-batch: messages per sendMany(). */
  batch: number;
  iterations: number;
  /** pointcloud: timed transfers per row; null: by size (pointcloud.ts defaultTransfers). */
  transfers: number | null;
  pin: boolean;
  /** Busy-loop processes to run while measuring (--load); 0: none. */
  load: number;
  cork: boolean;
  /** The shm-event and shm-futex transports' spin option. */
  spin: number | "adaptive";
  json: string | null;
  markdown: string | null;
  /** Save the results to bench-results/<timestamp>.json and .md (--no-save: false). */
  save: boolean;
  rowTimeoutMs: number;
  quick: boolean;
  full: boolean;
}

export const USAGE = `usage: synaptic-shm bench [options]

Measures this package's shared-memory channel against what Node programs
otherwise use between local processes: TCP loopback, Unix domain sockets,
ZeroMQ (ipc:// and tcp://), child_process IPC (process.send), between
threads worker_threads MessagePorts, and another shared-memory package,
shared-memory-disruptor (disruptor: rtt, stream and stream-batch; skipped unless it
is installed with its addon built). Every row runs in fresh processes. The
results print with a legend and are saved to bench-results/<timestamp>.json
and .md. About 3 min on 2 cores; --quick about 45 s.

Scenarios: rtt (round trip), stream (one way at saturation), stream-batch
(the same through each transport's batch API: shm sendMany and drain, a
socket's frames in one write, ZeroMQ multipart), bulk (one large
buffer), pointcloud (10 MB and 100 MB buffers in steady state: loans
(shm-loan: filled in place, no copy) and copy-in (shm-copy) against tcp, uds
and ZeroMQ; the time until the reader has the buffer, and the full transfer;
1 GB with --full). shm-loan and shm-copy run in pointcloud only. peer-shm and
peer-zmq are a Peer from listen()/connect() on each transport (against
shm-event and zmq-ipc: the Peer layer's cost). connect (tcp, zmq-ipc, peer-shm,
peer-zmq): from nothing to the first 64 B echo, and for peers the reconnect
after the listener is killed and started again.

  --quick              reduced run (under a minute on 2 cores; pointcloud 1 MB only)
  --full               adds 1 GiB to the bulk sizes and 1 GB to the pointcloud sizes
                       (the 1 GB point clouds: about 30 s more, 2-3 GiB of memory per row)
  --transports LIST    ${TRANSPORTS.join(",")}
                       (default: all)
  --scenarios LIST     rtt,stream,stream-batch,bulk,pointcloud,connect (default: all)
  --sizes LIST         message/buffer sizes for every chosen scenario, e.g. 64,1k,64k,1m
                       (binary units; 10000000 is 10 MB)
  --rounds N           rtt: timed round trips per row (default 20000; quick 1000);
                       connect: timed connects per row (a hundredth: 200; quick 10),
                       and listener restarts a fifth of that (at least 3)
  --messages N         stream, stream-batch: timed messages per row (default 1000000 or
                       256 MiB; quick 100000), after half as many untimed
  --batch N            stream-batch: messages per sendMany (default 64)
  --iterations N       bulk: timed transfers per row (default 5; quick 3)
  --transfers N        pointcloud: timed transfers per row (default by size: 200 of
                       10 MB, 20 of 100 MB, 5 of 1 GB; quick 50 of 1 MB), after a
                       tenth as many warm-up ones (at least 2)
  --pin                pin the two processes to different cores (taskset)
  --load [N]           measure on a loaded machine, on purpose: N busy-loop processes
                       (default: one per core, ${availableParallelism()} here), each pinned to a core
                       with taskset, running from before the first row to after the last
  --no-cork            publish/write every message on its own (no batching per tick)
  --spin S             shm-event/futex/loan/copy: "adaptive" (default), microseconds, or inf
  --json FILE          also write the results as JSON to FILE
  --markdown FILE      also write a Markdown report to FILE, an SVG latency chart beside it
  --no-save            do not save to bench-results/
  --row-timeout S      fail a row that takes longer (default 300; quick 60)
  -h, --help           this text

Options take their value as "--rounds 5" or "--rounds=5".
`;

const SPECS: OptionSpecs = {
  help: { type: "boolean", short: "h" },
  quick: { type: "boolean" },
  full: { type: "boolean" },
  pin: { type: "boolean" },
  load: { type: "string", optionalValue: /^\d+$/ },
  "no-cork": { type: "boolean" },
  "no-save": { type: "boolean" },
  spin: { type: "string" },
  transports: { type: "string" },
  scenarios: { type: "string" },
  sizes: { type: "string" },
  rounds: { type: "string" },
  messages: { type: "string" },
  batch: { type: "string" },
  iterations: { type: "string" },
  transfers: { type: "string" },
  "row-timeout": { type: "string" },
  json: { type: "string" },
  markdown: { type: "string" },
};

const SCENARIOS: Scenario[] = ["rtt", "stream", "stream-batch", "bulk", "pointcloud", "connect"];

/** Parses "64", "1k", "64KiB", "10m", "1g" (binary units). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size "${s}"`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Math.round(Number(m[1]) * mult);
}

function list(flag: string, text: string, known: readonly string[]): string[] {
  const items = text.split(",").filter((x) => x !== "");
  if (items.length === 0) throw new UsageError(`--${flag} needs a list, e.g. --${flag} ${known.slice(0, 2).join(",")}`);
  for (const x of items) if (!known.includes(x)) throw new UsageError(`unknown ${flag.replace(/s$/, "")} "${x}" (known: ${known.join(", ")})`);
  return items;
}

/** The options, or null for --help. Throws UsageError on a mistake. */
export function parseOptions(argv: string[]): Options | null {
  const { values: v } = parseCommandLine(argv, SPECS);
  if (v.help) return null;
  const str = (k: string): string | undefined => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  const quick = v.quick === true;
  const full = v.full === true;

  let load = 0;
  const loadText = str("load");
  if (loadText !== undefined) {
    const cores = availableParallelism();
    load = loadText === "" ? cores : parseInteger("load", loadText, 0);
    if (load > 4 * cores) throw new UsageError(`--load ${load}: at most 4 busy loops per core (${4 * cores} here)`);
  }

  let spin: number | "adaptive" = "adaptive";
  const spinText = str("spin");
  if (spinText !== undefined && spinText !== "adaptive") {
    const n = spinText === "inf" || spinText === "Infinity" ? Infinity : Number(spinText);
    if (spinText.trim() === "" || !(n >= 0)) throw new UsageError(`--spin ${spinText}: "adaptive", a number of microseconds, or inf`);
    spin = n;
  }

  const transports = str("transports") === undefined ? [...TRANSPORTS] : list("transports", str("transports")!, [...TRANSPORTS, ...TEST_TRANSPORTS]);
  const scenarios = (str("scenarios") === undefined ? [...SCENARIOS] : list("scenarios", str("scenarios")!, SCENARIOS)) as Scenario[];

  let sizes: number[] | null = null;
  if (str("sizes") !== undefined) {
    try {
      sizes = str("sizes")!.split(",").map(parseSize);
    } catch (e) {
      throw new UsageError(`--sizes: ${(e as Error).message}`);
    }
    if (sizes.some((n) => n < 4)) throw new UsageError("sizes must be at least 4 bytes (the sequence number)");
  }
  const count = (k: string): number | null => (str(k) === undefined ? null : parseInteger(k, str(k)!));
  const rounds = count("rounds");
  const messages = count("messages");
  const iterations = count("iterations");
  const transfers = count("transfers");
  const batch = count("batch");
  if (batch !== null && batch < 1) throw new UsageError("--batch must be at least 1");
  const rowTimeout = count("row-timeout");

  const bulk = quick ? [1 << 20, 10 << 20] : [1 << 20, 10 << 20, 100 << 20];
  if (full) bulk.push(1 << 30);
  // Point clouds in decimal sizes; 1 GB only with --full (it alone takes about a minute).
  const cloud = quick ? [1e6] : [10e6, 100e6];
  if (full) cloud.push(1e9);
  return {
    transports,
    scenarios,
    sizes: {
      rtt: sizes ?? [64, 1024, 65536],
      stream: sizes ?? [64, 4096],
      "stream-batch": sizes ?? [64, 4096],
      bulk: sizes ?? bulk,
      pointcloud: sizes ?? cloud,
      connect: [64],
    },
    rounds: rounds ?? (quick ? 1000 : 20000),
    messages: messages ?? (quick ? 100000 : 1000000),
    batch: batch ?? DEFAULT_BATCH,
    iterations: iterations ?? (quick ? 3 : 5),
    transfers,
    pin: v.pin === true,
    load,
    cork: v["no-cork"] !== true,
    spin,
    json: str("json") ?? null,
    markdown: str("markdown") ?? null,
    save: v["no-save"] !== true,
    rowTimeoutMs: (rowTimeout ?? (quick ? 60 : 300)) * 1000,
    quick,
    full,
  };
}
