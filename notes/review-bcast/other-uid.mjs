// A subscriber of another uid (setpriv --reuid=65534): attach must fail with a clear, typed error.
import { spawnSync } from "node:child_process";
import { Broadcast } from "../../dist/lib/index.js";
const w = Broadcast.create({ capacity: 4096 });
const code = `import("${new URL("../../dist/lib/index.js", import.meta.url).pathname}").then(({ Broadcast }) => { try { Broadcast.attach("${w.name}"); console.log("attached"); } catch (e) { console.log("error", e.code, e.message); } })`;
const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", code], { encoding: "utf8" });
console.log(r.stdout.trim(), r.stderr.trim().slice(0, 300));
console.log("subscribers", w.subscribers.length);
w.close();
