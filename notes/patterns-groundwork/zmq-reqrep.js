// ZeroMQ (zeromq.js v6) request/reply round trip, 64 B, two processes.
// Usage: node zmq-reqrep.js [ipc|tcp] [req|dealer] [count]
//   req:    REQ -> REP, one request in flight (await send, await receive).
//   dealer: DEALER -> ROUTER, one request in flight (the pattern a Peer uses).
// Prints p50/p90/p99 in microseconds over `count` round trips after 2,000
// warm-up ones, and the round trips/s of that loop.
"use strict";
const zmq = require("/work/main/node_modules/zeromq");
const { fork } = require("child_process");

async function server(endpoint, kind) {
  const sock = kind === "req" ? new zmq.Reply() : new zmq.Router();
  await sock.bind(endpoint);
  process.send({ ep: sock.lastEndpoint });
  if (kind === "req") for await (const [m] of sock) await sock.send(m);
  else for await (const [id, m] of sock) await sock.send([id, m]);
}

async function client(transport, kind, count) {
  const endpoint = transport === "ipc" ? `ipc:///tmp/zrr-${process.pid}.sock` : "tcp://127.0.0.1:0";
  const k = fork(__filename, ["--server", endpoint, kind]);
  const { ep } = await new Promise((r) => k.once("message", r));
  const sock = kind === "req" ? new zmq.Request() : new zmq.Dealer();
  sock.connect(ep);
  const msg = Buffer.alloc(64, 0x62);
  const lat = new Float64Array(count);
  const warm = 2000;
  let t0 = 0n;
  for (let i = 0; i < warm + count; i++) {
    if (i === warm) t0 = process.hrtime.bigint();
    const s = process.hrtime.bigint();
    await sock.send(msg);
    const [r] = await sock.receive();
    if (r.length !== 64) throw new Error("bad reply");
    if (i >= warm) lat[i - warm] = Number(process.hrtime.bigint() - s) / 1000;
  }
  const total = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort();
  const q = (p) => lat[Math.min(count - 1, Math.floor(p * count))];
  console.log(JSON.stringify({ transport, kind, count, p50: q(0.5), p90: q(0.9), p99: q(0.99), rps: count / total }));
  k.kill();
  sock.close();
  if (transport === "ipc") require("fs").rmSync(endpoint.slice("ipc://".length), { force: true });
  process.exit(0);
}

if (process.argv[2] === "--server") server(process.argv[3], process.argv[4]);
else client(process.argv[2] || "ipc", process.argv[3] || "req", +(process.argv[4] || 20000));
