// Files a process makes outside /dev/shm go with it, as its segments do: a
// listener's ipc:// socket file and an agent's private directory (with its
// socket) are removed by close(), and also when the process ends without
// closing them: by process.exit(), and by SIGINT, SIGTERM or SIGHUP (the
// native signal handler that removes owned segments). They were left behind.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { hub } from "../../dist/lib/index.js";
import { collect, fixture, killStrays, track, waitForLine } from "../helpers.js";

const dir = mkdtempSync(path.join(tmpdir(), "smsh-owned-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killStrays);

let n = 0;

async function run(args: string[], end: "exit" | NodeJS.Signals, how = end === "exit" ? "exit" : "wait"): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = track(spawn(process.execPath, [fixture("owned-paths"), ...args, how], { stdio: ["ignore", "pipe", "pipe"] }));
  const done = collect(child, 30_000);
  await waitForLine(child, /^ready/, 20_000);
  if (end !== "exit") child.kill(end);
  const r = await done;
  return { code: r.code, signal: r.signal };
}

describe.skipIf(process.platform === "win32")("files outside /dev/shm go with their process", () => {
  it.each(["exit", "SIGTERM", "SIGINT", "SIGHUP"] as const)("a listener's ipc:// socket file (%s)", async (end) => {
    const file = path.join(dir, `l${n++}.sock`);
    const r = await run(["listen", `ipc://${file}`], end);
    expect(r).toEqual(end === "exit" ? { code: 0, signal: null } : { code: null, signal: end });
    expect(existsSync(file)).toBe(false);
  });

  it("a listener's socket file, SIGINT after a SIGINT listener came and went (the handler is put back)", async () => {
    const file = path.join(dir, `l${n++}.sock`);
    expect(await run(["listen", `ipc://${file}`], "SIGINT", "toggle")).toEqual({ code: null, signal: "SIGINT" });
    expect(existsSync(file)).toBe(false);
  });

  it.each(["exit", "SIGTERM"] as const)("an agent's private directory and socket (%s)", async (end) => {
    const h = await hub(`ipc://${path.join(dir, `hub${n++}.sock`)}`, { statsIntervalMs: 600_000 });
    try {
      const joined = new Promise<string>((resolve) => h.on("join", (e: { endpoint: string | null }) => resolve(e.endpoint ?? "")));
      const ending = run(["agent", h.endpoint], end);
      const endpoint = await joined;
      expect(endpoint).toMatch(/^ipc:\/\/.*smsh-agent-/);
      const agentDir = path.dirname(endpoint.slice("ipc://".length));
      await ending;
      expect(existsSync(agentDir)).toBe(false);
    } finally {
      await h.close();
    }
  });
});
