// SIGINT, SIGTERM and SIGHUP end a process that owns segments as promptly as
// they would without this package -- busy in JavaScript, blocked in a native
// wait, or at the very end of its script -- and its segments (the worker
// threads' too) are removed; next to signal-exit and to the user's own
// listeners, whoever listens decides. Every case runs in a child process.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";

import { Channel, Segment, layout, randomName } from "../../dist/lib/index.js";
import { fixture, killStrays, sleep, track, waitForLine } from "../helpers.js";

const shm = (name: string): string => `/dev/shm/${name}`;

afterEach(killStrays);

// Measured from just before kill() to the parent's 'exit' event, so it
// includes the parent noticing. Idle, the busy child dies in a few ms (the
// issue asked for 200 ms); with the defect this guards against the child
// dies only when its loop ends, and the loop runs until the parent stops it.
// 1 s leaves room for a CI machine whose cores other work keeps busy.
const PROMPT_MS = 1000;

function start(args: string[]): ChildProcess {
  return track(spawn(process.execPath, [fixture("signals"), ...args], { stdio: ["pipe", "pipe", "pipe"] }));
}

async function ready(args: string[], re = /^ready/): Promise<ChildProcess> {
  const child = start(args);
  await waitForLine(child, re);
  return child;
}

interface End {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

function ended(child: ChildProcess, t0: number): Promise<End> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode, ms: 0 });
  return new Promise((r) => child.once("exit", (code, signal) => r({ code, signal, ms: performance.now() - t0 })));
}

/** Sends `signal` and resolves when the child has ended, with the time it took. */
function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<End> {
  const t0 = performance.now();
  const end = ended(child, t0);
  child.kill(signal);
  return end;
}

/** All stdout lines of `child` so far and from now on, in `lines`. */
function lines(child: ChildProcess): string[] {
  const got: string[] = [];
  let buf = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop()!;
    got.push(...parts);
  });
  return got;
}

/** The busy fixture spins until the first word of its segment's data is set: set it. */
function stopBusyLoop(name: string): void {
  let seg: Segment;
  try {
    seg = Segment.attach(name);
  } catch {
    return; // already gone: the child died and removed it
  }
  Atomics.store(new Int32Array(seg.buffer, seg.dataOffset, 1), 0, 1);
  seg.close();
}

// The futex syscall number, where /proc/PID/syscall tells what a thread is blocked in.
const FUTEX_SYSCALL: Partial<Record<string, number>> = { x64: 202, arm64: 98 };

/** Waits until the child's main thread sits in a futex wait (when /proc shows it); false if it never did. */
async function blockedInFutex(pid: number, timeoutMs = 5000): Promise<boolean> {
  const nr = FUTEX_SYSCALL[process.arch];
  if (nr === undefined) return true;
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/syscall`, "utf8");
    } catch {
      return true; // not readable here: nothing to check
    }
    if (Number(text.split(" ")[0]) === nr) return true;
    await sleep(5);
  }
  return false;
}

describe("a process busy in synchronous JavaScript", () => {
  it.each(["SIGTERM", "SIGINT", "SIGHUP"] as const)("dies of %s within 1 s (its loop never ends by itself) and leaves no segment", async (signal) => {
    const name = randomName();
    const child = await ready(["busy", name]);
    expect(existsSync(shm(name))).toBe(true);
    const end = await kill(child, signal);
    stopBusyLoop(name); // only matters if it did not die: then the test fails below anyway
    expect(end).toMatchObject({ code: null, signal });
    expect(end.ms).toBeLessThan(PROMPT_MS);
    expect(existsSync(shm(name))).toBe(false);
  });

  it("dies of a signal that arrives during its last synchronous run, not with exit code 0", async () => {
    const name = randomName();
    const child = await ready(["busy", name]);
    const end = kill(child, "SIGTERM");
    // The loop, and then the script, end right after the signal was sent:
    // the signal must not be lost (with a JavaScript listener it would be).
    stopBusyLoop(name);
    expect(await end).toMatchObject({ code: null, signal: "SIGTERM" });
    expect(existsSync(shm(name))).toBe(false);
  });
});

describe("a process blocked in a native wait on its main thread", () => {
  it("dies of SIGTERM within 1 s (its loop never ends by itself) while blocked in sendSync() with no timeout, and leaves no segment", async () => {
    const name = randomName();
    const child = await ready(["send-sync", name]);
    const rx = Channel.attach(name); // a reader that never reads: the ring stays full
    try {
      child.stdin!.write("go\n");
      await waitForLine(child, /^blocking/);
      expect(await blockedInFutex(child.pid!)).toBe(true);
      const end = await kill(child, "SIGTERM");
      expect(end).toMatchObject({ code: null, signal: "SIGTERM" });
      expect(end.ms).toBeLessThan(PROMPT_MS);
      expect(existsSync(shm(name))).toBe(false);
    } finally {
      rx.close();
    }
  });

  it("dies of SIGINT within 1 s (its loop never ends by itself) while blocked in WaitLine.waitSync() with no timeout, and leaves no segment", async () => {
    const name = randomName();
    const child = await ready(["wait-sync", name], /^blocking/);
    expect(await blockedInFutex(child.pid!)).toBe(true);
    const end = await kill(child, "SIGINT");
    expect(end).toMatchObject({ code: null, signal: "SIGINT" });
    expect(end.ms).toBeLessThan(PROMPT_MS);
    expect(existsSync(shm(name))).toBe(false);
  });
});

describe("doorbell sockets", () => {
  it.each(["SIGTERM", "SIGINT", "SIGHUP"] as const)("a reader sleeping on the event loop that dies of %s removes its doorbell socket file", async (signal) => {
    const tx = Channel.create({ capacity: 4096 });
    try {
      const bell = `/dev/shm/.smsh-${process.geteuid!()}/${tx.segment.token}.${layout.OFFSETS.reader_wait}`;
      const child = track(spawn(process.execPath, [fixture("lifecycle"), "reader", tx.name, "async"], { stdio: ["ignore", "pipe", "pipe"] }));
      await waitForLine(child, /^waiting/);
      // The reader binds its doorbell when it goes to sleep (after its spin); 10 s is generous for a loaded machine.
      for (let i = 0; i < 1000 && !existsSync(bell); i++) await sleep(10);
      expect(existsSync(bell)).toBe(true);
      expect(await kill(child, signal)).toMatchObject({ code: null, signal });
      expect(existsSync(bell)).toBe(false); // it was left for sweep before
    } finally {
      tx.close();
    }
  });
});

describe("worker threads", () => {
  it("segments owned by a worker are removed too when the process dies of a signal", async () => {
    const mine = randomName();
    const workers = randomName();
    const child = await ready(["worker", mine, workers]);
    expect([existsSync(shm(mine)), existsSync(shm(workers))]).toEqual([true, true]);
    expect(await kill(child, "SIGTERM")).toMatchObject({ code: null, signal: "SIGTERM" });
    expect(existsSync(shm(mine))).toBe(false);
    expect(existsSync(shm(workers))).toBe(false);
  });
});

describe("next to signal-exit (the npm package)", () => {
  it.each(["signal-exit", "shm-first"])("idle (%s loaded first): dies of SIGTERM, its onExit callback ran, no segment left", async (order) => {
    const name = randomName();
    const child = await ready(["idle", name, order]);
    const out = lines(child);
    expect(await kill(child, "SIGTERM")).toMatchObject({ code: null, signal: "SIGTERM" });
    expect(out).toContain("onExit null SIGTERM");
    expect(existsSync(shm(name))).toBe(false);
  });

  it("busy: dies of SIGTERM once signal-exit's listener gets to run (after the loop), no segment left", async () => {
    const name = randomName();
    const child = await ready(["busy", name, "signal-exit"]);
    const out = lines(child);
    const end = kill(child, "SIGTERM");
    // signal-exit's JavaScript listener replaced the native handler, so,
    // as without this package, nothing happens while the loop spins.
    await sleep(300);
    expect(child.exitCode).toBe(null);
    expect(child.signalCode).toBe(null);
    expect(existsSync(shm(name))).toBe(true);
    stopBusyLoop(name);
    expect(await end).toMatchObject({ code: null, signal: "SIGTERM" });
    expect(out).toEqual(["loop ended", "onExit null SIGTERM"]);
    expect(existsSync(shm(name))).toBe(false);
  });
});

describe("the user's own listener decides", () => {
  it("a SIGTERM listener that keeps the process alive keeps its segment", async () => {
    const name = randomName();
    const child = await ready(["handler", name, "SIGTERM", "stay"]);
    const out = lines(child);
    child.kill("SIGTERM");
    await waitForLine(child, /^user handler/);
    await sleep(200);
    expect(child.exitCode).toBe(null);
    expect(existsSync(shm(name))).toBe(true);
    expect(out).toEqual(["user handler"]);
    // A signal nobody listens for still ends it, with cleanup.
    expect(await kill(child, "SIGHUP")).toMatchObject({ code: null, signal: "SIGHUP" });
    expect(existsSync(shm(name))).toBe(false);
  });

  it("a SIGTERM listener that exits gets its exit code, and 'exit' removes the segment", async () => {
    const name = randomName();
    const child = await ready(["handler", name, "SIGTERM", "exit"]);
    expect(await kill(child, "SIGTERM")).toMatchObject({ code: 42, signal: null });
    expect(existsSync(shm(name))).toBe(false);
  });

  it("once the user's listener is removed, the next SIGTERM ends the process with cleanup again", async () => {
    const name = randomName();
    const child = await ready(["handler", name, "SIGTERM", "off"]);
    child.kill("SIGTERM");
    await waitForLine(child, /^user handler/); // it ran, and removed itself
    expect(existsSync(shm(name))).toBe(true);
    const end = await kill(child, "SIGTERM");
    expect(end).toMatchObject({ code: null, signal: "SIGTERM" });
    expect(existsSync(shm(name))).toBe(false);
  });
});
