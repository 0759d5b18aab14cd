// Every example in examples/ runs as a user would run it (compiled, importing
// the package by its name) and says what it promises: exit code 0, nothing
// on stderr, the lines it is about, and none of the segments it names left
// in /dev/shm. Timings the examples print are never checked. A new example
// needs an entry in EXAMPLES (a test checks that none is missing).
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import { ROOT } from "../helpers.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// An example takes a second or two; this only ends one that hangs, and is
// far above what a loaded 2-core machine needs.
const RUN_TIMEOUT_MS = 60_000;

function run(example: string): Promise<Run> {
  const file = path.join(ROOT, "dist", "examples", `${example}.js`);
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { timeout: RUN_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Segment names an example printed that still exist. */
function leftovers(stdout: string): string[] {
  const names = new Set(stdout.match(/smsh-[a-z2-7]{16}/g) ?? []);
  return [...names].filter((n) => existsSync(`/dev/shm/${n}`));
}

/** Expects each pattern to match a line of `out`, in this order. */
function expectLinesInOrder(out: string, patterns: (string | RegExp)[]): void {
  const lines = out.split("\n");
  let at = 0;
  for (const p of patterns) {
    const i = lines.findIndex((l, j) => j >= at && (typeof p === "string" ? l.includes(p) : p.test(l)));
    expect(i, `no line matching ${String(p)} after line ${at} in:\n${out}`).toBeGreaterThanOrEqual(0);
    at = i + 1;
  }
}

interface Example {
  what: string;
  check(stdout: string): void;
  /** Runs again when this says the run could not show its point (and why not). */
  retryIf?(stdout: string): boolean;
}

const NAME = "(smsh-[a-z2-7]{16})";

const EXAMPLES: Record<string, Example> = {
  "broadcast-ring": {
    what: "the broadcast ring by name: topic prefixes, three subscriber processes, a loan read in place by all",
    check(out) {
      expectLinesInOrder(out, [new RegExp(`publisher: broadcast ring ${NAME}`), "publisher: 3 subscribers joined", "publisher: sent 5 messages and closed"]);
      expect(out).toContain(
        "subscriber [tot.exploration.branch_A]: tot.exploration.branch_A split the problem by region | tot.exploration.branch_A regions overlap: merge them",
      );
      expect(out).toContain(
        "subscriber [tot.exploration.]: tot.exploration.branch_A split the problem by region | tot.exploration.branch_B solve the small case first | tot.exploration.branch_A regions overlap: merge them",
      );
      expect(out).toContain("subscriber [tot.verdict, tot.embedding]: tot.embedding 1048576 floats (sum 3145722), read in place | tot.verdict branch A wins");
    },
  },
  receive: {
    what: "views, keep(), a timeout, then Readable.from across two processes",
    check(out) {
      expect(out).toContain("reader: header: 3 parts follow; got 3000 bytes");
      expect(out).toContain("(ETIMEDOUT)");
      expect(out).toContain("reader: 1000 lines through Readable.from");
      expect(out).toContain("writer: done, reader exited with 0");
    },
  },

  "two-processes": {
    what: "request and reply over two channels, names on argv and over the IPC pipe, clean close",
    check(out) {
      const [, requests] = out.match(new RegExp(`parent: created the request channel ${NAME}`)) ?? [];
      expect(requests, out).toBeDefined();
      const [, replies] = out.match(new RegExp(`created the reply channel ${NAME}`)) ?? [];
      expect(replies, out).toBeDefined();
      // The transcript is causal (each line is printed before the message
      // that lets the other process go on), so its order is fixed.
      expectLinesInOrder(out, [
        `child:  attached ${requests} (from argv)`,
        `parent: attached ${replies}, named by the child over the IPC pipe`,
        "parent: -> #1 add 2 3",
        "child:  <- #1, replying 5",
        "parent: <- #1 = 5",
        "parent: <- #2 = 42",
        "child:  <- #3, replying 10",
        "parent: <- #3 = 10",
        "parent: closing the request channel",
        "child:  end of stream after 3 requests; closing",
        "parent: the child closed the reply channel (ECLOSED: end of stream)",
        "parent: child exited with code 0",
      ]);
    },
  },

  "worker-reader": {
    what: "a worker thread reads with recvSync what the main thread sends; the worker's segment is removed at its exit",
    check(out) {
      const [, scratch] = out.match(new RegExp(`it created ${NAME} \\(in /dev/shm: true\\)`)) ?? [];
      expect(scratch, out).toBeDefined();
      expectLinesInOrder(out, [
        "main: sent 100000 readings",
        /main: worker \d+ read 100000 readings, sum 4995000\.0, max 99\.9 \(matches what was sent\)/,
        `main: worker exited with 0; ${scratch} in /dev/shm: false (removed at the worker's exit)`,
      ]);
    },
  },

  "point-cloud": {
    what: "a 100 MB Float32Array in a segment, read in place by another process, the answer back over a channel",
    check(out) {
      expectLinesInOrder(out, [
        new RegExp(`parent: 8,700,000 points \\(100 MiB\\) filled in place in segment ${NAME}`),
        new RegExp(`parent: the child is up: jobs go over ${NAME}, answers come back over ${NAME}`),
        // The cloud is generated from a fixed seed: the same answer every run.
        /parent: the child's answer: min \(-50\.00, -20\.00, 0\.00\) max \(50\.00, 20\.00, 5\.00\) centroid \(-?0\.\d\d, -?0\.\d\d, 2\.\d\d\)/,
        "parent: matches the parent's own pass over the same memory",
        "timings: hand-over", // figures vary: only that they are reported
        "timings: for contrast, one copy of the 100 MiB",
        "parent: child exited with 0",
      ]);
    },
  },

  "telemetry-batch": {
    what: "200,000 small readings in batches: sendMany() in one process, drain() and readable() in another, in order, to end of stream",
    check(out) {
      expectLinesInOrder(out, [
        new RegExp(`^sensor: created ${NAME}$`),
        /^sensor: sent 200000 readings in batches of 256 \(\d+ per ms\), \d+ wakeups$/,
        "sensor: the monitor exited with code 0",
      ]);
      // The monitor's line comes before or after the sensor's last ones.
      expect(out).toMatch(/^monitor: 200000 readings in order, [\d.]+ per drain\(\), mean value -?[\d.]+$/m);
    },
  },

  reconnect: {
    what: "a connector outlives its listener's crash (kill -9) and restart: it reconnects by itself and the same Peer goes on",
    check(out) {
      expectLinesInOrder(out, [
        "scanner: connected to planner-1 over shm",
        "scanner: plan for area 0 from planner-1",
        "scanner: plan for area 2 from planner-1",
        "scanner: planner-1 killed (-9)",
        "scanner: reconnecting",
        /^scanner: connected again to planner-2 \(\d+ ms after it listened\)$/,
        "scanner: plan for area 3 from planner-2",
        "scanner: plan for area 5 from planner-2",
        "scanner: 1 reconnect, state connected",
        "scanner: closed",
      ]);
    },
  },

  agents: {
    what: "two agents find each other by an ipc:// endpoint (listen/connect), agree on shared memory, hand over point clouds as loans, answer with JSON",
    check(out) {
      // Two processes print: only each one's own lines are in a known order.
      expect(out).toMatch(/^photogrammetry: scanner \(pid \d+\) connected over shm$/m);
      expectLinesInOrder(out, [
        "scanner: connected to photogrammetry over shm",
        "scanner: cloud 0 centroid [0,2,0.5]",
        "scanner: cloud 2 centroid [2,2,0.5]",
        "photogrammetry: scanner closed after 3 clouds",
        "photogrammetry: scanner exited with 0",
      ]);
    },
  },

  "three-agents": {
    what: "three named agents on a hub: claude and gemini introduced, then direct over shared memory; planner (transport zmq) through the hub; the hub's per-route statistics",
    check(out) {
      // Four processes print: only each one's own lines are in a known order.
      expect(out).toMatch(/^planner: claude asks "plan: paint the fence"$/m);
      expect(out).toMatch(/^planner: claude says "all done" \(over hub\)$/m);
      expect(out).toMatch(/^gemini: did 3 steps for claude over shm$/m);
      expectLinesInOrder(out, [
        'claude: planner (over hub) answered "scrape, prime, paint"',
        "claude: sent 3 steps to gemini over shm",
        'claude: gemini says "done: scrape"',
        'claude: gemini says "done: paint"',
      ]);
      expectLinesInOrder(out, [
        "hub: agents exited with 0, 0, 0",
        "hub: routes",
        "  claude -> gemini direct: 3 message(s), 16 bytes",
        "  claude -> planner hub: 2 message(s), 29 bytes",
        "  gemini -> claude direct: 3 message(s), 34 bytes",
        "  planner -> claude hub: 1 message(s), 20 bytes",
      ]);
    },
  },

  "verification-dialogue": {
    what: "a planner sends claims to a verifier process over request/reply (shm), all in flight at once; each answer comes back to its own claim; a claim the verifier cannot check is EREMOTE",
    check(out) {
      // Two processes print: only each one's own lines are in a known order.
      expect(out).toMatch(/^verifier: connected to planner over shm$/m);
      expectLinesInOrder(out, [
        /^planner: verifier \(pid \d+\) connected over shm$/,
        'planner: "17 is prime" is TRUE',
        'planner: "91 is prime" is FALSE: divisible by 7',
        'planner: "7 * 8 = 54" is FALSE: 7 * 8 is 56',
        'planner: "sqrt 2 is rational" could not be checked: EREMOTE',
        'planner: "1000003 is prime" is TRUE',
        "planner: 7 requests, 7 answers, 0 dropped",
        "planner: verifier exited with 0",
      ]);
      expect(out).toMatch(/^verifier: the planner closed after 7 claims$/m);
    },
  },

  "tot-broadcast": {
    what: "a Tree-of-Thoughts broadcast: a planner publishes thoughts on topics, four explorer processes subscribe by prefix (one forced onto ZeroMQ), each gets exactly its topics in order",
    check(out) {
      // Five processes print: each explorer's line is checked whole (its thoughts, in publication order).
      expect(out).toContain("planner: 4 explorers subscribed; union of their prefixes: tot.eval. tot.exploration.");
      expect(out).toMatch(/^explorer-A \(over shm\): 4 thoughts: A0 A1 A2 A3$/m);
      expect(out).toMatch(/^explorer-all \(over shm\): 12 thoughts: A0 B0 C0 A1 B1 C1 A2 B2 C2 A3 B3 C3$/m);
      expect(out).toMatch(/^evaluator \(over shm\): 4 thoughts: eval0:branch_A eval1:branch_B eval2:branch_C eval3:branch_A$/m);
      expect(out).toContain("remote-B (over zmq): 8 thoughts: B0 eval0:branch_A B1 eval1:branch_B B2 eval2:branch_C B3 eval3:branch_A");
      // 16 of the 20 are wanted locally (the 4 "tot.log" ones by nobody); remote-B wants 8.
      expectLinesInOrder(out, ["planner: published 20 thoughts: 16 written once into the shared-memory ring, 8 sent over ZeroMQ", "planner: explorers exited with 0,0,0,0"]);
    },
  },

  "point-cloud-threads": {
    what: "received loans moved to worker threads by transfer, computed there, detachLoan(); slots back only then",
    check(out) {
      for (let n = 0; n < 6; n++) {
        expect(out).toMatch(new RegExp(`^main: cloud ${n} centroid \\(${n}\\.000, 1\\.\\d{3}, 1\\.000\\) intact; the worker's view now 0 bytes$`, "m"));
      }
      expect(out).not.toContain("CHANGED");
      expect(out).toMatch(/^main: 6 clouds computed in 2 threads, none copied; in flight now 0 bytes, [1-4] slab\(s\) made for 6 clouds$/m);
    },
  },

  "point-cloud-loan": {
    what: "point clouds filled in place in loans, handed to another process, the centroid back; the pool's memory reused",
    check(out) {
      expectLinesInOrder(out, [
        "scanner: cloud 0 sent; our view of it now has 0 bytes (handed over)",
        /scanner: cloud 0 centroid \(0\.\d{3}, 1\.\d{3}, 1\.000\) matches/,
        /scanner: cloud 4 centroid \(40\.\d{3}, 1\.\d{3}, 1\.000\) matches/,
        // The worker holds a cloud until its next step: at most two in use at once.
        /scanner: 5 clouds sent from [12] pool slab\(s\) of (12|25)\.\d MB: the memory was reused/,
        "scanner: worker exited with 0",
      ]);
    },
  },

  "crash-cleanup": {
    what: "a SIGKILLed writer's segment: EPEERDEAD for its reader, listed by synaptic-shm ls, removed by sweep",
    // Sweeps by other processes of this user (other test files sweep too,
    // in parallel) may remove the leftover before the example lists it: the
    // example then says so, and this one run proves nothing either way.
    retryIf: (out) => out.includes("was already removed by another process's sweep"),
    check(out) {
      const [, name] = out.match(new RegExp(`child \\d+ created ${NAME}`)) ?? [];
      expect(name, out).toBeDefined();
      expectLinesInOrder(out, [
        "child killed (SIGKILL); our recv() rejects with EPEERDEAD",
        `/dev/shm/${name} still exists: true`,
        new RegExp(`synaptic-shm ls --json: ${name} is listed, owner pid \\d+ dead`),
        `synaptic-shm sweep NAME --dry-run --json: would remove ${name}: true`,
        // Between the dry run and the sweep, another process's sweep may have
        // removed it: either way it must be gone afterwards.
        new RegExp(`synaptic-shm sweep NAME --json: removed ${name}: (true|false \\(another sweep was faster\\))`),
        `afterwards: listed by listSegments(): false; /dev/shm/${name} exists: false`,
      ]);
    },
  },
};

const ATTEMPTS = 3;

describe("examples", () => {
  for (const [name, ex] of Object.entries(EXAMPLES)) {
    // Above vitest's 60 s default: crash-cleanup may run up to ATTEMPTS times.
    it(`${name}: ${ex.what}`, { timeout: ATTEMPTS * RUN_TIMEOUT_MS + 10_000 }, async () => {
      let r = await run(name);
      for (let i = 1; i < ATTEMPTS && ex.retryIf?.(r.stdout); i++) r = await run(name);
      // zeromq.js warns on stderr when a process's exit waits for its sockets' linger (a Peer's BYE to a
      // listener that is slow to take it: a loaded machine). That wait is the linger doing its job; any
      // other output on stderr is a failure.
      expect(r.stderr.replace(/^\(node:\d+\) WARNING: Waiting for queued ZeroMQ messages to be delivered\..*\n?/gm, "")).toBe("");
      expect(r.code, r.stdout).toBe(0);
      if (ex.retryIf?.(r.stdout)) throw new Error(`${name}: ${ATTEMPTS} runs in a row could not show their point:\n${r.stdout}`);
      ex.check(r.stdout);
      expect(leftovers(r.stdout)).toEqual([]);
    });
  }

  it("every example in examples/ has a test here and says how to run it", () => {
    const files = readdirSync(path.join(ROOT, "examples")).filter((f) => f.endsWith(".ts"));
    expect(files.map((f) => f.slice(0, -3)).sort()).toEqual(Object.keys(EXAMPLES).sort());
    for (const f of files) {
      const head = readFileSync(path.join(ROOT, "examples", f), "utf8").split("\n").slice(0, 5).join("\n");
      expect(head, f).toContain(`node dist/examples/${f.slice(0, -3)}.js`);
    }
  });
});
