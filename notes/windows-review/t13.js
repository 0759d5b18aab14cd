const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
console.log(process.execPath, shm.addonPath);
const c = shm.Channel.create({ capacity: 4096 }); const r = shm.Channel.attach(c.name);
c.sendSync(new Uint8Array([1, 2, 3])); console.log("recv", r.recvSync(100));
r.close(); c.close();
const { Worker } = require("worker_threads");
new Worker(`const shm=require("/tmp/review-wine/stage/dist/lib/index.js"); const s=shm.Segment.create({size:10}); console.log("worker ok", s.name); s.close();`, { eval: true });
