// After the whole suite, nothing of ours may be left in /dev/shm: every test
// names its segments with the "smsh-" prefix, and teardown fails the run if
// any segment created during it survived; likewise a doorbell socket file
// (in /dev/shm/.smsh-<uid>/) created during the run and still there. The
// doorbell directory itself is removed if the run made it and left it empty.
import { readdirSync, rmdirSync, statSync } from "node:fs";

const SHM = "/dev/shm";
const BELLS = `${SHM}/.smsh-${process.geteuid?.() ?? 0}`;
let started = 0;
let bellsExisted = false;

function ours(): string[] {
  return readdirSync(SHM).filter((f) => f.startsWith("smsh-"));
}

function createdDuringRun(dir: string, names: string[]): string[] {
  return names.filter((f) => {
    try {
      return statSync(`${dir}/${f}`).ctimeMs >= started - 1000;
    } catch {
      return false;
    }
  });
}

function bells(): string[] {
  try {
    return readdirSync(BELLS);
  } catch {
    return [];
  }
}

export function setup(): void {
  started = Date.now();
  try {
    statSync(BELLS);
    bellsExisted = true;
  } catch {
    bellsExisted = false;
  }
}

export function teardown(): void {
  const left = createdDuringRun(SHM, ours());
  const leftBells = createdDuringRun(BELLS, bells()).map((f) => `${BELLS}/${f}`);
  if (!bellsExisted) {
    try {
      rmdirSync(BELLS); // only if empty
    } catch {
      /* in use, or not there */
    }
  }
  if (left.length > 0 || leftBells.length > 0) {
    throw new Error(`left in /dev/shm after the suite: ${[...left, ...leftBells].join(", ")}`);
  }
}
