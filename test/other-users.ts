// Helpers for tests of what another local user (uid 65534, through
// setpriv; the tests run as root) can do to loans: forge a slab under a
// writer's slab name, or squat slab names first (review 8, D1 and D2).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs";

const asOther = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/** Why the tests as uid 65534 cannot run here, or null: they need root, setpriv, and node usable by uid 65534. */
export function otherUserUnavailable(): string | null {
  if (process.geteuid?.() !== 0) return "not root";
  const r = spawnSync("setpriv", [...asOther, process.execPath, "-e", "0"], { stdio: "ignore", cwd: "/", timeout: 20_000 });
  if (r.error !== undefined) return `setpriv: ${r.error.message}`;
  return r.status === 0 ? null : `setpriv ... node exited with ${r.status}`;
}

/** The pool slabs in /dev/shm that are not in `before` ("smsh-<16 hex>.<n>"), whatever scheme named them. */
export function newSlabs(before: Set<string>): string[] {
  return readdirSync("/dev/shm").filter((n) => !before.has(n) && /^smsh-[0-9a-f]{16}\.\d+$/.test(n));
}

/** The first `n` bytes of /dev/shm/<name>, and its size. */
export function imageOf(name: string, n: number): { image: Buffer; size: number } {
  const fd = openSync(`/dev/shm/${name}`, "r");
  try {
    const image = Buffer.alloc(n);
    readSync(fd, image, 0, n, 0);
    return { image, size: statSync(`/dev/shm/${name}`).size };
  } finally {
    closeSync(fd);
  }
}

export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * As uid 65534: creates /dev/shm/<name> (mode 0644, O_EXCL) of `size` bytes,
 * filled with 'Z', starting with `image` (a copy of the writer's own header:
 * every field a reader checks is right). Returns what the script printed.
 */
export function forgeAsOther(name: string, image: Buffer, size: number): string {
  const script = `
    const fs = require("node:fs");
    const [name, size, b64] = process.argv.slice(1);
    const image = Buffer.from(b64, "base64");
    const fd = fs.openSync("/dev/shm/" + name, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, 0o644);
    fs.fchmodSync(fd, 0o644);
    fs.ftruncateSync(fd, Number(size));
    const z = Buffer.alloc(1 << 20, 0x5a);
    for (let off = image.length; off < Number(size); off += z.length) fs.writeSync(fd, z, 0, Math.min(z.length, Number(size) - off), off);
    fs.writeSync(fd, image, 0, image.length, 0);
    console.log("forged " + fs.fstatSync(fd).uid);`;
  const r = spawnSync("setpriv", [...asOther, process.execPath, "-e", script, name, String(size), image.toString("base64")], { encoding: "utf8", cwd: "/", timeout: 20_000 });
  return `${r.stdout.trim()}${r.stderr.trim()}`;
}

/** As uid 65534: creates empty files under `names` in /dev/shm; returns how many it made. */
export function squatAsOther(names: string[]): number {
  const script = `
    const fs = require("node:fs");
    let n = 0;
    for (const name of JSON.parse(process.argv[1])) { try { fs.writeFileSync("/dev/shm/" + name, "", { flag: "wx", mode: 0o644 }); n++; } catch {} }
    console.log(n);`;
  const r = spawnSync("setpriv", [...asOther, process.execPath, "-e", script, JSON.stringify(names)], { encoding: "utf8", cwd: "/", timeout: 20_000 });
  return Number(r.stdout.trim());
}

/** 100 names "smsh-<16 random hex>.<i>" and the old scheme's names for a ring token (public: doorbell paths show it). */
export function squatNames(token: string, count = 100, seen?: string): string[] {
  const random = Array.from({ length: count }, (_, i) => `smsh-${randomBytes(8).toString("hex")}.${i}`);
  const old = Array.from({ length: count }, (_, i) => `smsh-${token.slice(0, 16)}.${i}`);
  // A slab name anyone can see in /dev/shm, with the next indices: the names a key-prefix scheme would use next.
  const next = seen === undefined ? [] : Array.from({ length: count }, (_, i) => `${seen.slice(0, seen.lastIndexOf(".") + 1)}${i + 1}`);
  return [...old, ...random, ...next];
}

