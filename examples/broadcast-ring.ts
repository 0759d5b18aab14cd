// The broadcast ring by name (the layer under publish/subscribe): one process
// writes Tree-of-Thoughts messages on topics, three subscriber processes take
// the topics they subscribed to, and a 4 MB embedding goes to all as a loan.
//   npm run build:ts && node dist/examples/broadcast-ring.js
//
// Topics: "tot.exploration.branch_A", "tot.exploration.branch_B",
// "tot.embedding", "tot.verdict". The loan is written once in shared memory
// and read in place by every subscriber that takes it.
import { fork } from "node:child_process";

import { Broadcast, type BroadcastMessage, type SubscriberInfo } from "@synaptic-mesh/shm";

const SUBSCRIPTIONS = [["tot.exploration.branch_A"], ["tot.exploration."], ["tot.verdict", "tot.embedding"]];
const TIMEOUT_MS = 30_000; // every wait has one; generous for a busy machine

async function publisher(): Promise<void> {
  // "block": a slow subscriber holds the publisher (up to blockTimeout, then
  // it is evicted with ESLOW); "drop" would never wait and count its misses.
  const pub = Broadcast.create({ policy: "block", blockTimeout: 5000 });
  console.log(`publisher: broadcast ring ${pub.name}`);
  const joined = new Promise<void>((resolve) => {
    let n = 0;
    pub.on("join", (s: SubscriberInfo) => {
      if (++n === SUBSCRIPTIONS.length) resolve();
      void s;
    });
  });
  const children = SUBSCRIPTIONS.map((topics) => fork(__filename, ["subscriber", pub.name, ...topics]));
  const exited = children.map((c) => new Promise((r) => c.on("exit", r)));
  await joined; // each subscriber receives what is sent after it attached
  console.log(`publisher: ${pub.subscribers.length} subscribers joined`);

  const thought = (branch: string, text: string): Uint8Array => Buffer.from(JSON.stringify({ branch, text }));
  await pub.send("tot.exploration.branch_A", thought("A", "split the problem by region"));
  await pub.send("tot.exploration.branch_B", thought("B", "solve the small case first"));
  await pub.send("tot.exploration.branch_A", thought("A", "regions overlap: merge them"));
  // A big payload: a loan, filled in place, sent to everyone with no copy.
  const loan = await pub.loan(4 * 1024 * 1024, { timeout: TIMEOUT_MS });
  const embedding = new Float32Array(loan.data.buffer, loan.data.byteOffset, loan.size / 4);
  for (let i = 0; i < embedding.length; i++) embedding[i] = i % 7;
  await pub.send("tot.embedding", loan);
  await pub.send("tot.verdict", thought("A", "branch A wins"));
  pub.close(); // subscribers read everything sent, then their iteration ends
  console.log("publisher: sent 5 messages and closed");
  await Promise.all(exited);
}

async function subscriber(name: string, topics: string[]): Promise<void> {
  const sub = Broadcast.attach(name, { topics });
  const seen: string[] = [];
  // copy: false: a loan is handed out in place (no copy), valid until the next step
  // (the default iterator copies it, so that what it hands out stays valid).
  for await (const m of sub.messages({ copy: false, timeout: TIMEOUT_MS })) seen.push(describe(m));
  console.log(`subscriber [${topics.join(", ")}]: ${seen.join(" | ")}`);
  sub.close();
}

function describe(m: BroadcastMessage): string {
  if (!m.loan) return `${m.topic} ${JSON.parse(Buffer.from(m.data).toString()).text}`;
  // A loan is a view of the publisher's memory: valid until release().
  const v = new Float32Array(m.data.buffer, m.data.byteOffset, m.data.length / 4);
  let sum = 0;
  for (const x of v) sum += x;
  const n = v.length;
  m.release(); // the view reads as empty from here on; the publisher may reuse the memory
  return `${m.topic} ${n} floats (sum ${sum}), read in place`;
}

if (process.argv[2] === "subscriber") void subscriber(process.argv[3]!, process.argv.slice(4));
else void publisher();
