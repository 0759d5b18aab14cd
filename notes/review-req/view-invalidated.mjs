// recv() hands out a view valid until the next receive (issue 8's receive rule).
// A request() made meanwhile starts the pump, which reads the ring: the view's
// frame is released behind the user's back and the writer overwrites it.
import { pair } from "./common.mjs";
const p = await pair();
try {
  await p.cp.send(Buffer.alloc(1000, 0x41));
  const v = await p.sp.recv(); // a view into the ring, valid until sp's next receive
  console.log("before:", Buffer.from(v.subarray(0, 4)).toString());
  // the server side now asks something; the client answers and keeps sending plain messages
  const served = p.cp.serve((r) => Buffer.from("ok"));
  const reply = p.sp.request(Buffer.from("q"), { timeout: 5000 });
  for (let i = 0; i < 40; i++) await p.cp.send(Buffer.alloc(1000, 0x42));
  await reply;
  await new Promise((r) => setTimeout(r, 200));
  const now = Buffer.from(v.subarray(0, 4)).toString();
  console.log("after: ", now, now === "AAAA" ? "OK" : "DEFECT: the view changed under the user");
} finally { await p.close(); }
