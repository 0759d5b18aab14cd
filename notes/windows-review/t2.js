// In-process liveness: reader in a worker that is terminated while blocked in recvSync;
// then reader in a worker that ends without closing. Writer in main must see EPEERDEAD and a new reader must attach.
const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Channel, Segment } = shm;
const { Worker, isMainThread, workerData, parentPort } = require("worker_threads");
if (!isMainThread) {
  const rx = Channel.attach(workerData.name);
  parentPort.postMessage("attached");
  if (workerData.mode === "block") { const m = rx.recvSync(60000); parentPort.postMessage("got " + (m && m.length)); for(;;) rx.recvSync(60000); }
  if (workerData.mode === "exit") { setTimeout(() => process.exit(0), 10); }
  if (workerData.mode === "throw") { throw new Error("boom"); }
  return;
}
async function run(mode) {
  const tx = Channel.create({ capacity: 4096 });
  const w = new Worker(__filename, { workerData: { name: tx.name, mode } });
  const exited = new Promise(r => w.on("exit", r)); w.on("error", e => console.log("worker error", e.message));
  await new Promise(r => w.on("message", m => { if (m === "attached") r(); }));
  await new Promise(r => setTimeout(r, 100));
  const t0 = Date.now();
  if (mode === "block") await w.terminate();
  else await exited;
  const te = Date.now() - t0;
  console.log(mode, "worker gone after", te, "ms; readerState", tx.readerState);
  const t1 = Date.now();
  try { for (let i = 0; i < 1000; i++) await tx.send(new Uint8Array(100), { timeout: 3000 }); console.log(mode, "sent all??"); }
  catch (e) { console.log(mode, "send ->", e.code, Date.now() - t1, "ms"); }
  try { const rx = Channel.attach(tx.name); console.log(mode, "new reader attach OK"); rx.close(); } catch (e) { console.log(mode, "new reader attach ->", e.code, e.message); }
  tx.close();
}
process.on("exit", c => console.log("exit code", c));
(async () => { for (const m of (process.argv[2]||"block,exit,throw").split(",")) await run(m); 
  // two readers in one thread; and in main + worker
  const tx = Channel.create({ capacity: 4096 });
  const r1 = Channel.attach(tx.name);
  try { Channel.attach(tx.name); console.log("second reader same thread: OK (BAD)"); } catch (e) { console.log("second reader same thread ->", e.code); }
  r1.close();
  try { const r2 = Channel.attach(tx.name); console.log("reader after close: OK"); r2.close(); } catch (e) { console.log("reader after close ->", e.code, e.message); }
  tx.close();
})();
