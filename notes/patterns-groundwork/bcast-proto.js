// Feasibility measurement (not product code): a 1 -> N broadcast ring over one
// plain segment of this package (dist/lib Segment), every subscriber a
// process with its own cursor, every message read once per subscriber by
// copying its payload out (16 Int32 words for 64 B) and checking its
// sequence number. No sleeping: writer and readers poll (busy), so this
// shows the ceiling of the data path, not a wakeup design.
// Usage: node bcast-proto.js [subscribers=4] [mode=block|drop] [count=2000000]
//   block: the writer never passes the slowest cursor (Aeron tethered /
//          Disruptor gating); drop: the writer never waits, readers validate
//          each batch against the writer's claim (Agrona broadcast) and count
//          what they lost.
// SLEEP_US=n (environment): instead of spinning, a reader that finds nothing
// and a writer that finds no room sleep n microseconds (a timed futex wait on
// private memory: a stand-in for a real wakeup, which this does not test).
"use strict";
const { fork } = require("child_process");
const { performance } = require("perf_hooks");
const { Segment } = require("/work/main/dist/lib/index.js");
const now = () => performance.timeOrigin + performance.now();

const CTRL = 4096, CAP = 1 << 20, FRAME = 8 + 64;
const CLAIM = 0, TAIL = 32, STATE = 64, CUR = (i) => (512 + i * 128) >> 2;
const BATCH = 64;
const SLEEP_MS = process.env.SLEEP_US ? +process.env.SLEEP_US / 1000 : 0;
const nap = new Int32Array(new SharedArrayBuffer(4));
const pause = () => { if (SLEEP_MS > 0) Atomics.wait(nap, 0, 0, SLEEP_MS); };

function views(seg) {
  const ctl = new Int32Array(seg.buffer, seg.dataOffset, CTRL >> 2);
  const ring = new Int32Array(seg.buffer, seg.dataOffset + CTRL, CAP >> 2);
  return { ctl, ring };
}

function reader(name, idx, mode) {
  const seg = Segment.attach(name);
  const { ctl, ring } = views(seg);
  const local = new Int32Array(16);
  let pos = Atomics.load(ctl, TAIL) >>> 0, expect = -1, got = 0, missed = 0, laps = 0, bad = 0;
  Atomics.store(ctl, CUR(idx), pos | 0);
  process.send({ ready: true });
  let first = 0, last = 0, sum = 0;
  for (;;) {
    const tail = Atomics.load(ctl, TAIL) >>> 0;
    if (tail === pos) {
      if (Atomics.load(ctl, STATE) === 2 && (Atomics.load(ctl, TAIL) >>> 0) === pos) break;
      pause();
      continue;
    }
    const start = pos;
    let n = 0, firstSeq = -1;
    while (pos !== tail) {
      const off = (pos & (CAP - 1)) >> 2;
      const len = ring[off];
      if (len === -1) { pos = (pos + (CAP - (pos & (CAP - 1)))) >>> 0; continue; }
      const seq = ring[off + 1];
      if (firstSeq < 0) firstSeq = seq;
      for (let k = 0; k < 16; k++) local[k] = ring[off + 2 + k];
      sum = (sum + local[15]) | 0; // use the copy
      pos = (pos + FRAME) >>> 0; n++;
      if (mode === "block" && (n & 255) === 0) Atomics.store(ctl, CUR(idx), pos | 0);
      if (n === 4096) break; // validate at least every 4096 frames
    }
    if (mode === "drop" && ((Atomics.load(ctl, CLAIM) - start) >>> 0) > CAP) {
      // lapped while copying: nothing of this batch is trusted; jump to the tail
      laps++;
      pos = Atomics.load(ctl, TAIL) >>> 0;
      // skip to a frame boundary the writer published: the tail always is one
      continue;
    }
    if (expect >= 0 && firstSeq !== expect) { if (mode === "drop" && firstSeq > expect) missed += firstSeq - expect; else bad++; }
    expect = firstSeq + n;
    if (got === 0) first = now();
    got += n; last = now();
    Atomics.store(ctl, CUR(idx), pos | 0);
  }
  process.send({ done: true, got, missed, laps, bad, first, last, sum });
  seg.close();
}

async function writer(nsubs, mode, count) {
  const seg = Segment.create({ size: CTRL + CAP, prefault: true });
  const { ctl, ring } = views(seg);
  const kids = [];
  for (let i = 0; i < nsubs; i++) {
    const k = fork(__filename, ["--reader", seg.name, String(i), mode]);
    kids.push(new Promise((resolve) => { const msgs = []; k.on("message", (m) => { msgs.push(m); if (m.done) resolve(msgs); }); }));
    await new Promise((r) => k.once("message", r));
  }
  const payload = new Int32Array(16).fill(0x61616161);
  let w = 0, minC = 0, waits = 0;
  const t0 = now();
  const slowest = () => { let m = w; for (let i = 0; i < nsubs; i++) { const c = Atomics.load(ctl, CUR(i)) >>> 0; if (((w - c) >>> 0) > ((w - m) >>> 0)) m = c; } return m; };
  minC = slowest();
  for (let seq = 0; seq < count; seq++) {
    if ((seq & (BATCH - 1)) === 0) {
      Atomics.store(ctl, TAIL, w | 0);
      if (mode === "drop") Atomics.store(ctl, CLAIM, (w + BATCH * FRAME + CAP / 4) | 0); // claim ahead (covers pads)
    }
    let need = FRAME;
    const rest = CAP - (w & (CAP - 1));
    if (rest < FRAME) need += rest;
    if (mode === "block") {
      while (((w + need - minC) >>> 0) > CAP) { minC = slowest(); if (((w + need - minC) >>> 0) > CAP) { Atomics.store(ctl, TAIL, w | 0); waits++; pause(); } }
    }
    if (rest < FRAME) { ring[(w & (CAP - 1)) >> 2] = -1; w = (w + rest) >>> 0; }
    const off = (w & (CAP - 1)) >> 2;
    ring[off] = 64; ring[off + 1] = seq;
    ring.set(payload, off + 2);
    w = (w + FRAME) >>> 0;
  }
  Atomics.store(ctl, TAIL, w | 0);
  Atomics.store(ctl, STATE, 2);
  const tSent = now();
  const res = (await Promise.all(kids)).map((m) => m[m.length - 1]);
  const lastAll = Math.max(...res.map((r) => r.last));
  console.log(JSON.stringify({ nsubs, mode, count, sleepUs: SLEEP_MS * 1000, sendRate: Math.round(count / ((tSent - t0) / 1000)),
    rate: Math.round(count / ((lastAll - t0) / 1000)), writerWaits: waits,
    got: res.map((r) => r.got), missed: res.map((r) => r.missed), laps: res.map((r) => r.laps), bad: res.map((r) => r.bad) }));
  seg.close();
  process.exit(0);
}

if (process.argv[2] === "--reader") reader(process.argv[3], +process.argv[4], process.argv[5]);
else writer(+(process.argv[2] || 4), process.argv[3] || "block", +(process.argv[4] || 2000000));
