// Defects an adversarial tester found in the segment layer, each with the
// case that crashed or hung before its fix. Cases that could crash or hang
// run in a child process (test/fixtures/hardening.ts) with a time limit, so
// a regression fails a test instead of killing or wedging the test runner.
import { constants as bufferConstants } from "node:buffer";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, ftruncateSync, lstatSync, openSync, readdirSync, rmSync, writeSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";

import { Segment, WaitLine, Waiter, layout, randomName, validateName } from "../../dist/lib/index.js";
import { native } from "../../dist/lib/core/native.js";
import { collect, expectCode, fixture, killStrays, runFixture, track, waitForLine } from "../helpers.js";

const binding = native();

const shm = (name: string): string => `/dev/shm/${name}`;

afterEach(killStrays);

/** The header of a freshly created, valid segment of `kind`. */
function validHeader(kind: "plain" | "ring"): Buffer {
  const seg =
    kind === "plain"
      ? Segment.create({ size: 4096 })
      : (Segment as unknown as { create(o: object, i: object): Segment }).create(
          { size: 4096 },
          { kind: layout.KIND_RING, capacity: 4096 },
        );
  try {
    return Buffer.from(new Uint8Array(seg.buffer, 0, layout.HEADER_SIZE));
  } finally {
    seg.close();
  }
}

/**
 * Writes `header` into a new object /dev/shm/<name> and makes it
 * `objectSize` bytes long: a sparse file, so a claim of gigabytes costs no
 * memory. Returns the name; the caller removes it.
 */
function forge(header: Buffer, objectSize: number): string {
  const name = randomName();
  const fd = openSync(shm(name), "wx", 0o600);
  try {
    writeSync(fd, header, 0, header.length, 0);
    ftruncateSync(fd, objectSize);
  } finally {
    closeSync(fd);
  }
  return name;
}

function withSizes(header: Buffer, dataSize: number, capacity?: number): Buffer {
  const h = Buffer.from(header);
  h.writeBigUInt64LE(BigInt(dataSize), layout.OFFSETS.data_size);
  h.writeBigUInt64LE(BigInt(dataSize + layout.HEADER_SIZE), layout.OFFSETS.segment_size);
  if (capacity !== undefined) h.writeUInt32LE(capacity, layout.OFFSETS.capacity);
  return h;
}

/** The error `fn` throws (fails the test if it throws nothing). */
function errorOf(fn: () => unknown): Error & { code?: unknown } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: unknown };
  }
  throw new Error("expected an error, nothing was thrown");
}

function lastLine(stdout: string, prefix: string): string {
  const line = stdout
    .split("\n")
    .reverse()
    .find((l) => l.startsWith(prefix + " "));
  if (line === undefined) throw new Error(`no "${prefix}" line in ${JSON.stringify(stdout)}`);
  return line.slice(prefix.length + 1);
}

describe("segments larger than the runtime's largest ArrayBuffer", () => {
  it("Segment.create refuses them up front: RangeError ERR_OUT_OF_RANGE naming buffer.constants.MAX_LENGTH", async () => {
    // In a child: before the fix this created the segment and crashed
    // (double free) on .data.
    const name = randomName();
    const r = await runFixture("hardening", ["create-huge", String(2 ** 32), name]);
    expect(r.signal).toBe(null);
    expect(r.code).toBe(0);
    expect(lastLine(r.stdout, "code")).toBe("RangeError:ERR_OUT_OF_RANGE");
    expect(lastLine(r.stdout, "message")).toContain("buffer.constants.MAX_LENGTH");
    expect(existsSync(shm(name))).toBe(false); // refused before shm_open
    // One byte over the largest mapping this runtime can expose is refused
    // here too, before any syscall (the largest that fits is not created:
    // it would reserve 4 GiB).
    const max = bufferConstants.MAX_LENGTH - layout.HEADER_SIZE;
    const name2 = randomName();
    const e = (() => {
      try {
        Segment.create({ size: max + 1, name: name2 });
      } catch (err) {
        return err as RangeError & { code: string };
      }
      throw new Error("no error");
    })();
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe("ERR_OUT_OF_RANGE");
    expect(e.message).toContain(`<= ${max} `);
    expect(existsSync(shm(name2))).toBe(false);
  });

  it("an attached oversized segment: data and buffer() throw ENOTSUP, no crash (the binding's error path frees once)", async () => {
    const size = bufferConstants.MAX_LENGTH; // + 4096 header: one byte over is enough, this is 4096 over
    const name = forge(withSizes(validHeader("plain"), size), size + layout.HEADER_SIZE);
    try {
      const child = track(
        spawn(process.execPath, ["--expose-gc", fixture("hardening"), "oversized", name], { stdio: ["ignore", "pipe", "pipe"] }),
      );
      const r = await collect(child, 20_000);
      expect(r.stderr).toBe("");
      expect(r.signal).toBe(null); // was SIGSEGV
      expect(r.code).toBe(0);
      expect(lastLine(r.stdout, "size")).toBe(String(size));
      expect(lastLine(r.stdout, "codes")).toBe("Error:ENOTSUP Error:ENOTSUP Error:ENOTSUP");
      expect(r.stdout).toContain("done");
    } finally {
      rmSync(shm(name), { force: true });
    }
  });

  it("Channel.attach of a ring header claiming 4 GiB of data (sparse object) is ECORRUPT, not a crash", async () => {
    // capacity 2^31 is a valid power of two; data_size 2^32 != capacity.
    const name = forge(withSizes(validHeader("ring"), 2 ** 32, 2 ** 31), 2 ** 32 + layout.HEADER_SIZE);
    try {
      const r = await runFixture("hardening", ["channel-attach", name]);
      expect(r.signal).toBe(null);
      expect(r.code).toBe(0);
      expect(lastLine(r.stdout, "code")).toBe("Error:ECORRUPT");
    } finally {
      rmSync(shm(name), { force: true });
    }
  });

  it("Broadcast.attach of a plain segment of 4 GiB (sparse object) is ECORRUPT, not ENOTSUP from mapping it into an ArrayBuffer", async () => {
    const name = forge(withSizes(validHeader("plain"), 2 ** 32), 2 ** 32 + layout.HEADER_SIZE);
    try {
      const r = await runFixture("hardening", ["broadcast-attach", name]);
      expect(r.signal).toBe(null);
      expect(lastLine(r.stdout, "code")).toBe("Error:ECORRUPT");
    } finally {
      rmSync(shm(name), { force: true });
    }
  });

  it("a ring whose data_size differs from its capacity is ECORRUPT for Segment.attach too", () => {
    const name = forge(withSizes(validHeader("ring"), 8192, 4096), 8192 + layout.HEADER_SIZE);
    try {
      let code = "none";
      try {
        Segment.attach(name).close();
      } catch (e) {
        code = (e as { code: string }).code;
      }
      expect(code).toBe("ECORRUPT");
    } finally {
      rmSync(shm(name), { force: true });
    }
  });
});

describe("unlink never blocks and needs no descriptor", () => {
  /** A squat fixture with an IPC channel; resolves with it and its two segment names. */
  async function squatter(): Promise<{ child: ChildProcess; names: string[] }> {
    const child = track(spawn(process.execPath, [fixture("hardening"), "squat"], { stdio: ["ignore", "pipe", "pipe", "ipc"] }));
    const line = await waitForLine(child, /^names /);
    return { child, names: line.split(" ").slice(1) };
  }

  /** rm /dev/shm/<name> (which the README calls safe), then mkfifo the name. */
  function squat(names: string[]): void {
    for (const n of names) {
      rmSync(shm(n));
      execFileSync("mkfifo", ["-m", "600", shm(n)]);
    }
  }

  // Time limits: a blocked process never returns, a working one needs well
  // under a second; 20 s leaves room for a loaded 2-core machine.
  it("a FIFO squatting an owned name: close() and the exit cleanup return at once and leave the FIFO alone", async () => {
    const { child, names } = await squatter();
    try {
      squat(names);
      const done = collect(child, 20_000);
      child.send("close");
      const r = await done;
      expect(r.signal).toBe(null); // SIGKILL from the time limit before the fix: close() blocked
      expect(r.code).toBe(0);
      expect(Number(lastLine(r.stdout, "closed"))).toBeLessThan(5_000);
      for (const n of names) expect(lstatSync(shm(n)).isFIFO()).toBe(true); // not ours: not removed
    } finally {
      for (const n of names) rmSync(shm(n), { force: true });
    }
  });

  it("a FIFO squatting an owned name: SIGTERM still ends the process promptly", async () => {
    const { child, names } = await squatter();
    try {
      squat(names);
      const done = collect(child, 20_000);
      child.kill("SIGTERM");
      const r = await done;
      expect(r.signal).toBe("SIGTERM"); // the handler unlinked (or skipped) and re-raised; SIGKILL if it blocked
      for (const n of names) expect(lstatSync(shm(n)).isFIFO()).toBe(true);
    } finally {
      for (const n of names) rmSync(shm(n), { force: true });
    }
  });

  it("out of descriptors (EMFILE): close() and the exit cleanup still remove the names", async () => {
    // ulimit -n 256: the fixture reaches EMFILE after a few hundred opens,
    // whatever this machine's own limit is.
    const child = track(
      spawn("/bin/sh", ["-c", 'ulimit -n 256 && exec "$0" "$@"', process.execPath, fixture("hardening"), "emfile"], {
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    const r = await collect(child, 20_000);
    const names = lastLine(r.stdout, "names").split(" ");
    try {
      expect(r.stderr).toBe("");
      expect(r.signal).toBe(null);
      expect(r.code).toBe(0);
      const [fds, a] = lastLine(r.stdout, "closed").split(" ");
      expect(Number(fds)).toBeGreaterThan(0); // it did hit EMFILE
      expect(a).toBe("a-gone"); // close() at the limit removed the name
      // ...and the exit cleanup at the limit removed b's:
      for (const n of names) expect(existsSync(shm(n))).toBe(false);
    } finally {
      for (const n of names) rmSync(shm(n), { force: true });
    }
  });
});

describe("a worker blocked in waitSync(seq) with no timeout", () => {
  // Both run in a child process: before the fix neither terminate() nor
  // process.exit() ever returned. The fixture waits until the worker really
  // sleeps in FUTEX_WAIT (it reads /proc/self/task/*/syscall), so the
  // blocking case is the one exercised, not a race with it. A working fix
  // ends the wait within one slice (<= 50 ms); 5 s bounds a loaded machine
  // (two cores shared with other test runs) with a wide margin.
  /** A killed fixture cannot clean up: remove its segment. */
  function removeSegmentOf(stdout: string): void {
    const m = /^segment (\S+)$/m.exec(stdout);
    if (m) rmSync(shm(m[1]!), { force: true });
  }

  it("worker.terminate() resolves", async () => {
    const r = await runFixture("hardening", ["terminate"], 20_000);
    removeSegmentOf(r.stdout);
    expect(r.stderr).toBe("");
    expect(r.signal).toBe(null);
    expect(r.code).toBe(0);
    expect(Number(lastLine(r.stdout, "terminated"))).toBeLessThan(5_000);
  });

  it("process.exit() on the main thread exits promptly", async () => {
    const child = track(spawn(process.execPath, [fixture("hardening"), "exit-blocked"], { stdio: ["ignore", "pipe", "pipe"] }));
    const done = collect(child, 20_000);
    await waitForLine(child, /^exiting/, 15_000);
    const t0 = performance.now();
    const r = await done;
    removeSegmentOf(r.stdout);
    expect(r.stderr).toBe("");
    expect(r.signal).toBe(null);
    expect(r.code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});

describe("waitSync in slices keeps its meaning", () => {
  it("a timeout spanning several slices ends at the deadline, not before", () => {
    const seg = Segment.create({ size: 4096 });
    try {
      const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
      const seq = line.prepare("sync");
      const t0 = performance.now();
      expect(line.waitSync(seq, 120)).toBe("timed-out");
      const ms = performance.now() - t0;
      line.finish();
      expect(ms).toBeGreaterThanOrEqual(120); // the loop ends only once performance.now() passed the deadline
      expect(ms).toBeLessThan(5_000); // generous: a loaded machine may delay the last slice
      expect(line.waitSync(seq, 0)).toBe("timed-out");
      line.notify(); // nobody waits: no change
      Atomics.add(new Int32Array(seg.buffer, layout.OFFSETS.reader_wait, 1), 0, 1);
      expect(line.waitSync(seq, 0)).toBe("not-equal");
      expect(line.waitSync(seq)).toBe("not-equal"); // moved already: no sleep at all
    } finally {
      seg.close();
    }
  });

  it("a wake that comes several slices into the wait is \"ok\"", async () => {
    const r = await runFixture("hardening", ["wake-late"], 20_000);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [result, ms] = lastLine(r.stdout, "result").split(" ");
    expect(result).toBe("ok");
    expect(Number(ms)).toBeGreaterThanOrEqual(200); // woken, not timed out, after the waker's 200 ms
    expect(Number(ms)).toBeLessThan(10_000);
  });
});

describe("wait lines only at wait-line offsets", () => {
  it("WaitLine refuses offsets that are not wait lines (0 would put `waiting` into the identity line)", () => {
    const seg = Segment.create({ size: 4096 });
    try {
      const before = Buffer.from(new Uint8Array(seg.buffer, 0, layout.HEADER_SIZE));
      for (const off of [0, 128, 256, 384, 768, 3968, 4096, -128, 2 ** 32 + 512]) {
        const e = errorOf(() => new WaitLine(seg, off));
        expect(e).toBeInstanceOf(RangeError);
        expect(e.code).toBe("ERR_OUT_OF_RANGE");
      }
      for (const off of [520, 513, 600]) {
        const e = errorOf(() => new WaitLine(seg, off));
        expect(e).toBeInstanceOf(TypeError);
        expect(e.code).toBe("ERR_INVALID_ARG_VALUE");
      }
      expect(errorOf(() => new WaitLine(seg, "512" as unknown as number)).code).toBe("ERR_INVALID_ARG_TYPE");
      // Real lines: reader_wait and writer_wait (768 is a ring's loan line).
      for (const off of [layout.OFFSETS.reader_wait, layout.OFFSETS.writer_wait]) {
        const line = new WaitLine(seg, off);
        line.prepare("sync");
        line.finish();
        expect(line.notify()).toBe(false);
      }
      expect(Buffer.from(new Uint8Array(seg.buffer, 0, layout.OFFSETS.reader_wait)).equals(before.subarray(0, layout.OFFSETS.reader_wait))).toBe(true);
    } finally {
      seg.close();
    }
  });

  it("the binding refuses them too: wait, wake, notify and WaiterHandle", () => {
    const seg = Segment.create({ size: 4096 });
    try {
      const h = seg.handle;
      for (const off of [0, 4, 256, 384, 516, 768, 3968, 4096, 8192, layout.HEADER_SIZE + 64]) {
        expect(errorOf(() => h.wait(off, 12345, 0))).toBeInstanceOf(RangeError);
        expect(errorOf(() => h.wake(off))).toBeInstanceOf(RangeError);
        expect(errorOf(() => h.notify(off))).toBeInstanceOf(RangeError);
        expect(errorOf(() => new binding.WaiterHandle(h, off, "futex", () => {}))).toBeInstanceOf(RangeError);
      }
      expect(h.wait(layout.OFFSETS.writer_wait, 12345, 0)).toBe("not-equal");
      expect(h.wake(layout.OFFSETS.reader_wait)).toBe(0);
      const w = new binding.WaiterHandle(h, layout.OFFSETS.writer_wait, "futex", () => {});
      w.close();
      const v = new DataView(seg.buffer);
      expect(v.getUint32(layout.OFFSETS.magic, true)).toBe(layout.MAGIC);
    } finally {
      seg.close();
    }
  });
});

describe("Waiter.wait validates its timeout and supports long ones", () => {
  /** How `p` settles within 500 ms of real time: its value, its error, or "pending". */
  async function settled<T>(p: Promise<T>): Promise<T | Error | "pending"> {
    return Promise.race([p.catch((e: Error) => e), new Promise<"pending">((r) => setTimeout(() => r("pending"), 500))]);
  }

  it.each(["doorbell", "futex"] as const)("NaN, negative and non-number timeouts reject at once (%s)", async (mode) => {
    const seg = Segment.create({ size: 4096 });
    const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
    const waiter = new Waiter(line, mode);
    try {
      const seq = line.prepare(mode);
      const cases: [unknown, string, ErrorConstructor][] = [
        [NaN, "ERR_OUT_OF_RANGE", RangeError],
        [-1, "ERR_OUT_OF_RANGE", RangeError],
        [-Infinity, "ERR_OUT_OF_RANGE", RangeError],
        ["50", "ERR_INVALID_ARG_TYPE", TypeError],
        [null, "ERR_INVALID_ARG_TYPE", TypeError],
        [50n, "ERR_INVALID_ARG_TYPE", TypeError],
      ];
      for (const [timeout, code, type] of cases) {
        const r = await settled(waiter.wait(seq, timeout as number));
        expect(r).toBeInstanceOf(type); // before: NaN and "50" waited forever ("pending")
        expect((r as Error & { code: string }).code).toBe(code);
        expect(() => line.waitSync(seq, timeout as number)).toThrow(type);
      }
      // The waiter is still usable: nothing was left pending.
      expect(await waiter.wait(seq, 10)).toBe("timed-out");
      line.finish();
    } finally {
      waiter.close();
      seg.close();
    }
  });

  it.each(["doorbell", "futex"] as const)("a seq that is not a u32 is refused at once, by wait and waitSync (it was coerced: a wait for a value never seen) (%s)", async (mode) => {
    const seg = Segment.create({ size: 4096 });
    const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
    const waiter = new Waiter(line, mode);
    try {
      line.prepare(mode);
      const cases: [unknown, string, ErrorConstructor][] = [
        [NaN, "ERR_OUT_OF_RANGE", RangeError],
        [-0.5, "ERR_OUT_OF_RANGE", RangeError],
        [1e300, "ERR_OUT_OF_RANGE", RangeError],
        [2 ** 32, "ERR_OUT_OF_RANGE", RangeError],
        ["1", "ERR_INVALID_ARG_TYPE", TypeError],
        [null, "ERR_INVALID_ARG_TYPE", TypeError],
        [undefined, "ERR_INVALID_ARG_TYPE", TypeError],
        [{}, "ERR_INVALID_ARG_TYPE", TypeError],
      ];
      for (const [seq, code, type] of cases) {
        const r = await settled(waiter.wait(seq as number));
        expect(r).toBeInstanceOf(type);
        expect((r as Error & { code: string }).code).toBe(code);
        expect(() => line.waitSync(seq as number)).toThrow(type);
      }
      line.finish();
    } finally {
      waiter.close();
      seg.close();
    }
  });

  it("new Waiter() of something that is not a WaitLine is a TypeError with a code", () => {
    for (const bad of [{}, null, undefined, 5]) expectCode(() => new Waiter(bad as unknown as WaitLine), "ERR_INVALID_ARG_TYPE");
  });

  it("a timeout of 2^31 ms or more chains timers to the real deadline (it fired after 1 ms before)", async () => {
    const seg = Segment.create({ size: 4096 });
    const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
    const waiter = new Waiter(line, "futex");
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    try {
      for (const timeout of [2 ** 31, 2 ** 32 + 12_345]) {
        let result: string | null = null;
        void waiter.wait(line.prepare("futex"), timeout).then((r) => (result = r));
        await vi.advanceTimersByTimeAsync(1_000);
        expect(result).toBe(null);
        await vi.advanceTimersByTimeAsync(timeout - 1_000 - 2);
        expect(result).toBe(null);
        await vi.advanceTimersByTimeAsync(3);
        expect(result).toBe("timed-out");
      }
      line.finish();
    } finally {
      vi.useRealTimers();
      waiter.close();
      seg.close();
    }
  });
});

describe("every error the binding throws has a code", () => {
  it("argument errors are TypeError/RangeError with Node's ERR_* codes, also when called directly", () => {
    const seg = Segment.create({ size: 4096 });
    const S = binding.SegmentHandle;
    const h = seg.handle;
    const fn = (): void => {};
    const sym = Symbol("x");
    const W = binding.WaiterHandle as unknown as new (...a: unknown[]) => { arm(s: unknown): void; close(): void };
    const good = new W(h, layout.OFFSETS.reader_wait, "futex", fn);
    // An object of another class of the addon, dressed up as a SegmentHandle.
    const impostor = Object.setPrototypeOf(new W(h, layout.OFFSETS.writer_wait, "futex", fn), (S as unknown as { prototype: object }).prototype);
    const any = (f: unknown) => f as (...a: unknown[]) => unknown;
    const cases: [string, () => unknown, string, ErrorConstructor][] = [
      ["create(name: number)", () => any(S.create)(1, 4096, 0, 0, false), "ERR_INVALID_ARG_TYPE", TypeError],
      ["create(size: string)", () => any(S.create)("smsh-x", "4096", 0, 0, false), "ERR_INVALID_ARG_TYPE", TypeError],
      ["create(size: -1)", () => any(S.create)("smsh-x", -1, 0, 0, false), "ERR_OUT_OF_RANGE", RangeError],
      ["create(kind: 1.5)", () => any(S.create)("smsh-x", 4096, 1.5, 0, false), "ERR_OUT_OF_RANGE", RangeError],
      ["attach(symbol)", () => any(S.attach)(sym, false), "ERR_INVALID_ARG_TYPE", TypeError],
      ["inspect(1)", () => any(S.inspect)(1), "ERR_INVALID_ARG_TYPE", TypeError],
      ["unlinkIfSame(id: 1)", () => any(S.unlinkIfSame)("smsh-x", 1), "ERR_INVALID_ARG_TYPE", TypeError],
      ["unlinkIfSame(id: no colon)", () => any(S.unlinkIfSame)("smsh-x", "12"), "ERR_INVALID_ARG_VALUE", TypeError],
      ["new SegmentHandle(1)", () => new (S as unknown as new (x: unknown) => unknown)(1), "ERR_INVALID_ARG_TYPE", TypeError],
      ["lock('1')", () => any(h.lock).call(h, "1"), "ERR_INVALID_ARG_TYPE", TypeError],
      ["lock(4096)", () => h.lock(4096), "ERR_OUT_OF_RANGE", RangeError],
      ["probe(-1)", () => h.probe(-1), "ERR_OUT_OF_RANGE", RangeError],
      ["unlock(1.5)", () => h.unlock(1.5), "ERR_OUT_OF_RANGE", RangeError],
      ["wait(offset: '512')", () => any(h.wait).call(h, "512", 12345, 0), "ERR_INVALID_ARG_TYPE", TypeError],
      ["wait(expected: symbol)", () => any(h.wait).call(h, 512, sym, 0), "ERR_INVALID_ARG_TYPE", TypeError],
      ["wait(timeout: '5')", () => any(h.wait).call(h, 512, 12345, "5"), "ERR_INVALID_ARG_TYPE", TypeError],
      ["wait(timeout: NaN)", () => h.wait(512, 12345, NaN), "ERR_OUT_OF_RANGE", RangeError],
      ["wait(timeout: -1)", () => h.wait(512, 12345, -1), "ERR_OUT_OF_RANGE", RangeError],
      ["wait(offset: 0)", () => h.wait(0, 12345, 0), "ERR_OUT_OF_RANGE", RangeError],
      ["wake(count: '1')", () => any(h.wake).call(h, 512, "1"), "ERR_INVALID_ARG_TYPE", TypeError],
      ["notify(symbol)", () => any(h.notify).call(h, sym), "ERR_INVALID_ARG_TYPE", TypeError],
      ["notify(8)", () => h.notify(8), "ERR_OUT_OF_RANGE", RangeError],
      ["WaiterHandle(segment: 1)", () => new W(1, 512, "futex", fn), "ERR_INVALID_ARG_TYPE", TypeError],
      ["WaiterHandle(segment: a prototype)", () => new W(Object.create((S as unknown as { prototype: object }).prototype), 512, "futex", fn), "ERR_INVALID_ARG_TYPE", TypeError],
      ["WaiterHandle(segment: another handle)", () => new W(impostor, 512, "futex", fn), "ERR_INVALID_ARG_TYPE", TypeError],
      ["WaiterHandle(callback: 1)", () => new W(h, 512, "futex", 1), "ERR_INVALID_ARG_TYPE", TypeError],
      ["WaiterHandle(lineOffset: '512')", () => new W(h, "512", "futex", fn), "ERR_INVALID_ARG_TYPE", TypeError],
      ["WaiterHandle(lineOffset: 0)", () => new W(h, 0, "futex", fn), "ERR_OUT_OF_RANGE", RangeError],
      ["WaiterHandle(mode: symbol)", () => new W(h, 512, sym, fn), "ERR_INVALID_ARG_VALUE", TypeError],
      ["WaiterHandle(mode: 'x')", () => new W(h, 512, "x", fn), "ERR_INVALID_ARG_VALUE", TypeError],
      ["arm(symbol)", () => good.arm(sym), "ERR_INVALID_ARG_TYPE", TypeError],
      ["processStartTime('1')", () => any(binding.processStartTime)("1"), "ERR_INVALID_ARG_TYPE", TypeError],
      ["PeerWatchHandle('1')", () => new (binding.PeerWatchHandle as unknown as new (...a: unknown[]) => unknown)("1", 0, fn), "ERR_INVALID_ARG_TYPE", TypeError],
    ];
    try {
      const missing: string[] = [];
      for (const [what, f, code, type] of cases) {
        const e = errorOf(f);
        if (!(e instanceof type) || e.code !== code) missing.push(`${what}: ${e.constructor.name} ${String(e.code)} (${e.message})`);
      }
      expect(missing).toEqual([]);
      // System and package failures have codes too.
      expect(errorOf(() => S.attach(randomName(), false)).code).toBe("ENOENT");
      expect(errorOf(() => S.create("bad/name", 4096, 0, 0, false)).code).toBe("EINVAL");
    } finally {
      good.close();
      (W.prototype as { close(): void }).close.call(impostor);
      seg.close();
    }
  });
});

describe("segment names", () => {
  const bad = ["sem.x", "SEM.foo", "Sem.", "-", "-abc", "_x", "CON", "con", "Con.txt", "PRN", "aux", "AUX.tar.gz", "NUL", "nul.", "COM1", "com9.log", "LPT1", "lpt9", "COM0", "LPT0.x"];
  const fine = ["sem", "sem-x", "semx", "x.sem.y", "CONS", "con_x", "contoso.txt", "NULL", "COM10", "LPT", "com1x", "a.CON", "0abc", "A-z_0.9"];

  it("refuses semaphore names, names not starting with a letter or digit, and Windows device names (TypeError ERR_INVALID_ARG_VALUE)", () => {
    for (const name of bad) {
      for (const f of [() => validateName(name), () => Segment.create({ size: 4096, name }), () => Segment.attach(name)]) {
        const e = errorOf(f);
        expect(e, name).toBeInstanceOf(TypeError);
        expect(e.code, name).toBe("ERR_INVALID_ARG_VALUE");
      }
      expect(existsSync(shm(name)), name).toBe(false);
      // The core refuses them as well, for a direct caller of the binding.
      expect(errorOf(() => binding.SegmentHandle.create(name, 4096, 0, 0, false)).code, name).toBe("EINVAL");
      expect(errorOf(() => binding.SegmentHandle.attach(name, false)).code, name).toBe("EINVAL");
      expect(errorOf(() => binding.SegmentHandle.inspect(name)).code, name).toBe("EINVAL");
    }
    for (const name of fine) expect(validateName(name)).toBe(name);
    for (let i = 0; i < 100; i++) expect(validateName(randomName())).toMatch(/^smsh-[a-z2-7]{16}$/);
  });
});
