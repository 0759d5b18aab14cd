// A Tree-of-Thoughts broadcast: one planner publishes thoughts on topics,
// explorer processes subscribe by topic prefix.
//   npm run build:ts && node dist/examples/tot-broadcast.js
//
// The planner publishes on an ipc:// endpoint; four explorers (child
// processes) subscribe there, each to the prefixes it cares about:
//
//   planner --- tot.exploration.branch_A.* --> explorer-A       ["tot.exploration.branch_A"]
//           --- tot.exploration.branch_*   --> explorer-all     ["tot.exploration."]
//           --- tot.eval.*                 --> evaluator        ["tot.eval."]
//           --- tot.exploration.branch_B + tot.eval (ZeroMQ) --> remote-B  (transport "zmq", as a subscriber on another host would)
//
// The publisher filters per subscriber (as a ZeroMQ PUB does): an explorer
// gets only its topics, in the order they were published. Policy "block":
// a slow explorer holds the planner (for at most blockTimeout) rather than
// lose thoughts. Closing the publisher ends every explorer's stream.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import { publish, subscribe } from "@synaptic-mesh/shm";

const BRANCHES = ["branch_A", "branch_B", "branch_C"];
const DEPTH = 4;
const EXPLORERS: Record<string, { topics: string[]; transport: "auto" | "zmq" }> = {
  "explorer-A": { topics: ["tot.exploration.branch_A"], transport: "auto" },
  "explorer-all": { topics: ["tot.exploration."], transport: "auto" },
  evaluator: { topics: ["tot.eval."], transport: "auto" },
  "remote-B": { topics: ["tot.exploration.branch_B", "tot.eval."], transport: "zmq" },
};
// Generous: the explorers are fresh Node processes, and a busy machine is slow.
const TIMEOUT_MS = 30_000;

async function planner(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "tot-"));
  // Windows: ZeroMQ's ipc:// is not available there; a loopback port (0: the OS picks one) is.
  const wanted = process.platform === "win32" ? "tcp://127.0.0.1:0" : `ipc://${path.join(dir, "planner.sock")}`;
  const pub = await publish(wanted, { name: "planner", policy: "block", blockTimeout: 5000 });
  const children = Object.keys(EXPLORERS).map((name) => {
    const child = spawn(process.execPath, [__filename, name, pub.endpoint], { stdio: ["ignore", "inherit", "inherit"] });
    return new Promise<number | null>((resolve) => child.once("exit", resolve));
  });
  try {
    // Wait for every explorer to say what it wants (a subscriber that joins later gets what is published from then on).
    const until = Date.now() + TIMEOUT_MS;
    while (pub.subscribers.length < children.length && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    console.log(`planner: ${pub.subscribers.length} explorers subscribed; union of their prefixes: ${pub.topics.join(" ")}`);
    // Breadth first: each depth explores every branch, then the evaluator scores them.
    for (let depth = 0; depth < DEPTH; depth++) {
      for (const b of BRANCHES) {
        const thought = { branch: b, depth, text: `step ${depth} of ${b}` };
        await pub.send(`tot.exploration.${b}`, Buffer.from(JSON.stringify(thought)));
      }
      const best = BRANCHES[depth % BRANCHES.length]!;
      await pub.send(`tot.eval.depth${depth}`, Buffer.from(JSON.stringify({ depth, best })));
      await pub.send("tot.log", Buffer.from("nobody subscribed to this: the publisher sends it to no one"));
    }
    const s = pub.stats;
    // Local explorers read the ring (each thought written once, whatever their number); the remote one is sent its own.
    console.log(`planner: published ${s.messages} thoughts: ${s.ring} written once into the shared-memory ring, ${s.delivered} sent over ZeroMQ`);
  } finally {
    await pub.close(); // every explorer reads what it was sent, then its stream ends
    const codes = await Promise.all(children);
    console.log(`planner: explorers exited with ${codes.join(",")}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function explorer(name: string, endpoint: string): Promise<void> {
  const { topics, transport } = EXPLORERS[name]!;
  const sub = await subscribe(endpoint, { name, topics, transport, timeout: TIMEOUT_MS });
  const seen: string[] = [];
  for await (const { topic, data } of sub) {
    const t = JSON.parse(Buffer.from(data).toString()) as { branch?: string; depth: number; best?: string };
    seen.push(topic.startsWith("tot.eval.") ? `eval${t.depth}:${t.best}` : `${t.branch!.slice(-1)}${t.depth}`);
  }
  console.log(`${name} (over ${sub.transport}): ${seen.length} thoughts: ${seen.join(" ")}`);
}

const [role, endpoint] = process.argv.slice(2);
(role === undefined ? planner() : explorer(role, endpoint!)).catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
