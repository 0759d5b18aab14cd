// The benchmark runs end to end (tiny counts) and reports what it measured in
// the documented JSON schema, explains itself (legend, directions, ratios in
// words, conclusions), shows progress and saves its results; a transport
// that loses messages fails its rows.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";

import { disruptorTransport, loadDisruptor } from "../../dist/bench/transports/disruptor.js";
import { ROOT, collect, track } from "../helpers.js";

const CLI = path.join(ROOT, "dist", "lib", "cli.js");
const dir = mkdtempSync(path.join(tmpdir(), "smsh-bench-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the benchmark in `cwd` (default: a fresh temporary directory, where it saves bench-results/). */
function bench(args: string[], cwd = mkdtempSync(path.join(dir, "run-"))): Promise<{ code: number; stdout: string; stderr: string; cwd: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, "bench", ...args], { cwd, timeout: 240_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr, cwd });
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
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/rtt 64 B: round trip/);
    expect(r.stdout).toMatch(/p50 vs tcp/);
    // Progress on stderr: what it does first, then every row's start and figure.
    const progress = r.stderr.split("\n");
    expect(progress[0]).toMatch(/^synaptic-shm bench: \d+ rows .*about .*Checking that the machine is idle/);
    expect(r.stderr).toMatch(/^\[ *1\/\d+, .* in, about .* left\] rtt 64 B shm-event \.\.\. p50 [\d.]+ µs \(.+\)$/m);
    expect(r.stderr).toMatch(/\] stream 4 KiB child-ipc \.\.\. [\d,.]+( M)? msgs\/s/);
    expect(r.stderr).toMatch(/\] bulk 4 KiB worker-port \.\.\. [\d.]+ ms/);
    expect(r.stderr).toMatch(/\] pointcloud 4 KiB shm-loan \.\.\. handoff [\d.,]+ µs, full [\d.,]+ ms/);
    expect(r.stderr).not.toMatch(/FAILED|Error/);
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
      ["child-ipc", null],
      ["worker-port", null],
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
    // stream-batch: the transports with a batch API, no others.
    for (const size of [64, 4096]) {
      const rows = report.results.filter((x) => x.scenario === "stream-batch" && x.size === size);
      expect(rows.map((x) => (x.mode ? `${x.transport}-${x.mode}` : x.transport)).filter((n) => n !== "disruptor")).toEqual([
        "shm-event",
        "shm-futex",
        "shm-spin",
        "tcp",
        "uds",
        "zmq-ipc",
        "zmq-tcp",
      ]);
      for (const row of rows) {
        expect(row.error, `stream-batch ${size} ${row.transport}`).toBeUndefined();
        for (const f of ["msgs_per_s", "mb_per_s", "cpu_us_per_msg"]) expect(positive(row[f]), `stream-batch ${size} ${row.transport} ${f}`).toBe(true);
      }
    }
    // pointcloud (--sizes applies to it too): the loan transports beside the sockets and ZeroMQ, memcpy first.
    for (const size of [64, 4096]) {
      const rows = report.results.filter((x) => x.scenario === "pointcloud" && x.size === size);
      expect(rows.map((x) => (x.mode ? `${x.transport}-${x.mode}` : x.transport))).toEqual(["memcpy", "shm-loan", "shm-copy", "tcp", "uds", "zmq-ipc", "zmq-tcp"]);
      for (const row of rows) {
        expect(row.error, `pointcloud ${size} ${row.transport}`).toBeUndefined();
        expect(positive(row.ms), `pointcloud ${size} ${row.transport} ms`).toBe(true);
        if (row.transport !== "memcpy") expect(positive(row.handoff_p50_us), `pointcloud ${size} ${row.transport} handoff`).toBe(true);
      }
      // A buffer that fits the ring (4 KiB: messages up to 1016 bytes) is not copied into a loan: the row says so.
      expect(rows.find((x) => x.mode === "copy")!.method).toBe(size === 64 ? "ring" : "copy-in");
    }
    expect(existsSync(md)).toBe(true);
    expect(readFileSync(md, "utf8")).toMatch(/!\[round-trip latency\]\(quick-latency\.svg\)/);
    expect(readFileSync(path.join(dir, "quick-latency.svg"), "utf8")).toMatch(/^<svg[^>]*xmlns/);

    // It explains itself: a legend for every transport, a direction on every column, ratios in words, conclusions.
    for (const name of ["shm-event", "shm-futex", "shm-spin", "tcp", "uds", "child-ipc", "worker-port", "memcpy"]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name}\\s+\\S`, "m"));
    }
    expect(r.stdout).toMatch(/worker-port\s+worker_threads: .*threads, not\s+processes/s);
    expect(r.stdout).toMatch(/child-ipc\s+process\.send\(\).*serialization 'advanced'/s);
    expect(r.stdout).toMatch(/shm-futex\s+.*futex/s);
    expect(r.stdout).toMatch(/shm-spin\s+.*spin: Infinity/s);
    const directions = r.stdout.split("\n").filter((l) => /^\s+(lower|higher|faster)=better/.test(l));
    expect(directions.length).toBe(11); // one per table: 2 sizes of rtt, stream, stream-batch, bulk and pointcloud, and connect
    for (const d of directions) expect(d.trim().split(/\s+/).every((c) => /^(lower|higher|faster)=better$/.test(c))).toBe(true);
    expect(r.stdout).toMatch(/^tcp\s.*\sbaseline\s/m);
    expect(r.stdout).toMatch(/\d× (faster|slower)/);
    expect(r.stdout).not.toMatch(/\d(\.\d+)?x\b/); // no bare "0.0127x" ratios
    expect(r.stdout.match(/^=> (Fastest: .+|No row produced figures\.)/gm)).toHaveLength(11);
    const md2 = readFileSync(md, "utf8");
    expect(md2).toMatch(/\| transport \| p50 µs \(lower is better\) \|/);
    expect(md2).toMatch(/\*\*worker-port\*\*: worker_threads/);
    expect(md2).toMatch(/^Fastest: /m);

    // Saved by default too, the paths printed.
    const saved = readdirSync(path.join(r.cwd, "bench-results")).sort();
    expect(saved.filter((f) => /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.(json|md)$/.test(f))).toHaveLength(2);
    const stem = saved.find((f) => f.endsWith(".json"))!.slice(0, -5);
    expect(r.stdout).toContain(`Results saved to bench-results/${stem}.json, bench-results/${stem}.md, ${json}, ${md}`);
    expect(JSON.parse(readFileSync(path.join(r.cwd, "bench-results", `${stem}.json`), "utf8")).results).toHaveLength(report.results.length);
  }, 240_000);

  it("pointcloud in --quick mode: 1 MB, every transport, steady state, handoff and full transfer with p99 from 100 transfers", async () => {
    const json = path.join(dir, "pointcloud.json");
    const r = await bench(["--quick", "--scenarios", "pointcloud", "--transfers", "100", "--json", json, "--no-save"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pointcloud 1 MB: writer fills, reader has the view and reads every page, steady state$/m);
    expect(r.stdout).toMatch(/^transport\s+handoff p50 µs\s+handoff p99 µs\s+full p50 ms\s+full p99 ms\s+handoff vs tcp\s+full vs tcp$/m);
    expect(r.stdout).toMatch(/^tcp\s.*\sbaseline\s+baseline$/m);
    expect(r.stdout).toMatch(/^=> Fastest: \S+, .* to hand over a 1 MB point cloud \(p50 [\d.,]+ µs/m);
    expect(r.stdout).toMatch(/^  shm-loan\s+pointcloud only: the channel's bulk loans/m);
    const report = JSON.parse(readFileSync(json, "utf8")) as { options: Record<string, unknown>; results: Row[] };
    expect(report.options.transfers).toBe(100);
    const rows = report.results;
    expect(rows.every((x) => x.scenario === "pointcloud" && x.size === 1e6 && x.count === 100)).toBe(true);
    const byName = new Map(rows.map((x) => [x.mode ? `${x.transport}-${x.mode}` : x.transport, x]));
    expect([...byName.keys()]).toEqual(["memcpy", "shm-loan", "shm-copy", "tcp", "uds", "zmq-ipc", "zmq-tcp"]);
    expect(byName.get("memcpy")!.method).toBe("memcpy");
    expect(byName.get("shm-loan")!.method).toBe("loan");
    expect(byName.get("shm-copy")!.method).toBe("copy-in");
    expect(byName.get("tcp")!.method).toBe("send");
    for (const [name, row] of byName) {
      expect(row.error, name).toBeUndefined();
      const fields = name === "memcpy" ? ["ms", "ms_p99"] : ["handoff_p50_us", "handoff_p99_us", "ms", "ms_p99", "mb_per_s", "cpu_us_per_msg", "rss_mb"];
      for (const f of fields) expect(positive(row[f]), `${name} ${f}=${row[f]}`).toBe(true);
      expect(row.ms as number, name).toBeLessThanOrEqual(row.ms_p99 as number);
      if (name !== "memcpy") expect(row.handoff_p50_us as number, name).toBeLessThanOrEqual(row.handoff_p99_us as number);
    }
    // Steady state: the warm-up made the loan slabs; the timed transfers made none.
    expect(byName.get("shm-loan")!.slabs_created_timed).toBe(0);
    expect(byName.get("shm-copy")!.slabs_created_timed).toBe(0);
  }, 120_000);

  it("connect in --quick mode: tcp, zmq-ipc and both peers from nothing to the first echo; peers reconnect after their listener's kill -9 and restart", async () => {
    const json = path.join(dir, "connect.json");
    const r = await bench(["--quick", "--scenarios", "connect", "--json", json, "--no-save"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^connect: from nothing to the first 64 B echo; peers: reconnect after the listener's restart$/m);
    expect(r.stdout).toMatch(/^tcp\s.*\sbaseline\s+-\s+-\s+-$/m);
    const rows = (JSON.parse(readFileSync(json, "utf8")) as { results: Row[] }).results;
    expect(rows.map((x) => x.transport)).toEqual(["peer-shm", "peer-zmq", "tcp", "zmq-ipc"]);
    for (const row of rows) {
      expect(row.error, row.transport).toBeUndefined();
      expect(row.count).toBe(10);
      for (const f of ["p50_us", "p99_us"]) expect(positive(row[f]), `${row.transport} ${f}`).toBe(true);
      const peer = row.transport.startsWith("peer-");
      for (const f of ["reconnect_ms", "reconnect_max_ms", "reconnect_echo_ms"]) expect(positive(row[f]), `${row.transport} ${f}`).toBe(peer);
    }
  }, 120_000);

  it("--no-save saves nothing; --opt=value works like --opt value", async () => {
    const r = await bench(["--quick", "--transports=tcp", "--scenarios=rtt", "--sizes=64", "--rounds=50", "--no-save"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Results not saved \(--no-save\)/);
    expect(existsSync(path.join(r.cwd, "bench-results"))).toBe(false);
    expect(r.stderr).toMatch(/\[1\/1, .*\] rtt 64 B tcp \.\.\. p50/);
  }, 60_000);

  it("reports a transport that drops messages as failed, and exits 1", async () => {
    const json = path.join(dir, "lossy.json");
    const r = await bench([...TINY, "--sizes", "64", "--transports", "lossy,tcp", "--row-timeout", "3", "--json", json, "--no-save"]);
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

  it("leaves no socket directory behind: after a run, and when stopped by SIGTERM in the middle of a row", async () => {
    // TMPDIR is where the benchmark makes its scratch directory (os.tmpdir()):
    // one of our own, so other runs in parallel do not count.
    const scratch = mkdtempSync(path.join(dir, "tmp-"));
    const env = { ...process.env, TMPDIR: scratch };
    const args = [CLI, "bench", ...TINY, "--sizes", "64", "--scenarios", "rtt,stream", "--transports", "uds,zmq-ipc", "--no-save"];
    const done = await collect(track(spawn(process.execPath, args, { cwd: scratch, env })), 120_000);
    expect(done.code, done.stderr).toBe(0);
    expect(readdirSync(scratch)).toEqual([]);

    const long = [CLI, "bench", ...TINY, "--sizes", "64", "--scenarios", "rtt", "--transports", "zmq-ipc", "--rounds", "10000000", "--no-save"];
    const stopped = track(spawn(process.execPath, long, { cwd: scratch, env }));
    const ended = collect(stopped, 120_000);
    // Progress goes to stderr: wait for a row whose host made a directory.
    await new Promise<void>((resolve) => {
      let err = "";
      stopped.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        if (/rtt 64 B zmq-ipc \.\.\./.test(err)) resolve();
      });
    });
    stopped.kill("SIGTERM");
    const r = await ended;
    expect(r.signal).toBe("SIGTERM");
    expect(readdirSync(scratch)).toEqual([]);
  }, 180_000);

  // shared-memory-disruptor is a devDependency whose addon is built apart (npm run build:disruptor).
  const disruptor = loadDisruptor() !== null;
  const disruptorNames = (): string[] => readdirSync("/dev/shm").filter((n) => n.startsWith("disruptor-bench-"));

  it.skipIf(!disruptor)("runs the disruptor transport (shared-memory-disruptor) in rtt, stream and stream-batch only (not bulk), corked or not, and leaves nothing in /dev/shm", async () => {
    const before = new Set(disruptorNames());
    for (const [args, sizes] of [
      [["--sizes", "64,64k"], [64, 65536]],
      [["--sizes", "64", "--no-cork"], [64]],
    ] as const) {
      const json = path.join(dir, `disruptor${args.length}.json`);
      const r = await bench([...TINY, ...args, "--transports", "disruptor,tcp", "--scenarios", "rtt,stream,stream-batch,bulk", "--json", json, "--no-save"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^  disruptor\s+shared-memory-disruptor/m);
      const rows = (JSON.parse(readFileSync(json, "utf8")) as { results: Row[] }).results.filter((x) => x.transport === "disruptor");
      expect(rows.map((x) => `${x.scenario} ${x.size}`)).toEqual([
        ...sizes.map((n) => `rtt ${n}`),
        ...sizes.map((n) => `stream ${n}`),
        ...sizes.map((n) => `stream-batch ${n}`),
      ]);
      for (const row of rows) {
        expect(row.error, `${row.scenario} ${row.size}`).toBeUndefined();
        expect(row.mode).toBeNull();
        for (const f of row.scenario === "rtt" ? ["p50_us", "p99_us", "cpu_us_per_msg"] : ["msgs_per_s", "mb_per_s", "cpu_us_per_msg"]) {
          expect(positive(row[f]), `${row.scenario} ${row.size} ${f}=${row[f]}`).toBe(true);
        }
      }
    }
    // The host unlinks both rings once the peer has mapped them (a name another run made a moment ago may pass).
    let left = disruptorNames().filter((n) => !before.has(n));
    if (left.length) {
      await sleep(1000);
      left = left.filter((n) => existsSync(`/dev/shm/${n}`));
    }
    expect(left).toEqual([]);
  }, 120_000);

  it.skipIf(!disruptor)("the disruptor transport's batch API: sendMany and recvMany keep order and lengths, mixed with send and recv", async () => {
    const t = disruptorTransport();
    const opts = { size: 65536, scenario: "stream" as const };
    const h = await t.host(opts);
    const p = await t.peer(h.offer, opts);
    const a = await h.complete(p.answer);
    const b = p.endpoint;
    try {
      expect(disruptorNames().filter((n) => h.offer.startsWith(n.slice(0, -1)))).toEqual([]); // unlinked once both are mapped
      const msg = (i: number, n: number): Uint8Array => {
        const m = new Uint8Array(n).fill(i & 255);
        new DataView(m.buffer).setUint32(0, i, true);
        return m;
      };
      // 40 messages in a ring of 63 elements (one thread: a full ring would wait for ever).
      const sizes = Array.from({ length: 40 }, (_, i) => [4, 100, 65536, 7][i % 4]!);
      await a.sendMany!(sizes.slice(0, 30).map((n, i) => msg(i, n)));
      for (let i = 30; i < 40; i++) await a.send(msg(i, sizes[i]!));
      await new Promise((r) => setImmediate(r)); // corked sends are committed at the end of the tick
      const first = (await b.recv()) as Uint8Array;
      expect([first.length, new DataView(first.buffer, first.byteOffset).getUint32(0, true)]).toEqual([4, 0]);
      const got: [number, number, number][] = [];
      const n = await b.recvMany!((data, off, len) => got.push([data.readUInt32LE(off), len, data[off + len - 1]!]));
      expect(n).toBe(39);
      expect(got).toEqual(sizes.slice(1).map((len, k) => [k + 1, len, len > 4 ? (k + 1) & 255 : ((k + 1) >>> 24) & 255]));
      // And back: a batch, then one at a time.
      await b.sendMany!([msg(7, 64), msg(8, 65536)]);
      const back = [(await a.recv()) as Uint8Array, (await a.recv()) as Uint8Array].map((m) => [m.length, m[0]]);
      expect(back).toEqual([[64, 7], [65536, 8]]);
      expect(() => a.sendMany!([msg(1, 8), new Uint8Array(a.maxMessageSize + 1)])).toThrow(/elements hold/); // nothing claimed: the ring goes on
      await a.send(msg(9, 4));
      await new Promise((r) => setImmediate(r));
      expect(Array.from((await b.recv()) as Uint8Array)).toEqual([9, 0, 0, 0]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("rejects unknown options with a usage error (exit 2)", async () => {
    const r = await bench(["--transports", "carrier-pigeon"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown transport/);
    for (const [args, re] of [
      [["--rounds=0"], /--rounds 0: needs a whole number/],
      [["--frobnicate"], /unknown option "--frobnicate"/],
      [["--quick=yes"], /--quick takes no value/],
      [["--json"], /--json needs a value/],
      [["--transports", "shm-loan", "--scenarios", "rtt"], /no rows: shm-loan run in none of rtt/],
    ] as const) {
      const e = await bench([...args]);
      expect(e.code, args.join(" ")).toBe(2);
      expect(e.stderr, args.join(" ")).toMatch(re);
    }
    const help = await bench(["--rounds=5", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: synaptic-shm bench/);
  });
});

describe("the soak (bench/soak.ts)", () => {
  it("checks every message of a one-second await-send() soak across processes, loses none, and sends at most one wake per reader sleep", async () => {
    const json = path.join(dir, "soak.json");
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [path.join(ROOT, "dist", "bench", "soak.js"), "--seconds", "1", "--spin", "0", "--json", json], { timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/checked messages of 1-256 B .* msgs\/s; lost 0/);
    const s = JSON.parse(readFileSync(json, "utf8")) as { messages: number; lost: number; writer_wakeups: number; reader_sleeps: number; reader_wakeups: number; writer_sleeps: number };
    expect(s.messages).toBeGreaterThan(1000);
    expect(s.lost).toBe(0);
    expect(s.reader_sleeps).toBeGreaterThan(0); // spin 0: the reader sleeps whenever it catches up
    expect(s.writer_wakeups).toBeLessThanOrEqual(s.reader_sleeps + 1);
    expect(s.reader_wakeups).toBeLessThanOrEqual(s.writer_sleeps + 1);
  }, 90_000);
});
