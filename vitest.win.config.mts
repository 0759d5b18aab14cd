// The Windows tests (test/win) as scripts/test-wine.sh runs them under Wine:
// node.exe runs vitest itself, and the tests' child processes are node.exe
// too. The same files also run on Linux in the normal suite
// (vitest.config.mts); Windows-only cases say so with it.runIf/skipIf.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // test/win, and the suite's platform-neutral files that hold on Windows
    // as they are (the eventcount's one wake per sleep, across processes).
    include: ["test/win/**/*.test.ts", "test/core/wake-invariant.test.ts", "test/channel/*.test.ts", "test/loan/*.test.ts", "test/core/segment.test.ts", "test/core/views.test.ts", "test/core/wakeup.test.ts", "test/core/multiprocess.test.ts"],
    // Native addon + child processes: isolate files in forked workers.
    pool: "forks",
    // Generous: under Wine a process takes 0.4-1 s to start, every wait and
    // wake goes through wineserver (3-5x a Linux futex), and the CI machine
    // has 2 cores that other work shares. No test here measures speed.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // As in vitest.config.mts: nothing sweeps behind the tests' backs.
    env: { SYNAPTIC_SHM_NO_AUTOSWEEP: "1" },
    reporters: ["default"],
  },
});
