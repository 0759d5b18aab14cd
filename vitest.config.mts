import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Native addon + child processes: isolate files in forked workers.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ["test/global-setup.ts"],
    // Tests (and the processes they start) look at dead segments on purpose:
    // no opportunistic sweeping behind their backs. One test turns it back on.
    env: { SYNAPTIC_SHM_NO_AUTOSWEEP: "1" },
    reporters: ["default"],
  },
});
