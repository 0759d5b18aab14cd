// Runs the ZeroMQ baselines 3 times each, one at a time, and prints medians
// with the load average seen before each run. Usage: node run-baselines.js
"use strict";
const { execFileSync } = require("child_process");
const os = require("os");
const path = require("path");
const dir = __dirname;
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const run = (script, args) => {
  const load = os.loadavg()[0];
  const out = execFileSync(process.execPath, [path.join(dir, script), ...args.map(String)], { cwd: "/tmp", timeout: 120000 });
  const r = JSON.parse(out.toString().trim().split("\n").pop());
  r.load1 = load;
  return r;
};
const rows = [];
const only = process.argv[2]; // optional: "pub", "big", "rr"
if (!only || only === "pub")
  for (const kind of ["ipc", "tcp"]) for (const n of [1, 4, 8]) {
    const rs = [1, 2, 3].map(() => run("zmq-pubsub.js", [kind, n, 64, n === 1 ? 200000 : 100000]));
    rows.push({ test: `PUB/SUB 64 B ${kind} x${n}`, rate: rs.map((r) => Math.round(r.rate)), median: Math.round(med(rs.map((r) => r.rate))),
      sendRate: Math.round(med(rs.map((r) => r.sendRate))), lost: rs.map((r) => r.count - r.deliveredPerSub), load1: rs.map((r) => +r.load1.toFixed(2)) });
    console.log(JSON.stringify(rows[rows.length - 1]));
  }
if (!only || only === "big")
  for (const kind of ["ipc", "tcp"]) for (const n of [1, 4, 8]) {
    const rs = [1, 2, 3].map(() => run("zmq-pubsub.js", [kind, n, 100e6, 3]));
    const all = rs.flatMap((r) => r.ms);
    rows.push({ test: `PUB/SUB 100 MB ${kind} x${n}`, ms: all.map((x) => +x.toFixed(1)), medianMs: +med(rs.map((r) => med(r.ms))).toFixed(1), load1: rs.map((r) => +r.load1.toFixed(2)) });
    console.log(JSON.stringify(rows[rows.length - 1]));
  }
if (!only || only === "rr")
  for (const kind of ["ipc", "tcp"]) for (const pat of ["req", "dealer"]) {
    const rs = [1, 2, 3].map(() => run("zmq-reqrep.js", [kind, pat, 10000]));
    rows.push({ test: `${pat === "req" ? "REQ/REP" : "DEALER/ROUTER"} 64 B ${kind}`, p50us: +med(rs.map((r) => r.p50)).toFixed(1), p99us: +med(rs.map((r) => r.p99)).toFixed(1),
      rps: Math.round(med(rs.map((r) => r.rps))), runs: rs.map((r) => [+r.p50.toFixed(1), +r.p99.toFixed(1)]), load1: rs.map((r) => +r.load1.toFixed(2)) });
    console.log(JSON.stringify(rows[rows.length - 1]));
  }
