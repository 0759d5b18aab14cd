// decode() of random and mutated ENVELOPE/DATA frames: never throws, returns a message or { error }.
import { decode, encodeEnvelope } from "../../dist/lib/peer/protocol.js";
import { randomBytes } from "node:crypto";
let n = 0, errors = 0, envs = 0;
for (let i = 0; i < 200000; i++) {
  let f;
  if (i % 2) f = randomBytes(Math.floor(Math.random() * 40));
  else { f = Buffer.from(encodeEnvelope(1 + (i % 3), i >>> 0, randomBytes(i % 20), i)[0]); for (let k = 0; k < 3; k++) f[Math.floor(Math.random() * f.length)] = Math.floor(Math.random() * 256); }
  if (i % 3 === 0 && f.length >= 6) { f[0] = 0x53; f[1] = 0x4d; f[2] = 0x53; f[3] = 0x48; f[4] = 1; f[5] = 9; }
  try { const d = decode([f]); n++; if ("error" in d) errors++; else if (d.type === 9) { envs++; if (d.kind < 1 || d.kind > 3 || d.id < 0 || d.id > 0xffffffff) throw new Error("bad fields " + JSON.stringify(d)); } }
  catch (e) { console.log("THROW", e.message, f.toString("hex")); process.exit(1); }
}
console.log({ decoded: n, errors, envelopes: envs });
