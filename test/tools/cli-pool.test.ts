// synaptic-shm ls/stat/sweep and a writer's loan pool: a ring's row and
// stat show its pool (slots, bytes, loaned, in flight, loans sent) as the
// writer's tx.poolStats says; its slabs are segments of kind "pool", listed
// under their ring with --all and always in --json; `sweep NAME` never
// removes a live writer's slabs. Dead writers' slabs are swept in
// lifecycle.test.ts: a global sweep there, running beside this file, could
// take a dead segment of ours between two of our looks.
import { execFile, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

import { Channel, Segment, randomName, sweep } from "../../dist/lib/index.js";
import type { PoolCounts } from "../../dist/lib/core/sweep.js";
import { formatBytes } from "../../dist/lib/util/format.js";
import { ROOT, killStrays, spawnFixture, waitForLine } from "../helpers.js";

const CLI = path.join(ROOT, "dist", "lib", "cli.js");

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function cliOk(args: string[]): Promise<string> {
  const r = await cli(args);
  expect(r.code, `synaptic-shm ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}


interface Listed {
  name: string;
  kind: string;
  token: string;
  size: number;
  owner: { pid: number; alive: boolean };
  pool: (PoolCounts & { epoch: number; slabNames: string }) | null;
  slab: { index: number; slotSize: number; slotCount: number; slotsInFlight: number; retired: boolean; ringToken: string; ring: string | null } | null;
}

async function lsJson(): Promise<Listed[]> {
  return JSON.parse(await cliOk(["ls", "--json"])) as Listed[];
}

/** The ring `name` as `ls --json` lists it, and its slabs (by their ring's token), by index. */
async function ringAndSlabs(name: string): Promise<{ ring: Listed | undefined; slabs: Listed[] }> {
  const all = await lsJson();
  const ring = all.find((s) => s.name === name);
  const slabs = ring ? all.filter((s) => s.slab?.ringToken === ring.token).sort((a, b) => a.slab!.index - b.slab!.index) : [];
  return { ring, slabs };
}

const shmNames = (): string[] => readdirSync("/dev/shm").filter((n) => n.startsWith("smsh-"));

/** The pool fields ls/stat show, from a PoolCounts. */
const poolFields = (s: PoolCounts): PoolCounts => ({
  slabs: s.slabs,
  slots: s.slots,
  bytes: s.bytes,
  loaned: s.loaned,
  inFlight: s.inFlight,
  loansSent: s.loansSent,
});

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}

/** A process whose writer has loans out (test/fixtures/loan-writer.ts), and its tx.poolStats once ready. */
async function loanWriter(name: string): Promise<{ child: ChildProcess; stats: PoolCounts }> {
  const child = spawnFixture("loan-writer", [name]);
  const line = await waitForLine(child, /^ready /);
  return { child, stats: JSON.parse(line.slice("ready ".length)) as PoolCounts };
}

afterEach(killStrays);

describe("synaptic-shm ls and stat show a writer's loan pool", () => {
  it("with loans loaned, in flight and released: the ring's pool as tx.poolStats says, its slabs under it", async () => {
    // lingerMs 0: the second loan is still in flight, in a slab the reader never mapped, when the
    // writer closes; by default that slab keeps its name for 10 s so a slow reader can still map it.
    const tx = Channel.create({ capacity: 65536, pool: { lingerMs: 0 } });
    const rx = Channel.attach(tx.name);
    const mine = new Set<string>();
    try {
      const small = tx.tryLoan(5000)!;
      const big = tx.tryLoan(1024 * 1024 + 1)!;
      const unsent = tx.tryLoan(20_000)!; // class 20 KiB: no free slot of a class up to twice it, so a slab of its own
      expect(tx.trySend(small)).toBe(true);
      expect(tx.trySend(big)).toBe(true);
      const got = rx.tryRecv(); // the reader holds the first loan: not released
      expect(got?.byteLength).toBe(5000);

      const stats = tx.poolStats;
      expect(stats).toMatchObject({ slabs: 3, loaned: 20_000, inFlight: 5000 + 1024 * 1024 + 1, loansSent: 2 });
      const { ring, slabs } = await ringAndSlabs(tx.name);
      expect(ring?.kind).toBe("ring");
      expect(ring?.pool).toEqual({ ...poolFields(stats), epoch: 0, slabNames: expect.stringMatching(/^smsh-[0-9a-f]{16}\.0, smsh-[0-9a-f]{16}\.1, smsh-[0-9a-f]{16}\.2$/) });
      // Its slabs: kind pool, of this ring, owned by this process, as many and as big as the pool says.
      expect(slabs.map((s) => s.slab!.index)).toEqual([0, 1, 2]);
      for (const s of slabs) {
        mine.add(s.name);
        expect(s.kind).toBe("pool");
        expect(s.name).toBe(ring!.pool!.slabNames.split(", ")[s.slab!.index]);
        expect(s.slab!.ring).toBe(tx.name);
        expect(s.owner).toMatchObject({ pid: process.pid, alive: true });
        expect(s.slab!.slotSize * s.slab!.slotCount).toBe(s.size);
        expect(s.slab!.retired).toBe(false);
      }
      expect(slabs.reduce((n, s) => n + s.slab!.slotCount, 0)).toBe(stats.slots);
      expect(slabs.reduce((n, s) => n + s.size, 0)).toBe(stats.bytes);
      // Sent and not released: one slot of the 8 KiB slab (5000 B), the one slot of the big one; the 20,000 B loan is unsent.
      expect(slabs.map((s) => [s.slab!.slotSize, s.slab!.slotsInFlight])).toEqual([
        [8192, 1],
        [slabs[1]!.slab!.slotSize, 1],
        [20480, 0],
      ]);

      // The table: the ring's row sums the pool up; the slabs are rows of their own only with --all, indented under it.
      const plain = (await cliOk(["ls"])).split("\n");
      const header = plain[0]!;
      expect(header).toMatch(/\bPOOL\s+LOANED\s+IN FLIGHT\s+AGE\s+PEER$/);
      const row = plain.find((l) => l.startsWith(`${tx.name} `))!;
      /** The text in `title`'s column of `line`, in a table whose header is `head`. */
      const col = (line: string, title: string, head = header): string => line.slice(head.indexOf(title)).split(/\s{2,}/)[0]!;
      expect(col(row, "POOL")).toBe(`${stats.slots} slots, ${formatBytes(stats.bytes)}`);
      expect(col(row, "LOANED")).toBe(formatBytes(stats.loaned));
      expect(col(row, "IN FLIGHT")).toBe(formatBytes(stats.inFlight));
      for (const s of slabs) expect(plain.some((l) => l.includes(s.name))).toBe(false);
      const all = (await cliOk(["ls", "--all"])).split("\n");
      const at = all.findIndex((l) => l.startsWith(`${tx.name} `));
      expect(at).toBeGreaterThan(0);
      expect(all.slice(at + 1, at + 4).map((l) => l.split(/\s+/).slice(0, 3))).toEqual(slabs.map((s) => ["", s.name, "pool"]));
      const slab0 = all[at + 1]!;
      expect(col(slab0, "POOL", all[0])).toBe("64 slots of 8 KiB");
      expect(col(slab0, "IN FLIGHT", all[0])).toBe("1 slot");
      expect(col(all[at + 3]!, "IN FLIGHT", all[0])).toBe("0 slots");

      // stat of the ring, and of a slab (which finds its ring by token).
      const st = await cliOk(["stat", tx.name]);
      // stat looks at the ring alone: its slabs' names (keyed by its secret) are found by ls, not here.
      expect(st).toMatch(new RegExp(`^pool\\s+3 slabs, ${stats.slots} slots, ${formatBytes(stats.bytes)}$`, "m"));
      expect(st).toMatch(new RegExp(`^loaned\\s+${formatBytes(stats.loaned)} \\(lent to the writer's user, not yet sent\\)$`, "m"));
      expect(st).toMatch(new RegExp(`^in flight\\s+${formatBytes(stats.inFlight)} \\(sent, not yet released by the reader\\)$`, "m"));
      expect(st).toMatch(/^loans sent\s+2$/m);
      const slabStat = await cliOk(["stat", slabs[0]!.name]);
      expect(slabStat).toMatch(/^kind\s+pool\b/m);
      expect(slabStat).toMatch(new RegExp(`^ring\\s+${tx.name}$`, "m"));
      expect(slabStat).toMatch(/^slots\s+64 slots of 8 KiB, slab 0$/m);
      expect(slabStat).toMatch(/^in flight\s+1 slot \(sent, not yet released by the reader\)$/m);
      const slabJson = JSON.parse(await cliOk(["stat", slabs[0]!.name, "--json"])) as Listed;
      expect(slabJson.slab).toEqual(slabs[0]!.slab);

      // The reader releases the first loan: its slot is no longer in flight in the slab's table at once,
      // and in the ring's loan line once the writer has seen it (tx.poolStats reclaims and publishes).
      rx.release();
      expect((await ringAndSlabs(tx.name)).slabs[0]!.slab!.slotsInFlight).toBe(0);
      const after = tx.poolStats;
      expect(after.inFlight).toBe(1024 * 1024 + 1);
      expect((await ringAndSlabs(tx.name)).ring?.pool).toMatchObject(poolFields(after));
      tx.cancelLoan(unsent);
      const cancelled = tx.poolStats;
      expect(cancelled.loaned).toBe(0);
      expect((await ringAndSlabs(tx.name)).ring?.pool).toMatchObject(poolFields(cancelled));
    } finally {
      rx.close();
      tx.close();
    }
    // Closing the writer (with no linger) removed its slabs with its ring.
    expect(existsSync(`/dev/shm/${tx.name}`)).toBe(false);
    expect(mine.size).toBe(3);
    for (const n of mine) expect(existsSync(`/dev/shm/${n}`)).toBe(false);
  });

  it("a ring that never lent shows no pool; a plain segment has no pool columns", async () => {
    const tx = Channel.create({ capacity: 4096 });
    const seg = Segment.create({ size: 4096 });
    try {
      const { ring, slabs } = await ringAndSlabs(tx.name);
      expect(ring?.pool).toMatchObject({ slabs: 0, slots: 0, bytes: 0, loaned: 0, inFlight: 0, loansSent: 0 });
      expect(ring?.slab).toBe(null);
      expect(slabs).toEqual([]);
      expect((await lsJson()).find((s) => s.name === seg.name)).toMatchObject({ kind: "plain", pool: null, slab: null });
      const out = (await cliOk(["ls"])).split("\n");
      for (const n of [tx.name, seg.name]) expect(out.find((l) => l.startsWith(`${n} `))).toMatch(/\s-\s+-\s+-\s+\S+( ms| s)\s+-$/);
      expect(await cliOk(["stat", tx.name])).toMatch(/^pool\s+none$/m);
      expect(await cliOk(["stat", seg.name])).not.toMatch(/^(pool|loaned|in flight|loans sent)\s/m);
    } finally {
      seg.close();
      tx.close();
    }
  });
});

describe("slabs whose ring is not in /dev/shm", () => {
  it("are listed by ls as rows of their own (without --all), and stat says their ring is not there", async () => {
    const tx = Channel.create({ capacity: 4096 });
    let slabNames: string[] = [];
    try {
      const loan = tx.tryLoan(100)!;
      const big = tx.tryLoan(9000)!;
      const { ring, slabs } = await ringAndSlabs(tx.name);
      slabNames = slabs.map((s) => s.name);
      expect(slabNames).toHaveLength(2);
      rmSync(`/dev/shm/${tx.name}`); // the ring's name goes (always safe); its slabs stay, the writer lives on
      const listed = await lsJson();
      expect(listed.filter((s) => s.slab?.ringToken === ring!.token).map((s) => [s.name, s.kind, s.slab!.ring])).toEqual(slabNames.map((n) => [n, "pool", null]));
      for (const args of [["ls"], ["ls", "-a"]]) {
        const table = await cliOk(args);
        for (const n of slabNames) expect(table).toMatch(new RegExp(`^${n.replace(".", "\\.")}\\s+pool\\s+${process.pid} alive\\s`, "m"));
      }
      const st = await cliOk(["stat", slabNames[0]!]);
      expect(st).toMatch(new RegExp(`^ring\\s+not in /dev/shm \\(its token begins ${ring!.token.slice(0, 16)}\\)$`, "m"));
      tx.cancelLoan(loan);
      tx.cancelLoan(big);
    } finally {
      tx.close();
    }
    for (const n of slabNames) expect(existsSync(`/dev/shm/${n}`), n).toBe(false);
  });
});

describe("sweep NAME and a live writer's pool slabs", () => {
  it("a live writer's slabs: listed with kind pool, and sweep NAME (ring or slab) removes none of them", async () => {
    const name = randomName();
    const { child } = await loanWriter(name);
    let slabNames: string[] = [];
    try {
      const { ring, slabs } = await ringAndSlabs(name);
      slabNames = slabs.map((s) => s.name);
      expect(slabs).toHaveLength(3);
      for (const s of slabs) {
        expect(s.kind).toBe("pool");
        expect(s.slab!.ring).toBe(name);
        expect(s.owner).toMatchObject({ pid: child.pid, alive: true });
      }
      expect(ring?.owner.alive).toBe(true);
      const r = JSON.parse(await cliOk(["sweep", "--json", name, ...slabNames])) as { removed: unknown[] };
      expect(r.removed).toEqual([]);
      expect(sweep({ names: [name] })).toEqual([]);
      for (const n of [name, ...slabNames]) expect(existsSync(`/dev/shm/${n}`), n).toBe(true);
      const table = await cliOk(["ls", "--all"]);
      for (const n of slabNames) expect(table).toMatch(new RegExp(`^  ${n.replace(".", "\\.")}\\s+pool\\s+${child.pid} alive\\s`, "m"));
    } finally {
      // Ended by a signal, the writer removes its ring and its slabs itself.
      child.kill("SIGTERM");
      await exited(child);
    }
    for (const n of [name, ...slabNames]) expect(existsSync(`/dev/shm/${n}`), n).toBe(false);
    expect(shmNames().filter((n) => n === name || slabNames.includes(n))).toEqual([]);
  });
});
