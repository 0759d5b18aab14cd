// process exit while waiting in various ways; must exit promptly
const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const { Channel, Segment, WaitLine, Waiter, layout } = shm;
const { Worker, isMainThread, workerData, parentPort } = require("worker_threads");
const mode = isMainThread ? process.argv[2] : workerData.mode;
if (!isMainThread) {
  const rx = Channel.attach(workerData.name, { spin: 0 });
  parentPort.postMessage("ready");
  if (mode === "worker-sync") rx.recvSync(Infinity);
  else rx.recv().then(() => {});
  return;
}
const t0 = Date.now();
process.on("exit", () => console.log(mode, "exit after", Date.now() - t0, "ms"));
const tx = Channel.create({ capacity: 1024, spin: 0 });
if (mode === "main-recv") {
  const rx = Channel.attach(tx.name, { spin: 0 });
  rx.recv();
  const s = Segment.create({ size: 100 }); const l = new WaitLine(s, 512); const w = new Waiter(l); w.wait(l.prepare(w.mode));
  setTimeout(() => process.exit(0), 200);
} else if (mode === "main-send") {
  const rx = Channel.attach(tx.name, { spin: 0 });
  (async () => { for (;;) await tx.send(new Uint8Array(100)); })();
  setTimeout(() => process.exit(0), 200);
} else {
  const w = new Worker(__filename, { workerData: { name: tx.name, mode } });
  w.on("message", () => setTimeout(() => process.exit(0), 200));
}
