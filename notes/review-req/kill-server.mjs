// Child: listen on argv[2] and serve: reply = "R" + request (a loan for 1 in 5).
import { listen } from "../../dist/lib/index.js";
const server = await listen(process.argv[2], { name: "srv", capacity: 16 * 1024 });
console.log("listening");
for await (const peer of server) {
  peer.serve(async (req) => {
    const d = Buffer.from(req.data);
    if (d[0] % 5 === 0) { const l = await peer.loan(d.length + 1); l[0] = 82; l.set(d, 1); return l; }
    return Buffer.concat([Buffer.from("R"), d]);
  }).catch(() => {});
  (async () => { try { for await (const m of peer.messages()) await peer.send(m); } catch {} })();
}
