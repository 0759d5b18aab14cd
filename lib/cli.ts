#!/usr/bin/env node
// synaptic-shm: the package's command line.
//   synaptic-shm bench [options]     measure IPC on this machine (--help for options)
// Exit codes: 0 ok, 1 error (or a benchmark row failed), 2 usage.
import * as path from "node:path";

const USAGE = `usage: synaptic-shm <command> [options]

commands:
  bench     measure this package against TCP, Unix sockets and ZeroMQ on this machine

Run "synaptic-shm <command> --help" for a command's options.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "bench": {
      // The benchmark ships in dist/bench beside dist/lib.
      const bench = require(path.join(__dirname, "..", "bench", "run.js")) as { main(argv: string[]): Promise<number> };
      return bench.main(rest);
    }
    case undefined:
    case "-h":
    case "--help":
    case "help":
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      console.error(`synaptic-shm: unknown command "${cmd}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    console.error(`synaptic-shm: ${e.message}`);
    process.exitCode = 1;
  },
);
