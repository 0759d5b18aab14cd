// Plain messages interleaved with requests on one Peer, read by recv()/tryRecv()/messages() while the
// pump reads the ring for replies: every plain message once, in order (loans among them).
import { pair } from "./common.mjs";
for (const transport of ["auto", "zmq"]) {
  const p = await pair({}, transport);
  const N = 30000;
  p.cp.serve((r) => Buffer.concat([Buffer.from("R"), r.data])).catch(() => {});
  const sending = (async () => {
    for (let i = 0; i < N; i++) {
      if (i % 7 === 0 && transport === "auto") { const l = await p.cp.loan(8); Buffer.from(l.buffer, l.byteOffset, 8).writeUInt32LE(i, 0); await p.cp.send(l); }
      else { const b = Buffer.alloc(4 + (i % 50)); b.writeUInt32LE(i, 0); await p.cp.send(b); }
      if (i % 100 === 0) await new Promise(setImmediate);
    }
  })();
  let stop = false, bad = 0, reqs = 0;
  const asking = (async () => { while (!stop) { const a = await Promise.all(Array.from({ length: 20 }, (_, k) => p.sp.request(Buffer.from([k]), { timeout: 10000 }))); reqs += a.length; if (a.some((x, k) => x[1] !== k)) bad++; } })();
  let next = 0, errors = 0;
  const it = p.sp.messages({ timeout: 10000 });
  while (next < N) {
    let m;
    const mode = next % 3;
    if (mode === 0) m = await p.sp.recv({ timeout: 10000 });
    else if (mode === 1) { m = p.sp.tryRecv(); if (m === null) m = await p.sp.recv({ timeout: 10000 }); }
    else m = (await it.next()).value;
    const v = Buffer.from(m.buffer, m.byteOffset, 4).readUInt32LE(0);
    if (v !== next) { errors++; if (errors < 5) console.log("got", v, "want", next); next = v; }
    next++;
  }
  stop = true; await asking; await sending;
  console.log(p.cp.transport, `plain ${N}: out-of-order/lost ${errors}; requests ${reqs}, wrong replies ${bad}`);
  await p.close();
}
