const shm = require("/tmp/review-wine/stage/dist/lib/index.js");
const cp = require("child_process");
const c = shm.Channel.create({ capacity: 4096 }); const r = shm.Channel.attach(c.name);
const cli = "/tmp/review-wine/stage/dist/lib/cli.js";
for (const args of [["ls"], ["ls", "--all"], ["sweep"], ["sweep", "--dry-run"], ["stat", c.name], ["stat", "/dev/shm/" + c.name], ["stat", "nonexistent"], ["stat", "CON"], ["--help"]]) {
  const res = cp.spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
  console.log("$ cli", args.join(" "), "rc", res.status, "\n" + (res.stdout + res.stderr).split("\n").slice(0, 40).join("\n"));
}
r.close(); c.close();
