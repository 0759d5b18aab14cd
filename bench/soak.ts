// The soak that found the wake storm (issue 12): checked messages of 1 to
// 256 bytes, `await tx.send()` per message, a reader in another process
// receiving with `await rx.recv()` and checking every byte, for a fixed
// time. Prints the rate, what the wakeups cost (wakes sent per reader
// sleep, and per writer sleep), and fails if anything was lost, reordered
// or changed.
//
//   node dist/bench/soak.js [--seconds S] [--mode doorbell|futex] [--spin adaptive|US] [--json FILE]
import { fork } from "node:child_process";
import { writeFileSync } from "node:fs";

import { Channel, type WaitMode } from "../lib/index.js";
import { UsageError, parseCommandLine, parseInteger } from "../lib/util/args.js";
import { formatNumber } from "../lib/util/format.js";

const CAPACITY = 1 << 16;

/** Length of message i: 1..256, spread by a hash of i. */
function lengthOf(i: number): number {
  return 1 + (Math.imul(i ^ 0x5bd1e995, 0x27d4eb2d) >>> 24);
}

/** Byte k of message i. */
function byteOf(i: number, k: number): number {
  return (i * 131 + k * 31 + (i >>> 8)) & 255;
}

export interface SoakResult {
  seconds: number;
  mode: WaitMode;
  messages: number;
  msgs_per_s: number;
  writer_wakeups: number;
  reader_sleeps: number;
  wakeups_per_reader_sleep: number;
  reader_wakeups: number;
  writer_sleeps: number;
  lost: number;
}

async function reader(name: string, mode: WaitMode, spin: number | "adaptive"): Promise<void> {
  const rx = Channel.attach(name, { notify: mode, spin });
  process.send!({ ready: true });
  let i = 0;
  let bad = "";
  for (;;) {
    let m: Uint8Array;
    try {
      m = await rx.recv();
    } catch (e) {
      if ((e as { code?: string }).code === "ECLOSED") break;
      throw e;
    }
    const n = lengthOf(i);
    if (m.length !== n) bad ||= `message ${i}: ${m.length} bytes, expected ${n}`;
    else for (let k = 0; k < n; k++) if (m[k] !== byteOf(i, k)) bad ||= `message ${i}: byte ${k} changed`;
    if (bad) break;
    i++;
  }
  const s = rx.stats;
  process.send!({ messages: i, bad, sleeps: s.sleeps, wakeups: s.wakeups });
  rx.close();
}

export async function runSoak(seconds: number, mode: WaitMode, spin: number | "adaptive"): Promise<SoakResult> {
  const tx = Channel.create({ capacity: CAPACITY, notify: mode, spin });
  const child = fork(__filename, ["--child", tx.name, mode, String(spin)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  try {
    const report = new Promise<{ messages: number; bad: string; sleeps: number; wakeups: number }>((resolve, reject) => {
      child.on("message", (m: { ready?: boolean; messages?: number }) => {
        if (m.messages !== undefined) resolve(m as never);
      });
      child.on("exit", (code) => reject(new Error(`the reader exited (${code}) before reporting`)));
    });
    await new Promise<void>((resolve) => child.once("message", () => resolve()));
    const scratch = new Uint8Array(256);
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let i = 0;
    while (performance.now() < end) {
      // A thousand messages between clock reads.
      for (let j = 0; j < 1000; j++, i++) {
        const n = lengthOf(i);
        for (let k = 0; k < n; k++) scratch[k] = byteOf(i, k);
        await tx.send(scratch.subarray(0, n));
      }
    }
    tx.close();
    const r = await report;
    const elapsed = (performance.now() - t0) / 1000;
    const w = tx.stats;
    if (r.bad) throw new Error(`soak: ${r.bad}`);
    return {
      seconds: elapsed,
      mode,
      messages: i,
      msgs_per_s: i / elapsed,
      writer_wakeups: w.wakeups,
      reader_sleeps: r.sleeps,
      wakeups_per_reader_sleep: r.sleeps > 0 ? w.wakeups / r.sleeps : 0,
      reader_wakeups: r.wakeups,
      writer_sleeps: w.sleeps,
      lost: i - r.messages,
    };
  } finally {
    tx.close();
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--child") {
    const spin = argv[3] === "adaptive" ? "adaptive" : Number(argv[3]);
    return reader(argv[1]!, argv[2] as WaitMode, spin);
  }
  const { values } = parseCommandLine(argv, { seconds: { type: "string" }, mode: { type: "string" }, spin: { type: "string" }, json: { type: "string" } });
  const seconds = typeof values.seconds === "string" ? parseInteger("seconds", values.seconds, 1) : 10;
  const mode = (values.mode ?? "doorbell") as string;
  if (mode !== "doorbell" && mode !== "futex") throw new UsageError(`--mode ${mode}: doorbell or futex`);
  const spinText = typeof values.spin === "string" ? values.spin : "adaptive";
  const spin = spinText === "adaptive" ? "adaptive" : parseInteger("spin", spinText, 0);
  const r = await runSoak(seconds, mode, spin);
  console.log(
    `soak (${mode}, spin ${spinText}): ${formatNumber(r.messages)} checked messages of 1-256 B in ${r.seconds.toFixed(1)} s, ` +
      `await send() per message: ${formatNumber(r.msgs_per_s)} msgs/s; lost ${r.lost}\n` +
      `  writer: ${formatNumber(r.writer_wakeups)} wakes for ${formatNumber(r.reader_sleeps)} reader sleeps ` +
      `(${r.wakeups_per_reader_sleep.toFixed(3)} per sleep); reader: ${formatNumber(r.reader_wakeups)} wakes for ${formatNumber(r.writer_sleeps)} writer sleeps`,
  );
  if (typeof values.json === "string") writeFileSync(values.json, JSON.stringify(r, null, 2) + "\n");
  if (r.lost !== 0) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e instanceof UsageError ? `soak: ${e.message}` : e);
  process.exit(e instanceof UsageError ? 2 : 1);
});
