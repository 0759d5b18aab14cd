const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const cp = require("child_process"); const fs = require("fs"); const crypto = require("crypto");
const cap = 1 << 20; const hdr = Buffer.alloc(4096);
hdr.writeUInt32LE(0x48534D53, 0); hdr.writeUInt32LE(1, 4); hdr.writeUInt32LE(4096, 8); hdr.writeUInt32LE(1, 12);
hdr.writeBigUInt64LE(BigInt(4096 + cap), 16); hdr.writeBigUInt64LE(BigInt(cap), 24); hdr.writeUInt32LE(cap, 32); hdr.writeUInt32LE(1, 36);
crypto.randomBytes(16).copy(hdr, 64); hdr.writeUInt32LE(1, 128);
fs.writeFileSync("hdr.bin", hdr);
const h = cp.spawn("reserve.exe", ["resv-test", String(4096 + cap), "hdr.bin"], { stdio: ["ignore", "pipe", "inherit"] });
h.stdout.once("data", d => {
  console.log("hostile:", String(d).trim());
  for (const f of [() => shm.inspectSegment("resv-test"), () => shm.Segment.attach("resv-test").data[cap - 1], () => shm.Channel.attach("resv-test").recvSync(10)]) {
    try { console.log("->", f()); } catch (e) { console.log("-> ERR", e.code, e.message.slice(0, 150)); }
  }
  h.kill();
});
