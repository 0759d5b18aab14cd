const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Channel } = shm;
const [role, name, mode] = process.argv.slice(2);
(async () => {
  if (role === "writer") {
    const tx = Channel.create({ capacity: 64 * 1024, name: name || undefined, pool: { maxBytes: 4 << 20 } });
    console.log("ready " + tx.name);
    let i = 0;
    for (;;) {
      if (mode === "loan" && (i & 1)) { const l = await tx.loan(100000); l[0] = 7; await tx.send(l); }
      else if (mode === "sync") { tx.sendSync(new Uint8Array(1000).fill(i & 255), 1000); }
      else await tx.send(new Uint8Array(1000).fill(i & 255));
      i++;
    }
  } else if (role === "reader") {
    const rx = Channel.attach(name);
    console.log("ready");
    for (;;) { const m = mode === "sync" ? rx.recvSync(1000) : await rx.recv(); if (m && mode === "keep") { /* hold loans */ } }
  } else if (role === "creator") {
    // create/close in a loop with a fixed name
    for (let i = 0;; i++) { const tx = Channel.create({ capacity: 4096, name }); if (i === 0) console.log("ready"); tx.close(); }
  }
})().catch(e => { console.log("child error", e.code, e.message); process.exit(3); });
