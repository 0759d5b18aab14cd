// How the benchmark reads and explains: its options (the one parser, both
// "--opt value" and "--opt=value"), ratios in words that always point the
// same way, conclusions, and the busy-machine warnings at the top and the
// bottom. On synthetic reports: no processes, no timing.
import { describe, expect, it } from "vitest";

import { parseOptions } from "../../dist/bench/options.js";
import { defaultTransfers } from "../../dist/bench/pointcloud.js";
import { planOf } from "../../dist/bench/run.js";
import { machineWarnings } from "../../dist/bench/report/warnings.js";
import { compare, tablesOf } from "../../dist/bench/report/tables.js";
import { renderReport } from "../../dist/bench/report/terminal.js";
import { markdown } from "../../dist/bench/report/markdown.js";
import type { Report, Row } from "../../dist/bench/results.js";
import type { Machine } from "../../dist/bench/machine.js";

const machine = (over: Partial<Machine> = {}): Machine => ({
  cpu: "Test CPU",
  cores: 2,
  memory_gb: 8,
  kernel: "Linux 6",
  platform: "linux-x64",
  node: "v20.0.0",
  package_version: "0.0.0",
  pinned: false,
  conditions: "idle",
  busy_loops: 0,
  busy_cores: null,
  busy_cpu_share: null,
  loadavg: [0.1, 0.1, 0.1],
  cpu_steal: 0,
  cpu_busy: 0.01,
  date: "2026-11-22T13:03:05.000Z",
  ...over,
});

const rtt = (transport: string, mode: string | null, p50: number): Row => ({ transport, mode, scenario: "rtt", size: 64, p50_us: p50, p99_us: p50 * 2, p999_us: p50 * 3, cpu_us_per_msg: 1, rss_mb: 50 });
const cloud = (transport: string, mode: string | null, handoff: number | undefined, ms: number): Row => ({
  transport,
  mode,
  scenario: "pointcloud",
  size: 100e6,
  handoff_p50_us: handoff,
  ms,
  cpu_us_per_msg: 1,
  rss_mb: 50,
});
const stream = (transport: string, mode: string | null, rate: number): Row => ({ transport, mode, scenario: "stream", size: 64, msgs_per_s: rate, mb_per_s: (rate * 64) / 1e6, cpu_us_per_msg: 1, rss_mb: 50 });

function report(results: Row[], m: Machine = machine()): Report {
  m.warnings = machineWarnings(m);
  return { version: 1, machine: m, options: { quick: false, full: false, cork: true, spin: "adaptive", load: 0, rounds: 1, messages: 1, iterations: 1 }, results };
}

describe("bench options", () => {
  it("--opt=value and --opt value give the same options", () => {
    const spaced = parseOptions(["--rounds", "5", "--sizes", "64,1k", "--transports", "tcp,child-ipc", "--spin", "20", "--json", "x.json"]);
    const joined = parseOptions(["--rounds=5", "--sizes=64,1k", "--transports=tcp,child-ipc", "--spin=20", "--json=x.json"]);
    expect(joined).toEqual(spaced);
    expect(joined).toMatchObject({ rounds: 5, transports: ["tcp", "child-ipc"], spin: 20, json: "x.json", save: true });
    expect(joined!.sizes.rtt).toEqual([64, 1024]);
    expect(parseOptions(["--no-save"])!.save).toBe(false);
    expect(parseOptions(["--no-cork"])!.cork).toBe(false);
    expect(parseOptions(["--rounds=5", "--help"])).toBeNull();
  });

  it("pointcloud: 10 MB and 100 MB by default, 1 GB with --full, 1 MB with --quick; --transfers or by size", () => {
    expect(parseOptions([])!.scenarios).toContain("pointcloud");
    expect(parseOptions([])!.sizes.pointcloud).toEqual([10e6, 100e6]);
    expect(parseOptions(["--full"])!.sizes.pointcloud).toEqual([10e6, 100e6, 1e9]);
    expect(parseOptions(["--quick"])!.sizes.pointcloud).toEqual([1e6]);
    expect(parseOptions(["--sizes", "64k"])!.sizes.pointcloud).toEqual([65536]);
    expect(parseOptions([])!.transfers).toBeNull();
    expect(parseOptions(["--transfers=7"])!.transfers).toBe(7);
    expect(defaultTransfers(10e6, false)).toBe(200);
    expect(defaultTransfers(100e6, false)).toBe(20);
    expect(defaultTransfers(1e9, false)).toBe(5);
    expect(defaultTransfers(1e6, true)).toBe(50);
  });

  it("the loan transports run in pointcloud only, and pointcloud runs the loans, the sockets and ZeroMQ, memcpy first", () => {
    const names = (o: string[], scenario: string): string[] =>
      planOf(parseOptions([...o, "--scenarios", scenario])!).map((j) => `${j.transport} ${j.size}`);
    expect(names(["--quick"], "pointcloud")).toEqual(["memcpy", "shm-loan", "shm-copy", "tcp", "uds", "zmq-ipc", "zmq-tcp"].map((t) => `${t} 1000000`));
    expect(names(["--sizes", "64"], "rtt")).not.toContain("shm-loan 64");
    expect(names(["--transports", "shm-loan"], "rtt")).toEqual([]);
    const jobs = planOf(parseOptions(["--scenarios", "pointcloud", "--transports", "tcp"])!);
    expect(jobs.map((j) => [j.transport, j.size, j.count, j.warmup])).toEqual([
      ["memcpy", 10e6, 200, 20],
      ["tcp", 10e6, 200, 20],
      ["memcpy", 100e6, 20, 2],
      ["tcp", 100e6, 20, 2],
    ]);
  });
});

describe("ratios in words", () => {
  it("faster is better for latency (tcp / x) and for throughput (x / tcp)", () => {
    expect(compare(0.5, 70, "lower")).toBe("140× faster");
    expect(compare(147, 70, "lower")).toBe("2.1× slower");
    expect(compare(7.29e6, 1.99e6, "higher")).toBe("3.7× faster");
    expect(compare(0.199e6, 1.99e6, "higher")).toBe("10× slower");
    expect(compare(70.1, 70, "lower")).toBe("same");
    expect(compare(undefined, 70, "lower")).toBe("-");
  });

  it("each table ends with a one-line conclusion naming the fastest", () => {
    const t = tablesOf(report([rtt("shm", "event", 0.89), rtt("shm", "spin", 0.5), rtt("tcp", null, 70), stream("shm", "event", 7.29e6), stream("tcp", null, 1.99e6)]));
    expect(t[0]!.conclusion).toBe("Fastest: shm-spin, 140× faster than tcp at 64 B round trip (p50 0.5 µs vs 70 µs); the default shm-event: 79× faster than tcp.");
    expect(t[1]!.conclusion).toBe("Fastest: shm-event, 3.7× faster than tcp for a one-way stream of 64 B messages (7.29 M vs 1.99 M msgs/s).");
    expect(t[0]!.rows.find((r) => r[0] === "tcp")).toContain("baseline");
    expect(t[0]!.columns.map((c) => c.better)).toEqual([null, "lower", "lower", "lower", "faster", "lower", "lower"]);
    expect(t[1]!.columns.map((c) => c.better)).toEqual([null, "higher", "higher", "faster", "lower", "lower"]);
  });
});

describe("the pointcloud table", () => {
  it("handoff and full transfer, p50 and p99, each against tcp; memcpy has no handoff; sizes in decimal units", () => {
    const [t] = tablesOf(report([cloud("memcpy", null, undefined, 8), cloud("shm", "loan", 20, 10), cloud("shm", "copy", 9000, 18), cloud("tcp", null, 40000, 41)]));
    expect(t!.title).toBe("pointcloud 100 MB: writer fills, reader has the view and reads every page, steady state");
    expect(t!.columns.map((c) => c.head)).toEqual(["transport", "handoff p50 µs", "handoff p99 µs", "full p50 ms", "full p99 ms", "handoff vs tcp", "full vs tcp"]);
    expect(t!.columns.map((c) => c.better)).toEqual([null, "lower", "lower", "lower", "lower", "faster", "faster"]);
    expect(t!.rows).toEqual([
      ["memcpy", "-", "-", "8", "-", "-", "5.1× faster"],
      ["shm-loan", "20", "-", "10", "-", "2000× faster", "4.1× faster"],
      ["shm-copy", "9,000", "-", "18", "-", "4.4× faster", "2.3× faster"],
      ["tcp", "40,000", "-", "41", "-", "baseline", "baseline"],
    ]);
    expect(t!.conclusion).toBe("Fastest: shm-loan, 2000× faster than tcp to hand over a 100 MB point cloud (p50 20 µs vs 40,000 µs); its full transfer 10 ms, 4.1× faster than tcp.");
  });
});

describe("busy-machine warnings", () => {
  it("none on an idle machine", () => {
    expect(machineWarnings(machine())).toEqual([]);
    const out = renderReport(report([rtt("tcp", null, 70)]));
    expect(out).not.toMatch(/WARNING|NOTE/);
  });

  it("a load average above 0.5 per core, or steal, warns at the top and the bottom with how to get clean figures", () => {
    const busy = machine({ loadavg: [2.1, 1.5, 1.2], cpu_steal: 0.05 });
    const w = machineWarnings(busy);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^WARNING: this machine was busy .*load average 2\.10 .* on 2 cores \(1\.05 per core.*hypervisor took 5% .*steal.*may be unreliable.*For clean figures:/);
    const out = renderReport(report([rtt("tcp", null, 70)], busy));
    const lines = out.split("\n");
    const first = lines.findIndex((l) => l.startsWith("WARNING"));
    const last = lines.findLastIndex((l) => l.startsWith("WARNING"));
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(lines.findIndex((l) => l.startsWith("rtt 64 B")));
    expect(last).toBeGreaterThan(lines.findIndex((l) => l.startsWith("=> Fastest")));
    const md = markdown(report([rtt("tcp", null, 70)], busy), null);
    expect(md.match(/^> \*\*WARNING:\*\* this machine was busy/gm)).toHaveLength(2);
  });

  it("steal during the run warns too; --load is said plainly as deliberate", () => {
    expect(machineWarnings(machine({ cpu_steal_run: 0.08 }))[0]).toMatch(/^WARNING: the hypervisor took 8% of the CPU time during the run/);
    const loaded = machineWarnings(machine({ conditions: "loaded", busy_loops: 2, busy_cores: [0, 1] }));
    expect(loaded).toEqual([expect.stringMatching(/^NOTE: measured under load on purpose \(--load\): 2 busy loops \(pinned to cores 0,1\).*run without --load for idle figures/)]);
  });
});
