// A process killed with SIGKILL leaves its segment behind; `synaptic-shm ls`
// shows it, `synaptic-shm sweep` removes it.
//   npm run build:ts && node dist/examples/crash-cleanup.js
//
// A process that exits, throws, or dies of SIGINT/SIGTERM/SIGHUP removes the
// names of the segments it created. SIGKILL (or a segfault) gives it no
// chance: the name stays in /dev/shm. What happens then:
// 1. the peer is told: a reader waiting on a dead writer gets EPEERDEAD;
// 2. `synaptic-shm ls` lists the segment with its owner "dead";
// 3. `synaptic-shm sweep --dry-run` says what a sweep would remove;
// 4. `synaptic-shm sweep` removes the segments of dead owners (of this user
//    only, never live ones; all of them, or only those named: `sweep NAME`,
//    which is what this demo does, to leave other programs' leftovers to
//    them). From code: listSegments(), sweep({ dryRun: true }), sweep(),
//    sweep({ names: [name] }).
//
// The CLI is run here with --json and only the `name` fields are read: the
// human output is for people and may change between versions.
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";

import { Channel, Segment, listSegments, type ShmError } from "@synaptic-mesh/shm";

// Any process of this user that opens a channel also sweeps dead owners'
// segments by itself (at most every 30 s): what you want in production, as
// crashes then clean up after themselves. In this demo it would spoil the
// show: a process of ours opening a channel after the crash (say, a restarted
// child) would remove the leftover before `ls` could list it. So the demo
// turns it off for itself and every process it starts (they inherit the
// environment). Other processes of yours that open channels meanwhile may
// still sweep it first: then this example says so.
process.env.SYNAPTIC_SHM_NO_AUTOSWEEP = "1";

// Generous: starting a Node process can take seconds on a busy machine.
const TIMEOUT_MS = 30_000;

/** The installed CLI: package.json's "bin", run with this Node. */
function cliPath(): string {
  const pkgJson = require.resolve("@synaptic-mesh/shm/package.json");
  const { bin } = JSON.parse(readFileSync(pkgJson, "utf8")) as { bin: string | Record<string, string> };
  return path.resolve(path.dirname(pkgJson), typeof bin === "string" ? bin : bin["synaptic-shm"]!);
}

/** Runs `synaptic-shm ...args`; throws if it exits with anything but 0 (1: error, 2: usage). */
function cli(...args: string[]): string {
  return execFileSync(process.execPath, [cliPath(), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const names = (entries: { name: string }[]): string[] => entries.map((e) => e.name);
const shm = (name: string): string => `/dev/shm/${name}`;

async function main(): Promise<void> {
  // 1. A child creates a channel, sends a message, and is killed with SIGKILL.
  const child = spawn(process.execPath, [__filename, "child"], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const name = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the child named no channel within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    lines.once("line", (l) => (clearTimeout(timer), resolve(l)));
    child.once("exit", (code) => (clearTimeout(timer), reject(new Error(`the child exited (${code}) before naming its channel`))));
  });
  const rx = Channel.attach(name);
  console.log(`child ${child.pid} created ${name}; we read: "${Buffer.from(await rx.recv({ timeout: TIMEOUT_MS })).toString()}"`);

  child.kill("SIGKILL");
  const [, signal] = (await once(child, "exit")) as [number | null, string | null];
  try {
    await rx.recv({ timeout: TIMEOUT_MS });
    throw new Error("a message from a dead process?");
  } catch (e) {
    const code = (e as ShmError).code;
    if (code !== "EPEERDEAD") throw e;
    // Within milliseconds of the death, not after the timeout.
    console.log(`child killed (${signal}); our recv() rejects with ${code}`);
  } finally {
    rx.close(); // a reader never removes the name: that was the dead writer's job
  }
  if (process.platform === "win32") return windows(name);
  if (!existsSync(shm(name))) return alreadySwept(name);
  console.log(`${shm(name)} still exists: true`);

  // 2. ls: the leftover, with its owner dead.
  const listed = (JSON.parse(cli("ls", "--json")) as { name: string; owner?: { pid?: number; alive?: boolean } }[]).find((s) => s.name === name);
  if (!listed) {
    if (!existsSync(shm(name))) return alreadySwept(name);
    throw new Error(`synaptic-shm ls does not list ${name}, which is still in /dev/shm`);
  }
  console.log(`synaptic-shm ls --json: ${name} is listed, owner pid ${listed.owner?.pid} ${listed.owner?.alive === false ? "dead" : "alive"}`);
  // What a person sees: the table's header and our row (other segments of
  // yours, live or dead, would be listed too).
  const table = cli("ls").split("\n");
  for (const line of [table[0]!, ...table.slice(1).filter((l) => l.includes(name))]) console.log(`  | ${line}`);

  // 3. sweep --dry-run: what would go. Without a NAME, that would be every
  // dead owner's segment of yours, not only this one.
  const dry = JSON.parse(cli("sweep", name, "--dry-run", "--json")) as { wouldRemove: { name: string }[] };
  const would = names(dry.wouldRemove);
  if (!would.includes(name)) {
    if (!existsSync(shm(name))) return alreadySwept(name);
    throw new Error(`synaptic-shm sweep --dry-run would not remove ${name}, whose owner is dead`);
  }
  console.log(`synaptic-shm sweep NAME --dry-run --json: would remove ${name}: true; still exists: ${existsSync(shm(name))}`);

  // 4. sweep NAME: removes it (a plain `sweep` would remove every dead owner's).
  const swept = names((JSON.parse(cli("sweep", name, "--json")) as { removed: { name: string }[] }).removed);
  console.log(`synaptic-shm sweep NAME --json: removed ${name}: ${swept.includes(name) ? "true" : "false (another sweep was faster)"}`);

  // And it is gone. The same from code: listSegments() is what `ls` shows,
  // sweep({ dryRun: true, names }) and sweep({ names }) what `sweep NAME` does.
  const after = names(listSegments());
  console.log(`afterwards: listed by listSegments(): ${after.includes(name)}; ${shm(name)} exists: ${existsSync(shm(name))}`);
}

/**
 * Windows: a segment is a named mapping that goes with its last handle, here
 * our reader's, closed above. Nothing is left behind and there is nothing to
 * sweep (ls and sweep say so).
 */
function windows(name: string): void {
  let code = "none";
  try {
    Segment.attach(name).close();
  } catch (e) {
    code = (e as ShmError).code;
  }
  console.log(`Windows: ${name} went with its last handle; attaching it now fails with ${code}; nothing to sweep`);
}

/** Another process of this user swept the leftover before we could show it. */
function alreadySwept(name: string): void {
  console.log(`note: ${name} was already removed by another process's sweep; run the example again to see every step`);
}

// The child: creates a channel, sends one message, names it on stdout, and
// waits to be killed.
function child(): void {
  const tx = Channel.create({ capacity: 4096 });
  tx.trySend(Buffer.from("hello from a process about to be killed"));
  console.log(tx.name);
  // Stay alive until killed: reading stdin keeps the event loop busy. Should
  // the parent die first, stdin ends and we close and exit. That handler also
  // keeps `tx` reachable, which matters: a channel or segment that is
  // garbage-collected is closed, and its owner's name removed, so a writer
  // nobody references can vanish from /dev/shm before anyone attaches.
  process.stdin.resume();
  process.stdin.once("end", () => {
    tx.close();
    process.exit(1);
  });
}

if (process.argv[2] === "child") {
  child();
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
