// ZeroMQ (zeromq.js v6) PUB/SUB baseline: 1 publisher, N subscriber processes.
// Usage: node zmq-pubsub.js [ipc|tcp] [subscribers] [size] [count]
//   size 64: throughput; every subscriber must receive `count` messages
//   (high-water marks raised so nothing is dropped); figure = count / time
//   from the first send to the last subscriber's last message.
//   size >= 1 MiB: latency of one big message to all; 3 messages, one at a
//   time, each timed from send() to the last subscriber's receipt.
// Each subscriber runs in its own process (child_process.fork).
"use strict";
const zmq = require("/work/main/node_modules/zeromq");
const { fork } = require("child_process");
const { performance } = require("perf_hooks");
const now = () => performance.timeOrigin + performance.now(); // ms, wall clock

const TOPIC = Buffer.from("tot.exploration.");

async function subscriber(endpoint, size, count) {
  const sock = new zmq.Subscriber({ receiveHighWaterMark: 0, maxMessageSize: -1 });
  sock.connect(endpoint);
  sock.subscribe(TOPIC);
  process.send({ ready: true });
  let n = 0, first = 0, last = 0, bytes = 0;
  for await (const [msg] of sock) {
    if (msg.length === TOPIC.length) break; // end marker (the bare topic)
    if (n === 0) first = now();
    last = now();
    n++; bytes += msg.length;
    if (size >= 1 << 20) process.send({ got: n, at: last });
  }
  process.send({ done: true, n, first, last, bytes });
  sock.close();
}

async function publisher(kind, nsubs, size, count) {
  const endpoint = kind === "ipc" ? `ipc:///tmp/zpb-${process.pid}.sock` : "tcp://127.0.0.1:0";
  const pub = new zmq.XPublisher({ sendHighWaterMark: 0, maxMessageSize: -1, verbosity: "allSubs" });
  await pub.bind(endpoint);
  const ep = pub.lastEndpoint;
  const kids = [];
  const subsSeen = new Promise(async (resolve) => {
    let s = 0; // XPUB reports each subscription (dedup off by verbose)
    for await (const [m] of pub) { if (m[0] === 1 && ++s >= nsubs) { resolve(); break; } }
  });
  const msgs = [];
  for (let i = 0; i < nsubs; i++) {
    const k = fork(__filename, ["--sub", ep, String(size), String(count)]);
    const q = [];
    k.on("message", (m) => q.push(m) && k.emit("m"));
    kids.push({ k, q, next: () => new Promise((r) => (q.length ? r(q.shift()) : k.once("m", () => r(q.shift())))) });
  }
  for (const c of kids) await c.next(); // ready
  await subsSeen;
  await new Promise((r) => setTimeout(r, 200)); // let connections settle
  const msg = Buffer.alloc(size, 0x61); TOPIC.copy(msg);
  const result = { kind, nsubs, size, count };
  if (size < 1 << 20) {
    const t0 = now();
    for (let i = 0; i < count; i++) await pub.send(msg);
    const tSent = now();
    for (let i = 0; i < 3; i++) await pub.send(TOPIC);
    let lastAll = 0, minN = Infinity;
    for (const c of kids) { let m; do m = await c.next(); while (!m.done); lastAll = Math.max(lastAll, m.last); minN = Math.min(minN, m.n); }
    result.sendRate = count / ((tSent - t0) / 1000);
    result.deliveredPerSub = minN;
    result.rate = count / ((lastAll - t0) / 1000); // messages/s each subscriber got, all done
  } else {
    const times = [];
    for (let r = 0; r < 3; r++) {
      const t0 = now();
      await pub.send(msg);
      let lastAll = 0;
      for (const c of kids) { const m = await c.next(); lastAll = Math.max(lastAll, m.at); }
      times.push(lastAll - t0);
    }
    for (let i = 0; i < 3; i++) await pub.send(TOPIC);
    for (const c of kids) { let m; do m = await c.next(); while (!m.done); }
    result.ms = times;
  }
  for (const c of kids) if (c.k.connected) c.k.disconnect();
  pub.close();
  if (kind === "ipc") require("fs").rmSync(endpoint.slice("ipc://".length), { force: true });
  console.log(JSON.stringify(result));
  process.exit(0);
}

if (process.argv[2] === "--sub") subscriber(process.argv[3], +process.argv[4], +process.argv[5]);
else publisher(process.argv[2] || "ipc", +(process.argv[3] || 1), +(process.argv[4] || 64), +(process.argv[5] || 200000));
