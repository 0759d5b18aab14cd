// Helpers of the test/win tests (run on Linux by the normal suite and under
// Wine by scripts/test-wine.sh). Children run the compiled fixtures of
// test/win/fixtures (dist/test/win/fixtures) with process.execPath: node.exe
// under Wine. Their stdin is a pipe they watch: it ending ends them (see
// fixtures/process.ts), as does their own time limit, and so does the limit
// given here.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";

import { ROOT, track, type ChildResult } from "../helpers.js";

export const WIN_FIXTURES = path.join(ROOT, "dist", "test", "win", "fixtures");

export interface PeerProcess {
  child: ChildProcess;
  /**
   * The next line of its stdout matching `re`, after the last line this
   * returned (lines that came before the call count: none is missed).
   * Rejects, with what the child printed, if it ends first or after timeoutMs.
   */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Writes a line to its stdin. */
  write(line: string): void;
  /** Its exit and everything it printed; it is killed if still running after the limit. */
  done: Promise<ChildResult>;
  /** `e` with the child's output appended (killing the child first if it still runs). */
  explain(e: unknown): Promise<never>;
}

/** Starts `exe args` with its stdio piped; killStrays() ends it if a test fails. */
export function startProcess(exe: string, args: string[], limitMs = 110_000): PeerProcess {
  const child = track(spawn(exe, args, { stdio: ["pipe", "pipe", "pipe"] }));
  let stdout = "";
  let stderr = "";
  let partial = "";
  let closed = false;
  const lines: string[] = [];
  let next = 0;
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => {
    stdout += d;
    partial += d;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    lines.push(...parts.map((l) => l.replace(/\r$/, "")));
    notify();
  });
  child.stderr!.on("data", (d: string) => (stderr += d));
  const done = new Promise<ChildResult>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      closed = true;
      notify();
      resolve({ code, signal, stdout, stderr });
    });
  });
  const output = (): string => `stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}`;
  return {
    child,
    done,
    write: (line) => void child.stdin!.write(line + "\n"),
    async line(re, timeoutMs = 60_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        while (next < lines.length) {
          const l = lines[next++]!;
          if (re.test(l)) return l;
        }
        if (closed) throw new Error(`the child ended (code ${child.exitCode}, signal ${child.signalCode}) before a line matching ${re}; ${output()}`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`no line matching ${re} within ${timeoutMs} ms; ${output()}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(finish, left);
          function finish(): void {
            clearTimeout(timer);
            waiters.delete(finish);
            resolve();
          }
          waiters.add(finish);
        });
      }
    },
    async explain(e) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await done;
      throw new Error(`${e instanceof Error ? e.message : String(e)}; child: ${output()}`, { cause: e });
    },
  };
}

/** Starts test/win/fixtures/peer.ts with `args` (see there). */
export function spawnPeer(args: string[], limitMs?: number): PeerProcess {
  const script = path.join(WIN_FIXTURES, "peer.js");
  if (!existsSync(script)) throw new Error(`${script} missing: run "npm run build:ts" first`);
  return startProcess(process.execPath, [script, ...args], limitMs);
}

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
}

/** The code of the error `fn` throws, or "none". */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return String((e as { code?: unknown }).code);
  }
  return "none";
}
