// After the whole suite, nothing of ours may be left in /dev/shm: every test
// names its segments with the "smsh-" prefix, and teardown fails the run if
// any segment created during it survived.
import { readdirSync, statSync } from "node:fs";

const SHM = "/dev/shm";
let started = 0;

function ours(): string[] {
  return readdirSync(SHM).filter((f) => f.startsWith("smsh-"));
}

export function setup(): void {
  started = Date.now();
}

export function teardown(): void {
  const left = ours().filter((f) => {
    try {
      return statSync(`${SHM}/${f}`).ctimeMs >= started - 1000;
    } catch {
      return false;
    }
  });
  if (left.length > 0) throw new Error(`segments left in /dev/shm after the suite: ${left.join(", ")}`);
}
