// transport zmq: a reply above maxMessageSize - 8 while other envelopes wait
// for credit is queued, then refused (RangeError) asynchronously; the request
// counts as answered and nothing is sent: serve() cannot fail() it and the
// requester waits until its timeout (for ever without one).
import { pair } from "./common.mjs";
const p = await pair({ maxMessageSize: 1 << 20 }, "zmq");
try {
  // Fill the credit window (64 MiB) from the serving side: the client reads nothing yet.
  for (let i = 0; i < 64; i++) await p.sp.send(new Uint8Array(1 << 20));
  const served = p.sp.serve((req) => (req.data[0] === 1 ? new Uint8Array(2 << 20) : Buffer.from("small")));
  const a = p.cp.request(Buffer.from([0]), { timeout: 8000 }); // its reply waits for credit
  const b = p.cp.request(Buffer.from([1]), { timeout: 8000 }); // its reply is too large, queued behind a's
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 64; i++) await p.cp.recv(); // credit comes back: the queue flushes
  console.log("a:", Buffer.from(await a).toString());
  try { await b; console.log("b: resolved?!"); } catch (e) { console.log("b:", e.code, e.code === "EREMOTE" ? "OK" : "DEFECT (the requester only learns by its timeout)"); }
} finally { await p.close(); }
