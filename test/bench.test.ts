// The benchmark runs end to end (tiny counts) and reports what it measured in
// the documented JSON schema; a transport that loses messages fails its rows.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { ROOT } from "./helpers.js";

const CLI = path.join(ROOT, "dist", "lib", "cli.js");
const dir = mkdtempSync(path.join(tmpdir(), "smsh-bench-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, "bench", ...args], { timeout: 240_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface Row {
  transport: string;
  mode: string | null;
  scenario: string;
  size: number;
  error?: string;
  [k: string]: unknown;
}

const positive = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v > 0;
const TINY = ["--quick", "--sizes", "64,4k", "--rounds", "50", "--messages", "2000", "--iterations", "1"];

describe("the benchmark", () => {
  it("runs every transport and scenario in --quick mode and writes JSON in the documented schema", async () => {
    const json = path.join(dir, "quick.json");
    const md = path.join(dir, "quick.md");
    const r = await bench([...TINY, "--json", json, "--markdown", md]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rtt 64 B: round trip/);
    expect(r.stdout).toMatch(/p50 vs tcp/);
    const report = JSON.parse(readFileSync(json, "utf8")) as { version: number; machine: Record<string, unknown>; results: Row[] };
    expect(report.version).toBe(1);
    for (const k of ["cpu", "cores", "kernel", "node", "pinned"]) expect(report.machine).toHaveProperty(k);
    const expected = [
      ["shm", "event"],
      ["shm", "futex"],
      ["shm", "spin"],
      ["tcp", null],
      ["uds", null],
      ["zmq-ipc", null],
      ["zmq-tcp", null],
    ] as const;
    for (const scenario of ["rtt", "stream", "bulk"]) {
      for (const size of [64, 4096]) {
        const rows = report.results.filter((x) => x.scenario === scenario && x.size === size);
        for (const [transport, mode] of expected) {
          const row = rows.find((x) => x.transport === transport && x.mode === mode);
          expect(row, `${scenario} ${size} ${transport} ${mode}`).toBeDefined();
          expect(row!.error).toBeUndefined();
          const fields =
            scenario === "rtt" ? ["p50_us", "p99_us", "p999_us"] : scenario === "stream" ? ["msgs_per_s", "mb_per_s"] : ["ms", "mb_per_s"];
          for (const f of [...fields, "cpu_us_per_msg", "rss_mb"]) expect(positive(row![f]), `${scenario} ${size} ${transport} ${f}=${row![f]}`).toBe(true);
          if (scenario === "rtt") expect(row!.p50_us as number).toBeLessThanOrEqual(row!.p99_us as number);
        }
        if (scenario === "bulk") {
          const floor = rows.find((x) => x.transport === "memcpy");
          expect(positive(floor?.ms)).toBe(true);
        }
      }
    }
    expect(existsSync(md)).toBe(true);
    expect(readFileSync(md, "utf8")).toMatch(/!\[round-trip latency\]\(quick-latency\.svg\)/);
    expect(readFileSync(path.join(dir, "quick-latency.svg"), "utf8")).toMatch(/^<svg[^>]*xmlns/);
  }, 240_000);

  it("reports a transport that drops messages as failed, and exits 1", async () => {
    const json = path.join(dir, "lossy.json");
    const r = await bench([...TINY, "--sizes", "64", "--transports", "lossy,tcp", "--row-timeout", "3", "--json", json]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/lossy\s+FAILED: /);
    const report = JSON.parse(readFileSync(json, "utf8")) as { results: Row[] };
    const lossy = report.results.filter((x) => x.transport === "lossy");
    expect(lossy.map((x) => x.scenario).sort()).toEqual(["bulk", "rtt", "stream"]);
    for (const row of lossy) {
      expect(row.error).toBeTruthy();
      expect(row.p50_us ?? row.msgs_per_s ?? row.ms).toBeUndefined(); // no figures from a broken row
    }
    expect(lossy.find((x) => x.scenario === "stream")!.error).toMatch(/lost or reordered/);
    for (const row of report.results.filter((x) => x.transport === "tcp")) expect(row.error).toBeUndefined();
  }, 120_000);

  it("rejects unknown options with a usage error (exit 2)", async () => {
    const r = await bench(["--transports", "carrier-pigeon"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown transport/);
  });
});
